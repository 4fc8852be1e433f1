"""`zjtx match` / `zjtx match-eval` command functions, through a Typer app of their own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from zjtx.cli_match import match, match_eval

GUOLIAN = "91450202000000001D"
ZHONGHUAN = "91330102000000004J"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("match")(match)
    app.command("match-eval")(match_eval)
    return app


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "firms.csv").write_text(
        "credit_code,name,established_on,region_code,industry_code,status\n"
        f"{GUOLIAN},柳州国联运输集团有限公司,2010-01-01,450202,G5430,operating\n"
        f"{ZHONGHUAN},杭州中环设备有限公司,2012-05-01,330102,C3499,operating\n",
        encoding="utf-8",
    )
    (tmp_path / "ip_holders.csv").write_text(
        "ip_id,holder_name,holder_rank,holder_credit_code\n"
        "ZL1,国联运输集团（柳州）有限公司,1,\n"
        "ZL2,浙江大学,1,\n"
        "ZL3,杭州中环设备有限公司,1,\n",
        encoding="utf-8",
    )
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "mentions.csv").write_text(
        "source,row,column,credit_code,variant\n"
        f"ip_holders,0,holder_name,{GUOLIAN},region_parenthesized\n"
        "ip_holders,1,holder_name,,nil\n"
        f"ip_holders,2,holder_name,{ZHONGHUAN},exact\n",
        encoding="utf-8",
    )
    return tmp_path


def test_match_writes_links_and_review_queue(
    app: typer.Typer, data_dir: Path, tmp_path: Path
) -> None:
    # given a data directory with two firms and three holder mentions
    out = tmp_path / "out" / "links.parquet"
    # when `match` runs
    result = CliRunner().invoke(app, ["match", "--data", str(data_dir), "--out", str(out)])
    # then it succeeds and writes the links and the review queue beside them
    assert result.exit_code == 0, result.output
    links = pd.read_parquet(out)
    assert links["credit_code"].tolist()[0] == GUOLIAN
    assert links["method"].tolist() == ["normalized", "none", "exact"]
    assert (tmp_path / "out" / "links.review.csv").exists()


def test_match_eval_prints_per_variant_scores(app: typer.Typer, data_dir: Path) -> None:
    # when `match-eval` scores the links against truth/mentions.csv
    result = CliRunner().invoke(app, ["match-eval", "--data", str(data_dir)])
    # then it prints the table with a row per variant and the NIL accuracy
    assert result.exit_code == 0, result.output
    assert "exact" in result.output
    assert "nil" in result.output
    assert "NIL accuracy 1.000" in result.output


def test_bad_input_is_one_line_and_exit_2(app: typer.Typer, tmp_path: Path) -> None:
    # given a directory without a firms table
    result = CliRunner().invoke(app, ["match", "--data", str(tmp_path), "--out", "x.csv"])
    # then the command exits 2 with a reason, not a traceback
    assert result.exit_code == 2
    assert "Traceback" not in result.output
