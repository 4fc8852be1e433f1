"""`zjtx match-review import FILE`: good rows recorded and audited, bad rows refused (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.match_decisions import DecisionStore
from tests.service.review_world import GUANGDONG_MENTION, SHENZHEN, publish_review_run, write_data
from zjtx.cli import app


def test_import_records_good_rows_and_refuses_bad_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a published run with two pending mentions, its sheet filled in Excel
    home = tmp_path / "home"
    monkeypatch.setenv("ZJTX_HOME", str(home))
    run = publish_review_run(write_data(tmp_path / "data"), home / "runs")
    sheet = pd.read_excel(run / "match_review.xlsx", dtype=str, keep_default_na=False)
    assert {"candidate_names", "candidate_regions", "decision"} <= set(sheet.columns)
    assert "深圳市华芯微电子有限公司" in sheet["candidate_names"].str.cat()
    sheet["decision"] = [
        SHENZHEN if name == GUANGDONG_MENTION else "91440300MA5F10001Z"
        for name in sheet["raw_name"]
    ]
    filled = tmp_path / "filled.xlsx"
    sheet.to_excel(filled, index=False)
    # when it is imported
    result = CliRunner().invoke(app, ["match-review", "import", str(filled), "--by", "张三"])
    # then the good row is recorded and audited, the bad one refused with its reason
    assert result.exit_code == 2, result.output
    assert "1 decision(s) recorded" in result.output and "unknown code" in result.output
    (decision,) = DecisionStore(home / "matching" / "decisions.sqlite").current().itertuples()
    assert (decision.credit_code, decision.decided_by, decision.channel) == (
        SHENZHEN,
        "张三",
        "import",
    )
    (entry,) = [json.loads(x) for x in (home / "service" / "audit.jsonl").read_text().splitlines()]
    assert entry["event"] == "match_decision" and entry["firm"] == SHENZHEN
    # and importing the same file again finds the row stale
    again = CliRunner().invoke(app, ["match-review", "import", str(filled), "--by", "张三"])
    assert again.exit_code == 2 and "stale: already decided" in again.output
