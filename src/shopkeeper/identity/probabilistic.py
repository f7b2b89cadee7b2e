"""Probabilistic matching of person records that share no identifier (Splink).

A paper loyalty form and an online account can describe the same person with
no card number, e-mail or phone in common, and with typos in what they do
share. Deterministic links cannot join them; a Fellegi-Sunter model can. This
module wraps Splink so the identity stage can ask one question, "which of
these records are the same person, and how sure are we?", and get back pairs
with a match probability:

* u (how often two *different* people agree by chance) is estimated from a
  seeded random sample of record pairs, so the model is reproducible;
* m (how often the *same* person agrees) is estimated by expectation
  maximisation on a few blocking rules, without labels;
* the probability that two random records match (lambda) is estimated from
  the records that agree on several fields at once, again without labels;
* prediction compares only the pairs that some blocking rule lets through,
  then keeps those at or above ``threshold``, optionally one-to-one.

Splink runs the SQL on DuckDB (an in-memory database of its own, so none of
its ``__splink__`` tables land in the warehouse file) or on the Spark session
the warehouse already owns. ``matches_to_links`` turns the pairs into link
rows (``rule='probabilistic'``) that the identity graph unions with its
deterministic links.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shopkeeper.errors import InvalidInput, MissingDependency

__all__ = [
    "MATCH_SCHEMA",
    "LINK_SCHEMA",
    "PERSON_FIELDS",
    "PersonField",
    "matches_to_links",
    "match_records",
    "person_settings",
]

log = logging.getLogger(__name__)

Records = pa.Table | pd.DataFrame
Engine = Literal["duckdb", "spark"]

MATCH_SCHEMA = pa.schema(
    [
        ("record_id_l", pa.string()),
        ("record_id_r", pa.string()),
        ("match_probability", pa.float64()),
        ("match_weight", pa.float64()),
    ]
)
"""Columns of ``match_records``'s answer: one row per matched pair."""

LINK_SCHEMA = pa.schema(
    [
        ("identifier_a", pa.string()),
        ("identifier_b", pa.string()),
        ("rule", pa.string()),
        ("evidence_table", pa.string()),
        ("evidence_id", pa.string()),
        ("seen_at", pa.timestamp("us", tz="UTC")),
        ("probability", pa.float64()),
    ]
)
"""Columns of ``matches_to_links``'s answer: one undirected edge per row.

The first six are the identity graph's link evidence columns (see
``model.IDENTITY_LINKS``); ``probability`` is what only this rule has.
"""

RULE = "probabilistic"
SEED = 20240611
"""Seed for u sampling: the same records always give the same model."""


@dataclass(frozen=True)
class PersonField:
    """One column of a person record and how two values of it are compared.

    ``kind`` picks the comparison: ``name`` (Jaro-Winkler bands), ``date``
    (ISO strings: exact, one typo, within a month/year/ten years),
    ``code`` (identifiers and phone numbers: exact or one or two edits),
    ``text`` (free address text: Jaro-Winkler bands) and ``exact``.
    ``term_frequency`` makes agreeing on a common value ("smith", "2000") count
    for less than agreeing on a rare one.
    """

    name: str
    kind: Literal["name", "date", "code", "text", "exact"]
    term_frequency: bool
    doc: str


PERSON_FIELDS: tuple[PersonField, ...] = (
    PersonField("given_name", "name", True, "first name as written"),
    PersonField("surname", "name", True, "family name as written"),
    PersonField("date_of_birth", "date", False, "a date, or YYYYMMDD / YYYY-MM-DD"),
    PersonField("soc_sec_id", "code", False, "a national or member id number"),
    PersonField("phone", "code", False, "phone number, digits only"),
    PersonField("email", "exact", False, "e-mail (or its sha256)"),
    PersonField("street_number", "exact", True, "house number"),
    PersonField("address_1", "text", False, "street"),
    PersonField("address_2", "text", False, "building, unit or locality"),
    PersonField("suburb", "text", True, "suburb or town"),
    PersonField("postcode", "code", True, "postcode"),
    PersonField("state", "exact", True, "state or region"),
)
"""The person-record columns ``match_records`` understands.

Inputs need ``record_id`` (or the ``id_column`` given) and any two or more of
these; columns it does not know are ignored, missing ones are not compared.
Values are compared as lower-cased, trimmed strings; empty means unknown.
"""

# Blocking rules, as column groups: a pair is compared when it agrees exactly
# on every column of some group. Prediction is generous (recall is lost for
# good at this step); EM training uses rules that leave other fields free.
_PREDICT_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("given_name", "surname"),
    ("surname", "date_of_birth"),
    ("given_name", "date_of_birth"),
    ("soc_sec_id",),
    ("phone",),
    ("email",),
    ("postcode", "street_number"),
    ("postcode", "surname"),
    ("postcode", "given_name"),
    ("street_number", "surname"),
    ("suburb", "date_of_birth"),
    ("address_1", "street_number"),
    ("address_1", "suburb"),
)
_TRAINING_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("date_of_birth",),
    ("given_name", "surname"),
    ("postcode", "street_number"),
)
# Pairs that agree on all of a group are (almost) surely the same person; how
# many there are gives lambda, the chance that two random records match.
_DETERMINISTIC_BLOCKS: tuple[tuple[str, ...], ...] = (
    ("given_name", "surname", "date_of_birth"),
    ("soc_sec_id", "date_of_birth"),
    ("phone", "surname"),
)
_DETERMINISTIC_RECALL = 0.7
"""Share of true matches the deterministic groups are assumed to catch.

With typos in many records, agreeing exactly on three fields finds most but
not all matches; 0.7 is Splink's usual starting point. Lambda adds the same
amount to every match weight, so a poor guess moves pairs across the threshold
but never reorders them; on FEBRL4 every threshold from 0.01 to 0.9 keeps the
same pairs.
"""


def _comparison(field: PersonField) -> Any:
    import splink.comparison_library as cl

    if field.kind == "name":
        comparison = cl.NameComparison(field.name)
    elif field.kind == "date":
        comparison = cl.DateOfBirthComparison(
            field.name,
            input_is_string=True,
            invalid_dates_as_null=True,
        )
    elif field.kind == "code":
        comparison = cl.DamerauLevenshteinAtThresholds(field.name, [1, 2])
    elif field.kind == "text":
        comparison = cl.JaroWinklerAtThresholds(field.name, [0.9, 0.7])
    else:
        comparison = cl.ExactMatch(field.name)
    if field.term_frequency:
        comparison = comparison.configure(term_frequency_adjustments=True)
    return comparison


def _present(groups: Sequence[tuple[str, ...]], columns: set[str]) -> list[Any]:
    from splink import block_on

    return [block_on(*g) for g in groups if set(g) <= columns]


def person_settings(
    columns: Sequence[str],
    *,
    link_type: Literal["link_only", "dedupe_only"],
) -> Any:
    """The Splink ``SettingsCreator`` for records with these ``columns``.

    Only fields of ``PERSON_FIELDS`` present in ``columns`` are compared or
    blocked on, so the same model serves FEBRL (with a social security id)
    and loyalty forms (with a phone number).
    """
    from splink import SettingsCreator

    known = {f.name for f in PERSON_FIELDS} & set(columns)
    fields = [f for f in PERSON_FIELDS if f.name in known]
    if len(fields) < 2:
        raise InvalidInput(
            f"probabilistic matching needs at least two of "
            f"{[f.name for f in PERSON_FIELDS]}; got {sorted(columns)}"
        )
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_id",
        comparisons=[_comparison(f) for f in fields],
        blocking_rules_to_generate_predictions=_present(_PREDICT_BLOCKS, known),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _prepare(records: Records, id_column: str) -> pa.Table:
    """Keep the id and known fields as trimmed, lower-case strings; '' -> null."""
    table = (
        pa.Table.from_pandas(records, preserve_index=False)
        if isinstance(records, pd.DataFrame)
        else records
    )
    if id_column not in table.column_names:
        raise InvalidInput(f"records need an id column {id_column!r}")
    ids = table[id_column].cast(pa.string())
    if pc.count(ids).as_py() != len(ids) or len(pc.unique(ids)) != len(ids):
        raise InvalidInput(f"{id_column!r} must be unique and not null")
    columns: dict[str, pa.Array | pa.ChunkedArray] = {"record_id": ids}
    for field in PERSON_FIELDS:
        if field.name not in table.column_names:
            continue
        column = table[field.name]
        if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
            column = pc.strftime(column, format="%Y-%m-%d")
        text = pc.utf8_lower(pc.utf8_trim_whitespace(column.cast(pa.string())))
        if field.kind == "date":
            text = _iso_date(text)
        columns[field.name] = pc.if_else(pc.equal(text, ""), None, text)
    return pa.table(columns)


def _iso_date(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """``YYYYMMDD`` -> ``YYYY-MM-DD``, the one format every engine parses.

    Date format strings differ by engine (``%Y%m%d`` vs ``yyyyMMdd``), so the
    comparison uses each engine's default ISO format and the input is moved
    to it here. Anything else is left as written: an unparseable date still
    counts for exact and one-typo agreement and is unknown for date distance.
    """
    compact = pc.match_substring_regex(text, r"^\d{8}$")
    iso = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(text, 0, 4),
        pc.utf8_slice_codeunits(text, 4, 6),
        pc.utf8_slice_codeunits(text, 6, 8),
        "-",
    )
    return pc.if_else(compact, iso, text)


def _db_api(engine: Engine, spark: Any) -> Any:
    if engine == "duckdb":
        from splink import DuckDBAPI

        return DuckDBAPI()
    if engine == "spark":
        if spark is None:
            raise InvalidInput("engine='spark' needs the SparkSession as spark=")
        try:
            from splink import SparkAPI
        except ImportError:  # pragma: no cover - depends on the install
            raise MissingDependency("PySpark", "spark") from None
        from splink.internals.spark.jar_location import similarity_jar_location

        # Spark SQL has no Jaro-Winkler; Splink ships it as a Scala UDF jar.
        # ADD JAR loads it into a running session, so the warehouse's session
        # needs no Splink-specific configuration when it is built.
        spark.sql(f"ADD JAR '{similarity_jar_location()}'")
        return SparkAPI(spark_session=spark, break_lineage_method="persist")
    raise InvalidInput(f"engine must be 'duckdb' or 'spark', not {engine!r}")


def _train(linker: Any, columns: set[str], *, u_pairs: float) -> None:
    deterministic = _present(_DETERMINISTIC_BLOCKS, columns)
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(
            deterministic, recall=_DETERMINISTIC_RECALL
        )
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=SEED)
    for rule in _present(_TRAINING_BLOCKS, columns):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )


def match_records(
    records: Records,
    other: Records | None = None,
    *,
    threshold: float = 0.9,
    one_to_one: bool = False,
    id_column: str = "record_id",
    engine: Engine = "duckdb",
    spark: Any = None,
    u_pairs: float = 2e6,
    progress: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> pa.Table:
    """Pairs of person records that are probably the same person.

    Args:
        records: Person records, one row each, with ``id_column`` and two or
            more of ``PERSON_FIELDS``.
        other: A second set of records to link ``records`` to (``link_only``:
            pairs always have one record from each side, ``record_id_l`` from
            ``records``). Without it, ``records`` is deduplicated.
        threshold: Smallest ``match_probability`` kept. Fellegi-Sunter
            probabilities are sharply bimodal, so anything from 0.5 to 0.99
            keeps nearly the same pairs.
        one_to_one: When each side holds at most one record per person (two
            clean customer tables), keep for each record only its mutually best
            match, so a typo-twin cannot take a second partner. Link only.
        id_column: Column holding each record's unique id.
        engine: ``duckdb`` (in-process, in memory) or ``spark``.
        spark: The SparkSession, for ``engine='spark'``.
        u_pairs: How many random pairs estimate u; more is steadier, slower.
        progress: Called with a short message before each step.
        verbose: Let Splink log its training steps and warnings as configured
            by the application; by default they are held back for the call.

    Returns:
        A table with ``MATCH_SCHEMA``, sorted by the ids. The same input gives
        the same pairs, because every sample is seeded; weights agree to the
        last bits only, as the engine sums in parallel in no fixed order. Its
        schema metadata holds ``pairs_compared`` (how many pairs the blocking
        rules let through and the model scored) and the ``threshold``.
    """
    from splink import Linker

    if one_to_one and other is None:
        raise InvalidInput("one_to_one needs two sets of records (other=...)")
    step = progress or (lambda message: log.info(message))
    tables = [_prepare(records, id_column)]
    if other is not None:
        tables.append(_prepare(other, id_column))
    columns = set.intersection(*(set(t.column_names) for t in tables))
    tables = [t.select([c for c in t.column_names if c in columns]) for t in tables]
    link_type: Literal["link_only", "dedupe_only"] = (
        "dedupe_only" if other is None else "link_only"
    )
    settings = person_settings(sorted(columns), link_type=link_type)
    with _splink_logging(verbose):
        db_api = _db_api(engine, spark)
        names = ["records", "other"][: len(tables)]
        frames = [
            db_api.register(
                t if engine == "duckdb" else t.to_pandas(), dataset_display_name=name
            )
            for t, name in zip(tables, names, strict=True)
        ]
        # log_level=None: Splink leaves logging configuration to the application.
        linker = Linker(
            frames if other is not None else frames[0], settings, log_level=None
        )
        step("probabilistic: training (u by sampling, m by EM)")
        _train(linker, columns, u_pairs=u_pairs)
        step("probabilistic: scoring blocked pairs")
        # Levels never seen in training (rare on small inputs) keep Splink's
        # defaults; that is expected, so no warning about it.
        scored = linker.inference.predict(warning_mode="never")
        compared = _count(linker, scored)
        kept = linker.misc.query_sql(
            f"select * from {scored.physical_name} "
            f"where match_probability >= {float(threshold)!r}",
            output_type="splink_df",
        )
        if one_to_one:
            step("probabilistic: keeping mutual best links")
            kept = _mutual_best(linker, kept, names, threshold)
        pairs = kept.as_pyarrow_table()
    log.info(
        "probabilistic: %d of %d compared pairs at or above %s",
        pairs.num_rows,
        compared,
        threshold,
    )
    return _answer(pairs, pairs_compared=compared, threshold=threshold)


@contextmanager
def _splink_logging(verbose: bool) -> Iterator[None]:
    """Hold Splink's logger at ERROR for one call unless ``verbose``.

    Splink reports every training step at INFO and every comparison level a
    small input cannot train at WARNING; in a build those are noise, and our
    own log line says what matters. The level is restored afterwards.
    """
    splink_log = logging.getLogger("splink")
    before = splink_log.level
    if not verbose:
        splink_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        splink_log.setLevel(before)


def _count(linker: Any, scored: Any) -> int:
    counted = linker.misc.query_sql(
        f"select count(*) as n from {scored.physical_name}", output_type="pandas"
    )
    return int(counted["n"].iloc[0])


def _mutual_best(linker: Any, scored: Any, names: list[str], threshold: float) -> Any:
    """Keep only pairs in a cluster of at most one record per side."""
    clusters = linker.clustering.cluster_using_single_best_links(
        scored,
        duplicate_free_datasets=names,
        threshold_match_probability=threshold,
    )
    sql = f"""
        select p.*
        from {scored.physical_name} as p
        join {clusters.physical_name} as l
          on p.record_id_l = l.record_id and p.source_dataset_l = l.source_dataset
        join {clusters.physical_name} as r
          on p.record_id_r = r.record_id and p.source_dataset_r = r.source_dataset
        where l.cluster_id = r.cluster_id
    """
    return linker.misc.query_sql(sql, output_type="splink_df")


def _answer(pairs: pa.Table, *, pairs_compared: int, threshold: float) -> pa.Table:
    left, right = pairs["record_id_l"], pairs["record_id_r"]
    if "source_dataset_l" in pairs.column_names:
        # Splink puts the lower source name on the left; keep records' ids left.
        swap = pc.equal(pairs["source_dataset_l"], "other")
        left, right = pc.if_else(swap, right, left), pc.if_else(swap, left, right)
    answer = pa.table(
        {
            "record_id_l": left.cast(pa.string()),
            "record_id_r": right.cast(pa.string()),
            "match_probability": pairs["match_probability"].cast(pa.float64()),
            "match_weight": pairs["match_weight"].cast(pa.float64()),
        },
        schema=MATCH_SCHEMA.with_metadata(
            {"pairs_compared": str(pairs_compared), "threshold": repr(threshold)}
        ),
    )
    return answer.sort_by([("record_id_l", "ascending"), ("record_id_r", "ascending")])


def matches_to_links(
    matches: pa.Table,
    *,
    prefix_l: str = "",
    prefix_r: str = "",
    evidence_table: str = "probabilistic_match",
    seen_at: datetime | None = None,
) -> pa.Table:
    """Matched pairs as identity-graph links with ``LINK_SCHEMA``.

    ``prefix_l`` and ``prefix_r`` turn record ids into typed identifiers
    (``"loyalty:"``, ``"user:"``). Each edge is written once with the smaller
    identifier as ``identifier_a``, with ``rule='probabilistic'`` and the
    pair itself (``"<id_l>|<id_r>"``) as evidence from ``evidence_table``, so
    the graph can union these rows with its deterministic links, apply the
    same guards, and still tell a model's guess from a login.
    """
    a = pc.binary_join_element_wise(prefix_l, matches["record_id_l"], "")
    b = pc.binary_join_element_wise(prefix_r, matches["record_id_r"], "")
    first = pc.less_equal(a, b)
    rows = matches.num_rows
    links = pa.table(
        {
            "identifier_a": pc.if_else(first, a, b),
            "identifier_b": pc.if_else(first, b, a),
            "rule": pa.array([RULE] * rows, pa.string()),
            "evidence_table": pa.array([evidence_table] * rows, pa.string()),
            "evidence_id": pc.binary_join_element_wise(
                matches["record_id_l"], matches["record_id_r"], "|"
            ),
            "seen_at": pa.array([seen_at] * rows, pa.timestamp("us", tz="UTC")),
            "probability": matches["match_probability"],
        },
        schema=LINK_SCHEMA,
    )
    return links.sort_by([("identifier_a", "ascending"), ("identifier_b", "ascending")])
