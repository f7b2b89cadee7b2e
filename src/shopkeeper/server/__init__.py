"""The HTTP service: one FastAPI app that mounts the routers each stage exposes."""

from __future__ import annotations

from shopkeeper.server.app import create_app

__all__ = ["create_app"]
