"""Webhook endpoints: where each provider receives its messages, and how hard
to try.

Endpoints live in a small TOML or JSON file rather than in ``Settings``: a
deployment has a handful of providers, each with its own URL, secret and retry
budget. Secrets may sit in the file or, better, name an environment variable
(``secret_env``) so the file can be committed.

.. code-block:: toml

    [[endpoints]]
    name = "esp"                 # what Outbox.enqueue(endpoint=...) names
    channel = "email"            # email | sms | push
    url = "https://esp.example.com/hooks/shopkeeper"
    secret_env = "ESP_WEBHOOK_SECRET"
    max_attempts = 8             # dead-letter after this many tries
    timeout = 5.0                # seconds per request
    backoff_base = 2.0           # first retry after ~2 s, doubling
    backoff_cap = 3600.0         # never wait more than an hour
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from shopkeeper.errors import ConfigError

__all__ = ["Endpoint", "load_endpoints", "parse_endpoints"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class Endpoint(BaseModel):
    """One provider's webhook; strict, so a typo'd option is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    channel: Literal["email", "sms", "push"]
    url: str
    secret: SecretStr = Field(min_length=16)
    max_attempts: int = Field(8, ge=1, le=50)
    timeout: float = Field(5.0, gt=0, le=60)
    backoff_base: float = Field(2.0, gt=0)
    backoff_cap: float = Field(3600.0, gt=0)
    allow_http: bool = Field(
        False, description="Allow plain http to a non-loopback host (not advised)."
    )

    @model_validator(mode="after")
    def _check_url(self) -> Endpoint:
        try:
            url = httpx.URL(self.url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"endpoint {self.name}: bad url: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"endpoint {self.name}: url must be http(s)://host/...")
        if url.scheme == "http" and url.host not in _LOOPBACK and not self.allow_http:
            raise ValueError(
                f"endpoint {self.name}: plain http sends customer ids in clear; "
                "use https (or allow_http = true for a private network)"
            )
        return self


def _resolve_secret(raw: dict[str, Any], index: int) -> dict[str, Any]:
    entry = dict(raw)
    env = entry.pop("secret_env", None)
    name = entry.get("name", f"#{index + 1}")
    if env is not None and "secret" in entry:
        raise ConfigError(f"endpoint {name}: give secret or secret_env, not both")
    if env is not None:
        value = os.environ.get(str(env))
        if not value:
            raise ConfigError(
                f"endpoint {name}: environment variable {env} is not set",
                hint=f"export {env}=<the shared webhook secret>",
            )
        entry["secret"] = value
    return entry


def parse_endpoints(data: dict[str, Any]) -> dict[str, Endpoint]:
    """Endpoints by name from ``{"endpoints": [{...}, ...]}``.

    Raises:
        ConfigError: naming the endpoint and field; never the secret's value.
    """
    if not isinstance(data, dict) or set(data) != {"endpoints"}:
        raise ConfigError('an endpoints file holds one key, "endpoints", a list')
    raw = data["endpoints"]
    if not isinstance(raw, list):
        raise ConfigError('"endpoints" must be a list of tables')
    found: dict[str, Endpoint] = {}
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ConfigError(f"endpoint #{index + 1} is not a table")
        try:
            endpoint = Endpoint(**_resolve_secret(entry, index))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'url'}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigError(
                f"endpoint {entry.get('name', f'#{index + 1}')}: {problems}"
            ) from None
        if endpoint.name in found:
            raise ConfigError(f"two endpoints are named {endpoint.name!r}")
        found[endpoint.name] = endpoint
    return found


def load_endpoints(path: str | Path) -> dict[str, Endpoint]:
    """Read a ``.toml`` or ``.json`` endpoints file (see the module docstring)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"no endpoints file at {file}")
    try:
        if file.suffix == ".toml":
            data = tomllib.loads(file.read_text())
        elif file.suffix == ".json":
            data = json.loads(file.read_text())
        else:
            raise ConfigError(f"endpoints file {file} must end in .toml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot parse {file}: {exc}") from None
    return parse_endpoints(data)
