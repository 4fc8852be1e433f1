"""`zjtx match-review import FILE` and `undo`: good rows recorded and audited, bad rows refused
(exit 2); scoped to a province or the ministry; hostile files refused in one line."""

from __future__ import annotations

import getpass
import json
import os
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from features.match_decisions import DecisionStore, load_decisions
from tests.service.review_world import (
    BEIJING,
    GUANGDONG_MENTION,
    MINISTRY_MENTION,
    REVIEW_RUN,
    SHENZHEN,
    publish_review_run,
    write_data,
)
from zjtx.cli import app


@dataclass(frozen=True)
class Imported:
    home: Path
    run: Path
    sheet: pd.DataFrame  # the run's review sheet, decision empty

    @property
    def store(self) -> DecisionStore:
        return DecisionStore(self.home / "matching" / "decisions.sqlite")

    @property
    def audit(self) -> Path:
        return self.home / "service" / "audit.jsonl"

    def audit_lines(self) -> list[dict[str, object]]:
        if not self.audit.is_file():
            return []
        return [json.loads(x) for x in self.audit.read_text().splitlines()]

    def key_of(self, name: str) -> str:
        return str(self.sheet.loc[self.sheet["raw_name"] == name, "mention_key"].iloc[0])

    def filled(self, path: Path, answers: dict[str, str], encoding: str = "utf-8") -> Path:
        sheet = self.sheet.assign(decision=self.sheet["raw_name"].map(answers).fillna(""))
        if path.suffix == ".xlsx":
            sheet.to_excel(path, index=False)
        else:
            sheet.to_csv(path, index=False, encoding=encoding)
        return path


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Imported:
    """A published run with two pending mentions: one Guangdong's (44), one the ministry's."""
    home = tmp_path / "home"
    monkeypatch.setenv("ZJTX_HOME", str(home))
    run = publish_review_run(write_data(tmp_path / "data"), home / "runs")
    sheet = pd.read_excel(run / "match_review.xlsx", dtype=str, keep_default_na=False)
    return Imported(home, run, sheet)


def _import(file: Path, *options: str) -> Result:
    return CliRunner().invoke(app, ["match-review", "import", str(file), *options])


def _one_line_failure(result: Result) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len([x for x in result.output.splitlines() if x.strip()]) == 1, result.output


def test_import_records_good_rows_and_refuses_bad_ones(tmp_path: Path, world: Imported) -> None:
    # given the run's sheet filled in Excel, one row with an unknown code
    assert {"candidate_names", "candidate_regions", "decision"} <= set(world.sheet.columns)
    assert "深圳市华芯微电子有限公司" in world.sheet["candidate_names"].str.cat()
    filled = world.filled(
        tmp_path / "filled.xlsx",
        {GUANGDONG_MENTION: SHENZHEN, MINISTRY_MENTION: "91440300MA5F10001Z"},
    )
    # when the ministry imports it
    result = _import(filled, "--by", "张三", "--ministry")
    # then the good row is recorded and audited, the bad one refused with its reason
    assert result.exit_code == 2, result.output
    assert "1 decision(s) recorded" in result.output and "unknown code" in result.output
    (decision,) = world.store.current().itertuples()
    assert (decision.credit_code, decision.decided_by, decision.channel) == (
        SHENZHEN,
        "张三",
        "import",
    )
    (entry,) = world.audit_lines()
    assert entry["event"] == "match_decision" and entry["firm"] == SHENZHEN
    # and importing the same file again finds the row stale
    again = _import(filled, "--by", "张三", "--ministry")
    assert again.exit_code == 2 and "stale: already decided" in again.output


def test_scoped_import_refuses_other_provinces_rows_one_by_one(
    tmp_path: Path, world: Imported
) -> None:
    # given a national sheet: a Guangdong mention and a ministry one, both filled
    filled = world.filled(
        tmp_path / "filled.xlsx", {GUANGDONG_MENTION: SHENZHEN, MINISTRY_MENTION: BEIJING}
    )
    # when Guangdong imports it
    result = _import(filled, "--by", "李四", "--province", "44")
    # then its own row is recorded, with OS user, role, province and run
    assert result.exit_code == 2, result.output
    assert "1 decision(s) recorded" in result.output and "out of scope" in result.output
    (row,) = world.store.current().to_dict(orient="records")
    assert (row["mention_key"], row["credit_code"]) == (world.key_of(GUANGDONG_MENTION), SHENZHEN)
    assert (row["decider_id"], row["role"], row["province"], row["run_id"]) == (
        getpass.getuser(),
        "offline",
        "44",
        REVIEW_RUN,
    )
    # and the ministry's row is refused and not recorded
    assert world.key_of(MINISTRY_MENTION) not in set(world.store.history()["mention_key"])


def test_import_needs_a_scope_and_a_name(tmp_path: Path, world: Imported) -> None:
    filled = world.filled(tmp_path / "filled.csv", {GUANGDONG_MENTION: SHENZHEN})
    for options in (
        ["--by", "", "--province", "44"],
        ["--by", "  ", "--ministry"],
        ["--by", "李四"],
        ["--by", "李四", "--province", "44", "--ministry"],
        ["--by", "李四", "--province", "广东"],
    ):
        _one_line_failure(_import(filled, *options))
    assert not world.store.path.exists() or world.store.history().empty


def test_import_refuses_a_run_outside_the_runs_directory(tmp_path: Path, world: Imported) -> None:
    # given a hand-made "run" outside the runs directory, and a link to it inside
    forged = tmp_path / "forged"
    forged.mkdir()
    (forged / "manifest.json").write_text("{}")
    forged_sheet = world.sheet.assign(candidate_codes=BEIJING, candidate_regions="440305")
    forged_sheet.to_csv(forged / "match_review.csv", index=False)
    os.symlink(forged, world.home / "runs" / "elsewhere")
    unpublished = world.home / "runs" / "20260701-half"
    unpublished.mkdir()
    world.sheet.to_csv(unpublished / "match_review.csv", index=False)
    filled = world.filled(tmp_path / "filled.csv", {GUANGDONG_MENTION: BEIJING})
    # then none of them is taken as the queue
    for run in (str(forged), "elsewhere", str(unpublished), "."):
        result = _import(filled, "--by", "李四", "--province", "44", "--run", run)
        _one_line_failure(result)
    assert not world.store.path.exists() or world.store.history().empty
    # and the published run by its id is
    ok = _import(filled, "--by", "李四", "--province", "44", "--run", REVIEW_RUN)
    assert "not one of this mention's candidates" in ok.output


def test_import_refuses_a_code_that_is_not_a_candidate(tmp_path: Path, world: Imported) -> None:
    # given the Guangdong mention decided as a real firm that is not one of its candidates
    filled = world.filled(tmp_path / "filled.csv", {GUANGDONG_MENTION: BEIJING})
    # when it is imported
    result = _import(filled, "--by", "李四", "--province", "44")
    # then the row is refused
    assert result.exit_code == 2
    assert "not one of this mention's candidates" in result.output
    assert load_decisions(world.store.path).empty


def test_import_records_nothing_when_the_audit_log_cannot_be_written(
    tmp_path: Path, world: Imported
) -> None:
    # given an audit log that cannot be written (a folder where the file should be)
    world.audit.mkdir(parents=True)
    filled = world.filled(
        tmp_path / "filled.csv", {GUANGDONG_MENTION: SHENZHEN, MINISTRY_MENTION: BEIJING}
    )
    # when the ministry imports two good rows
    result = _import(filled, "--by", "王五", "--ministry")
    # then nothing is recorded and the command fails in one line
    _one_line_failure(result)
    assert "audit" in result.output
    assert world.store.history().empty


def test_import_reads_a_gbk_csv_as_the_sources_are_read(tmp_path: Path, world: Imported) -> None:
    # given the sheet saved by Excel as CSV in GBK (Chinese names in every row)
    filled = world.filled(tmp_path / "filled.csv", {GUANGDONG_MENTION: SHENZHEN}, "gbk")
    # when it is imported
    result = _import(filled, "--by", "李四", "--province", "44")
    # then its decision is recorded
    assert result.exit_code == 0, result.output
    assert world.store.current()["raw_name"].tolist() == [GUANGDONG_MENTION]


def test_sheet_declaring_a_cell_at_xfd1048576_is_refused_quickly(
    tmp_path: Path, world: Imported
) -> None:
    # given a 5 KB workbook whose sheet reaches the last cell Excel has
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for column, name in enumerate(("mention_key", "raw_name", "decision"), start=1):
        sheet.cell(row=1, column=column, value=name)
    sheet["XFD1048576"] = "x"
    hostile = tmp_path / "hostile.xlsx"
    workbook.save(hostile)
    assert hostile.stat().st_size < 10_000
    # when it is imported
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = _import(hostile, "--by", "李四", "--province", "44")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then it is refused in one line, in well under a second and a few MB
    _one_line_failure(result)
    assert "1,048,576 rows" in result.output
    assert time.perf_counter() - started < 5 and peak < 50_000_000


def test_broken_files_and_store_fail_in_one_line(tmp_path: Path, world: Imported) -> None:
    good = world.filled(tmp_path / "good.xlsx", {GUANGDONG_MENTION: SHENZHEN})
    not_zip = tmp_path / "not_zip.xlsx"
    not_zip.write_text("mention_key,decision\n")
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for broken in (not_zip, truncated):
        result = _import(broken, "--by", "李四", "--province", "44")
        _one_line_failure(result)
        assert "not an .xlsx workbook" in result.output
    # and a corrupt store, for import and undo alike
    world.store.path.parent.mkdir(parents=True)
    world.store.path.write_bytes(b"not a database at all" * 50)
    _one_line_failure(_import(good, "--by", "李四", "--province", "44"))
    undo = ["match-review", "undo", "--mention", world.key_of(GUANGDONG_MENTION)]
    _one_line_failure(CliRunner().invoke(app, [*undo, "--by", "李四", "--province", "44"]))


def test_undo_by_the_deciding_province_or_the_ministry_only(
    tmp_path: Path, world: Imported
) -> None:
    # given Guangdong's decision on its mention
    filled = world.filled(tmp_path / "filled.csv", {GUANGDONG_MENTION: SHENZHEN})
    assert _import(filled, "--by", "李四", "--province", "44").exit_code == 0
    key = world.key_of(GUANGDONG_MENTION)
    undo = ["match-review", "undo", "--mention", key]
    # then another province may not undo it, nor anyone without a name
    _one_line_failure(CliRunner().invoke(app, [*undo, "--by", "赵六", "--province", "11"]))
    _one_line_failure(CliRunner().invoke(app, [*undo, "--by", "", "--province", "44"]))
    assert len(load_decisions(world.store.path)) == 1
    # when Guangdong undoes it
    result = CliRunner().invoke(app, [*undo, "--by", "李四", "--province", "44"])
    # then the mention is pending again, the undo audited with the OS user
    assert result.exit_code == 0, result.output
    assert load_decisions(world.store.path).empty
    entry = world.audit_lines()[-1]
    assert (entry["action"], entry["mention_key"], entry["decider_id"]) == (
        "undo",
        key,
        getpass.getuser(),
    )
    # and, decided again, the ministry may undo it too
    assert _import(filled, "--by", "李四", "--province", "44").exit_code == 0
    ministry = CliRunner().invoke(app, [*undo, "--by", "王五", "--ministry"])
    assert ministry.exit_code == 0, ministry.output
    assert load_decisions(world.store.path).empty
    # and nothing left to undo fails in one line
    _one_line_failure(CliRunner().invoke(app, [*undo, "--by", "王五", "--ministry"]))
