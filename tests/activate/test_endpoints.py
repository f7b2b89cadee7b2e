"""Endpoint files and signatures: what an operator and a receiver rely on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shopkeeper.activate import load_endpoints, sign, verify
from shopkeeper.errors import ConfigError, Unauthorized

TOML = """
[[endpoints]]
name = "esp"
channel = "email"
url = "https://esp.example.com/hooks/shopkeeper"
secret_env = "TEST_ESP_SECRET"
max_attempts = 5

[[endpoints]]
name = "app"
channel = "push"
url = "http://127.0.0.1:9000/push"
secret = "whsec_local_0123456789"
"""


def test_a_toml_file_with_a_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "endpoints.toml"
    file.write_text(TOML)
    monkeypatch.setenv("TEST_ESP_SECRET", "whsec_from_env_0123456789")
    endpoints = load_endpoints(file)
    assert list(endpoints) == ["esp", "app"]
    assert endpoints["esp"].secret.get_secret_value() == "whsec_from_env_0123456789"
    assert endpoints["esp"].max_attempts == 5 and endpoints["app"].max_attempts == 8
    assert "whsec" not in repr(endpoints["esp"])  # a secret never prints

    monkeypatch.delenv("TEST_ESP_SECRET")
    with pytest.raises(ConfigError, match="TEST_ESP_SECRET is not set"):
        load_endpoints(file)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"url": "http://esp.example.com/h"}, "plain http"),
        ({"channel": "fax"}, "channel"),
        ({"retries": 3}, "retries: Extra inputs"),
        ({"secret": "short"}, "secret"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_bad_endpoints_are_refused_by_name(
    tmp_path: Path, entry: dict[str, object], problem: str
) -> None:
    good = {
        "name": "esp",
        "channel": "email",
        "url": "https://esp.example.com/h",
        "secret": "whsec_0123456789abcdef",
    }
    file = tmp_path / "endpoints.json"
    file.write_text(json.dumps({"endpoints": [good | entry]}))
    with pytest.raises(ConfigError, match=problem) as refused:
        load_endpoints(file)
    assert refused.value.message.startswith("endpoint esp: ")
    assert "whsec" not in refused.value.message


def test_verify_accepts_only_fresh_untampered_signatures() -> None:
    body = b'{"id":"k1"}'
    now = time.time()
    header = sign("s3cret-s3cret-s3cret", body)
    assert abs(verify("s3cret-s3cret-s3cret", header, body) - now) <= 1
    with pytest.raises(Unauthorized, match="no signature matches"):
        verify("s3cret-s3cret-s3cret", header, body + b" ")
    with pytest.raises(Unauthorized, match="no signature matches"):
        verify("another-secret-value", header, body)
    with pytest.raises(Unauthorized, match="at most 300 s"):
        verify("s3cret-s3cret-s3cret", header, body, now=now + 301)
    with pytest.raises(Unauthorized, match="missing"):
        verify("s3cret-s3cret-s3cret", None, body)
    # During a secret rotation the sender may sign with both secrets.
    old = sign("old-secret-old-secret", body, timestamp=int(now))
    new = sign("s3cret-s3cret-s3cret", body, timestamp=int(now))
    both = old + "," + new.split(",")[1]
    assert verify("s3cret-s3cret-s3cret", both, body) == int(now)
