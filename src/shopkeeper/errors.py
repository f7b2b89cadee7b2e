"""The one error tree every part of Shopkeeper raises from.

::

    ShopkeeperError (500, "error")
    ├── BadRequest (400, "bad_request")
    ├── InvalidInput (422, "invalid_input")
    │   └── ImportRefused (422, "import_refused")
    ├── Unauthorized (401, "unauthorized")
    ├── Forbidden (403, "forbidden")
    ├── NotFound (404, "not_found")
    ├── Conflict (409, "conflict")
    ├── TooLarge (413, "too_large")
    ├── Unavailable (503, "unavailable"; carries retry_after seconds)
    ├── EngineError (500, "engine_error")
    ├── MissingDependency (500, "missing_dependency")
    └── ConfigError (500, "config_error")

Every class carries an HTTP ``status`` and a stable ``code`` so the API and the
CLI report the same failure the same way. Messages never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "ConfigError",
    "Conflict",
    "EngineError",
    "Forbidden",
    "ImportRefused",
    "InvalidInput",
    "MissingDependency",
    "NotFound",
    "ShopkeeperError",
    "TooLarge",
    "Unauthorized",
    "Unavailable",
]


class ShopkeeperError(Exception):
    """Root of the tree; ``hint`` tells a person what to do next."""

    status = 500
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadRequest(ShopkeeperError):
    """The request itself is malformed (bad JSON, a missing field).

    The Segment SDKs treat 400 as final and drop the message, so it must only
    be used for input that a retry could never fix.
    """

    status = 400
    code = "bad_request"


class InvalidInput(ShopkeeperError):
    status = 422
    code = "invalid_input"


class ImportRefused(InvalidInput):
    """A file or data set failed validation; nothing of it was written.

    ``problems`` lists each finding as ``file:line: reason`` so a person can fix
    them all in one pass instead of one per run.
    """

    code = "import_refused"

    def __init__(self, source: str, problems: list[str], *, hint: str | None = None):
        shown = problems[:10]
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        message = (
            f"import of {source} refused, nothing was written: "
            + "; ".join(shown)
            + more
        )
        super().__init__(message, hint=hint)
        self.source = source
        self.problems = problems


class Unauthorized(ShopkeeperError):
    status = 401
    code = "unauthorized"


class Forbidden(ShopkeeperError):
    status = 403
    code = "forbidden"


class NotFound(ShopkeeperError):
    status = 404
    code = "not_found"


class Conflict(ShopkeeperError):
    status = 409
    code = "conflict"


class TooLarge(ShopkeeperError):
    status = 413
    code = "too_large"


class Unavailable(ShopkeeperError):
    """Temporarily unable to accept work; the client should retry later.

    SDKs retry a 503 with back-off, so overload and a full disk use this
    rather than a 500, and ``retry_after`` becomes the Retry-After header.
    """

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message, hint=f"retry after {retry_after} s")
        self.retry_after = retry_after


class EngineError(ShopkeeperError):
    """The engine refused a statement; says which table and which SQL."""

    code = "engine_error"

    def __init__(self, table: str, sql: str | None, cause: BaseException) -> None:
        first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        message = (
            f"engine error on table {table!r}: {type(cause).__name__}: {first_line}"
        )
        super().__init__(message, hint="run with --debug to see the compiled SQL")
        self.table = table
        self.sql = sql
        self.__cause__ = cause

    def __str__(self) -> str:
        if self.sql:
            return f"{self.message}\n-- compiled SQL --\n{self.sql}"
        return self.message


class MissingDependency(ShopkeeperError):
    code = "missing_dependency"

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} is not installed",
            hint=f"install it with: pip install 'shopkeeper[{extra}]'",
        )
        self.extra = extra


class ConfigError(ShopkeeperError):
    code = "config_error"
