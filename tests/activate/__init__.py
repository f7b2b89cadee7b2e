"""Tests of the activate stage: outbox, webhooks, POS files, staff lists."""
