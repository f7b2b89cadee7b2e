"""`shopkeeper offers` commands through the real root app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shopkeeper.cli import app
from shopkeeper.warehouse import connect

runner = CliRunner()


def test_plan_from_csv_respects_budget_and_consent(tmp_path: Path) -> None:
    # A hand-made case with a known optimum: the budget of 10 buys b + c (10),
    # not a (7); ann has no e-mail consent.
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    (tmp_path / "cands.csv").write_text(
        "customer_id,offer_id,incremental_margin,cost\n"
        "a,mail,7,6\nb,mail,5,5\nc,mail,5,5\nann,mail,50,1\n"
    )
    (tmp_path / "consent.csv").write_text(
        "customer_id,channel\na,email\nb,email\nc,email\n"
    )
    (tmp_path / "channels.csv").write_text("offer_id,channel\nmail,email\n")
    result = runner.invoke(
        app,
        [
            "--warehouse",
            url,
            "offers",
            "plan",
            str(tmp_path / "cands.csv"),
            "--budget",
            "10",
            "--consent",
            str(tmp_path / "consent.csv"),
            "--channels",
            str(tmp_path / "channels.csv"),
            "--out",
            str(tmp_path / "plan.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["expected_incremental_margin"] == 10
    assert summary["excluded_no_consent"] == 1
    assert (tmp_path / "plan.csv").read_text().count("\n") == 3
    # the plan's headline and per-offer totals are kept, with no customer ids
    with connect(url, read_only=True) as wh:
        (head,) = wh.execute(wh.table("offers_plans")).to_dict("records")
        offers = wh.execute(wh.table("offers_plan_offers")).to_dict("records")
    assert head["plan_id"] == summary["plan_id"]
    assert (head["budget"], head["spent"], head["customers"]) == (10, 10, 2)
    assert head["expected_incremental_margin"] == 10 and head["source"] == "cands.csv"
    assert [(o["offer_id"], o["channel"], o["assigned"]) for o in offers] == [
        ("mail", "email", 2)
    ]
    assert offers[0]["cost"] == 10 and offers[0]["expected_incremental_margin"] == 10
    # --no-save leaves the warehouse as it was
    again = runner.invoke(
        app,
        ["--warehouse", url, "offers", "plan", str(tmp_path / "cands.csv")]
        + ["--budget", "6", "--cap", "mail=1", "--no-save", "--json"],
    )
    assert again.exit_code == 0, again.output
    assert "plan_id" not in json.loads(again.output)
    with connect(url, read_only=True) as wh:
        assert wh.execute(wh.table("offers_plans").count()) == 1


def test_evaluate_uplift_prints_learners_and_policies_and_keeps_the_run(
    tmp_path: Path,
) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    result = runner.invoke(
        app,
        [
            "--warehouse",
            url,
            "offers",
            "evaluate-uplift",
            "--outcome",
            "visit",
            "--learners",
            "t_learner,s_learner",
            "--n-boot",
            "10",
            "--folds",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {r["learner"] for r in data["learners"]} == {"t_learner", "s_learner"}
    assert sum(r["chosen"] for r in data["learners"]) == 1
    by_policy = {p["policy"]: p["value"] for p in data["policies"]}
    # Everyone-Mens is the Mens arm's visit rate on the test half (about 0.18).
    assert 0.17 < by_policy["everyone: Mens E-Mail"] < 0.19
    assert data["n_test"] + data["n_train"] == 64_000
    # Visits: the e-mails are closest among customers without men's purchases.
    closest = data["closest_segments"][0]
    assert (closest["segment"], closest["rival"]) == ("mens = 0", "Womens E-Mail")
    assert closest["all"]["value"] < closest["all"]["stderr"]
    with connect(url, read_only=True) as wh:
        runs = wh.execute(wh.table("offers_uplift_runs"))
        assert set(runs.run_id) == {data["run_id"]}
        by_learner = runs.set_index("learner")
        for r in data["learners"]:
            assert by_learner.loc[r["learner"], "qini"] == r["qini"]["value"]
            assert by_learner.loc[r["learner"], "auuc_high"] == r["auuc"]["ci_high"]
        # 2 learners x 2 offers x (Qini, uplift) curves of 101 points each
        assert wh.count("offers_uplift_curves") == 2 * 2 * 2 * 101
        assert wh.count("offers_policy_values") == len(data["policies"])


def test_evaluate_uplift_on_a_sample_without_keeping_it(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    result = runner.invoke(
        app,
        [
            "--warehouse",
            url,
            "offers",
            "evaluate-uplift",
            "--outcome",
            "conversion",
            "--learners",
            "t_learner",
            "--n-boot",
            "5",
            "--folds",
            "2",
            "--sample",
            "0.05",
            "--no-save",
            "--splits",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["run_id"] is None
    # a 5% hashed sample of 64,000 rows
    assert 2_900 < data["n_test"] + data["n_train"] < 3_500
    assert not (tmp_path / "wh.duckdb").exists()
    # The protocol again on splits 0 and 1 of the same sample: split 0 is
    # the run above, so its Qini is the one reported there.
    repeated = data["repeated_splits"]
    assert [s["salt"] for s in repeated["per_split"]] == [0, 1]
    (headline,) = data["learners"]
    assert repeated["per_split"][0]["qini"]["t_learner"] == headline["qini"]["value"]
    assert repeated["learners"][0]["chosen_in"] == 2


def test_evaluate_uplift_prints_where_the_arms_are_closest() -> None:
    result = runner.invoke(
        app,
        [
            "offers",
            "evaluate-uplift",
            "--learners",
            "t_learner",
            "--n-boot",
            "5",
            "--folds",
            "2",
            "--sample",
            "0.05",
            "--no-save",
        ],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "spend: where another arm comes closest to the best one" in result.output
    assert "train half" in result.output and "all rows" in result.output


def test_bad_outcome_is_a_clear_error() -> None:
    result = runner.invoke(app, ["offers", "evaluate-uplift", "--outcome", "revenue"])
    assert result.exit_code != 0
    result = runner.invoke(app, ["offers", "evaluate-uplift", "--splits", "-1"])
    assert result.exit_code != 0
    assert "--splits must be 0 or more" in str(result.exception)
