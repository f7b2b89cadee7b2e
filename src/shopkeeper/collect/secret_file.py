"""A secret kept in a file of its own: created once, readable by the owner only.

The suppression salt and the preference-link key both live in the state
directory. Several server processes may ask for the secret at the same time,
so it is written to a temporary file, flushed, then linked into place: a
reader sees either no file or the whole secret, and the first writer wins.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["secret_file"]


def secret_file(path: Path, *, size: int = 32) -> bytes:
    """The secret in ``path``, created with ``size`` random bytes if missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(size))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process created it first; theirs wins
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes()
