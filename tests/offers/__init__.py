"""Tests for shopkeeper.offers."""
