"""Completeness and layout rules that review would miss."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import shopkeeper
from shopkeeper.settings import Settings

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "shopkeeper"


def test_no_module_over_800_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 800
    }
    assert long == {}


def test_every_module_has_a_docstring_and_packages_declare_all() -> None:
    for info in pkgutil.walk_packages(shopkeeper.__path__, "shopkeeper."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        assert module.__doc__, f"{info.name} has no docstring"
        if info.ispkg:
            assert hasattr(module, "__all__"), f"{info.name} has no __all__"
            for name in module.__all__:
                assert hasattr(module, name), f"{info.name}.__all__ lists {name}"


def test_every_setting_is_documented() -> None:
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"SHOPKEEPER_{name.upper()}" in docs, name


def test_readme_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert "shopkeeper quickstart" in blocks[0]
    assert "pytest" in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pytest" in ci


def test_import_docs_list_every_csv_column() -> None:
    from shopkeeper.collect.csvfile import COLUMNS_DOC

    docs = (ROOT / "docs" / "import.md").read_text()
    assert COLUMNS_DOC.rstrip() in docs, "regenerate docs/import.md from COLUMNS_DOC"
