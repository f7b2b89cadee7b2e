"""Tests for the decide stage."""
