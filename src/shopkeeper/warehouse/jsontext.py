"""Reading a field out of a JSON text column, the same way on every engine.

Event properties, traits and context are stored as JSON text (every engine can
hold it). Engines render extracted JSON differently (DuckDB keeps a string's
quotes, Spark's get_json_object drops them), so the quotes are trimmed here:
one rule, the same answer on both.
"""

from __future__ import annotations

import ibis.expr.types as ir

__all__ = ["json_text"]


def json_text(column: ir.StringValue, *path: str) -> ir.StringValue:
    """The text at ``path`` in a JSON text column, NULL where absent."""
    value = column.cast("json")
    for key in path:
        value = value[key]
    return value.cast("string").re_replace(r'^"(.*)"$', r"\1")
