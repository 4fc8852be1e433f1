"""Publication: deterministic files, atomic run directories, `latest` switched last."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from core.row_index import ROW_LENGTH, ROW_OFFSET, record_spans, row_index, row_index_path
from flows.publication.candidates import merge_sorted_parts, write_sorted_part
from flows.publication.lists import write_list_csv, write_list_xlsx, write_row_indexes
from flows.publication.runs import clear_abandoned_staging, publish, staging_dir


def sort_and_merge(parts: list[Path], out: Path) -> None:
    """As the weekly run does: each province task sorts its part, assemble merges them."""
    sorted_parts = [part.with_suffix(".arrow") for part in parts]
    for part, sorted_part in zip(parts, sorted_parts, strict=True):
        write_sorted_part(pd.read_parquet(part), sorted_part)
    merge_sorted_parts(sorted_parts, out)


def sample_list() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2],
            "credit_code": ["91440300MA5F00001A", "91440300MA5F00002D"],
            "name": ["深圳市华芯微电子有限公司", "深圳市蓝海精密机械有限公司"],
            "region_code": ["440305", "440306"],
            "tier": ["specialized", "little_giant"],
            "outcome": ["eligible", "to_verify"],
            "score": [0.91234567, 0.5],
            "reasons": ["class1_ip_count ↑", "rd_intensity ↑"],
            "to_verify": ["", "a2_5_market：缺少市场数据"],
            "declarations": ["", ""],
            "evidence": ["a1_2_scale：2025年营业收入 7,050.0万元 ≥ 1,500万元", ""],
        }
    )


def test_excel_has_a_sheet_per_tier_chinese_headers_frozen_row(tmp_path: Path) -> None:
    path = tmp_path / "44.xlsx"
    write_list_xlsx(sample_list(), path)
    book = load_workbook(path)
    assert book.sheetnames == ["专精特新中小企业", "专精特新小巨人", "说明"]
    sheet = book["专精特新中小企业"]
    assert sheet["A1"].value == "排名" and sheet["B1"].value == "统一社会信用代码"
    assert sheet.freeze_panes == "A2" and sheet.max_row == 2
    assert sheet.column_dimensions["C"].width >= 30


def test_same_list_gives_byte_identical_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        time.sleep(1.1)  # a save stamp would differ between the two files
        write_list_xlsx(sample_list(), tmp_path / f"{name}.xlsx")
        write_list_csv(sample_list(), tmp_path / f"{name}.csv")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_publish_renames_into_place_and_moves_latest_last(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = staging_dir(runs, "r1")
    (first / "manifest.json").write_text("{}")
    publish(first, runs, "r1")
    second = staging_dir(runs, "r2")
    # an incomplete run (no manifest) is never published and latest stays
    with pytest.raises(FileNotFoundError):
        publish(second, runs, "r2")
    assert (runs / "latest").resolve() == (runs / "r1").resolve()
    (second / "manifest.json").write_text("{}")
    publish(second, runs, "r2")
    assert (runs / "latest").resolve() == (runs / "r2").resolve()
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == [
        "latest",
        "r1",
        "r2",
    ]


def test_abandoned_staging_is_cleared(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    staging_dir(runs, "killed")
    assert [p.name for p in clear_abandoned_staging(runs)] == [".staging-killed"]
    assert not any(runs.iterdir())


def test_parquet_parts_with_different_categories_concatenate(tmp_path: Path) -> None:
    # given two province parts whose categorical columns hold different categories
    first = pd.DataFrame({"verdict": pd.Categorical(["pass", "fail"]), "n": [1, 2]})
    second = pd.DataFrame({"verdict": pd.Categorical(["unknown"] * 300), "n": range(300)})
    first.to_parquet(tmp_path / "a.parquet", index=False)
    second.to_parquet(tmp_path / "b.parquet", index=False)
    # when they are streamed into one file
    sort_and_merge([tmp_path / "a.parquet", tmp_path / "b.parquet"], tmp_path / "all.parquet")
    # then every row is there with its value
    joined = pd.read_parquet(tmp_path / "all.parquet")
    assert len(joined) == 302
    assert list(joined["verdict"].astype("str")[:3]) == ["pass", "fail", "unknown"]


HOSTILE = {
    '=HYPERLINK("http://evil.example","点此")': '\'=HYPERLINK("http://evil.example","点此")',
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "@SUM(1+1)": "'@SUM(1+1)",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'=1+1",  # CR is a control character: dropped, then the formula is caught
    "深圳\x01市\x1b华芯\x7f有限公司": "深圳市华芯有限公司",
}


def hostile_list() -> pd.DataFrame:
    names = list(HOSTILE)
    frame = pd.concat([sample_list()] * 4, ignore_index=True).iloc[: len(names)].copy()
    frame["name"] = names
    frame["rank"] = range(1, len(names) + 1)
    frame["tier"] = "specialized"
    frame["reasons"] = "=1+1"  # any text column, not only the name
    return frame


def test_csv_neutralises_formulas_and_strips_control_characters(tmp_path: Path) -> None:
    # given: firm names an attacker registered to run in an official's spreadsheet
    lists = hostile_list()
    # when
    write_list_csv(lists, tmp_path / "44.csv")
    # then: every such cell starts with ', control characters are gone, numbers are untouched
    read = pd.read_csv(tmp_path / "44.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert read["name"].tolist() == list(HOSTILE.values())
    assert set(read["reasons"]) == {"'=1+1"}
    assert read["score"].iloc[0] == "0.912346" and read["rank"].iloc[0] == "1"
    assert lists["name"].tolist() == list(HOSTILE)  # the caller's frame is not changed


def test_xlsx_keeps_formula_like_names_as_text_and_a_control_character_cannot_abort_it(
    tmp_path: Path,
) -> None:
    # given
    lists = hostile_list()
    # when: (openpyxl raised IllegalCharacterError on \x01, aborting the whole publication)
    write_list_xlsx(lists, tmp_path / "44.xlsx")
    # then: explicit string cells holding the text; no formula anywhere in the workbook
    sheet = load_workbook(tmp_path / "44.xlsx")["专精特新中小企业"]
    names = [sheet.cell(row=r, column=3) for r in range(2, 2 + len(HOSTILE))]
    assert all(cell.data_type == "s" for cell in names)
    assert [cell.value for cell in names] == [value.removeprefix("'") for value in HOSTILE.values()]
    with zipfile.ZipFile(tmp_path / "44.xlsx") as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in book.read(n) for n in sheets)


def test_candidates_are_sorted_by_credit_code_in_small_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two province parts whose firms' rows are interleaved by criterion, and whose
    # codes interleave too (a firm's code need not start with its province's region)
    monkeypatch.setattr("flows.publication.candidates.CANDIDATES_ROW_GROUP", 4)
    parts = []
    for index, codes in enumerate((["B2", "E5", "C3"], ["A1", "D4"])):
        rows = [(c, k) for k in ("k1", "k2") for c in codes]
        frame = pd.DataFrame(rows, columns=["credit_code", "criterion"]).astype("category")
        parts.append(tmp_path / f"part{index}.parquet")
        frame.to_parquet(parts[-1], index=False)
    # when
    sort_and_merge(parts, tmp_path / "candidates.parquet")
    # then: one order across the parts (a firm's rows together, in their order), groups of 4
    # rows whose statistics name the codes they hold — a reader filtering on a code reads one
    table = pd.read_parquet(tmp_path / "candidates.parquet").astype(str)
    assert table["credit_code"].tolist() == [
        "A1",
        "A1",
        "B2",
        "B2",
        "C3",
        "C3",
        "D4",
        "D4",
        "E5",
        "E5",
    ]
    assert table["criterion"].tolist()[:2] == ["k1", "k2"]
    metadata = pq.ParquetFile(tmp_path / "candidates.parquet").metadata
    ranges = [
        (
            metadata.row_group(i).column(0).statistics.min,
            metadata.row_group(i).column(0).statistics.max,
        )
        for i in range(metadata.num_row_groups)
    ]
    assert ranges == [("A1", "B2"), ("C3", "D4"), ("E5", "E5")]


def test_merging_sorted_parts_equals_one_stable_sort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: 4 parts of firms with 1-4 rows each, codes drawn over one range, batches of 5
    monkeypatch.setattr("flows.publication.candidates.CANDIDATES_ROW_GROUP", 5)
    rng = np.random.default_rng(3)
    codes = rng.permutation([f"91{n:06d}" for n in range(60)])
    frames, parts = [], []
    for index, firms in enumerate(np.array_split(codes, 4)):
        rows = [(c, f"k{k}") for c in firms for k in range(int(rng.integers(1, 5)))]
        frames.append(pd.DataFrame(rows, columns=["credit_code", "criterion"]))
        parts.append(tmp_path / f"part{index}.parquet")
        frames[-1].to_parquet(parts[-1], index=False)
    # when
    sort_and_merge(parts, tmp_path / "candidates.parquet")
    # then
    merged = pd.read_parquet(tmp_path / "candidates.parquet")
    expected = pd.concat(frames).sort_values("credit_code", kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(merged, expected)
    groups = pq.ParquetFile(tmp_path / "candidates.parquet").metadata
    assert all(groups.row_group(i).num_rows == 5 for i in range(groups.num_row_groups - 1))


def test_province_parts_merge_in_code_order_with_a_missing_code_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: criteria-like parts (categorical, as the engine makes them; categories in no
    # order) written by the province tasks, one row without a code, batches of 3
    monkeypatch.setattr("flows.publication.candidates.CANDIDATES_ROW_GROUP", 3)
    frames = [
        pd.DataFrame({"credit_code": ["C", "A", None, "C"], "verdict": ["pass", "fail", "x", "y"]}),
        pd.DataFrame({"credit_code": ["B", "A", "D"], "verdict": ["unknown", "pass", "fail"]}),
    ]
    parts = []
    for index, frame in enumerate(frames):
        categorical = frame.astype("category")
        categorical["credit_code"] = categorical["credit_code"].cat.reorder_categories(
            sorted(categorical["credit_code"].cat.categories, reverse=True)
        )
        parts.append(tmp_path / f"{index}.arrow")
        write_sorted_part(categorical, parts[-1])
    # when
    merge_sorted_parts(parts, tmp_path / "candidates.parquet")
    # then: one stable sort of all rows by code (part order between equal codes), missing last
    merged = pd.read_parquet(tmp_path / "candidates.parquet")
    assert merged["credit_code"].tolist()[:-1] == ["A", "A", "B", "C", "C", "D"]
    assert pd.isna(merged["credit_code"].iloc[-1])
    assert merged["verdict"].tolist() == ["fail", "pass", "unknown", "pass", "y", "fail", "x"]
    assert str(pq.read_schema(tmp_path / "candidates.parquet").field("verdict").type) == "string"


MERGE_CASES = {
    # each part's categories its own, in its own order; codes A and C in both parts
    "dictionaries differ, equal codes across parts": [
        pd.DataFrame(
            {
                "credit_code": pd.Categorical(["C", "A", "B"], ["C", "B", "A"]),
                "verdict": pd.Categorical(["pass", "fail", "pass"], ["fail", "pass"]),
                "evidence": pd.Categorical(["e0", None, "e2"], ["e2", "e1", "e0"]),
            }
        ),
        pd.DataFrame(
            {
                "credit_code": pd.Categorical(["A", "D", "C", "A"], ["D", "C", "A"]),
                "verdict": pd.Categorical(
                    ["unknown", "pass", "fail", "x"], ["x", "unknown", "pass", "fail", "y"]
                ),
                "evidence": pd.Categorical(["f0", "f1", "f2", "f3"], ["f3", "f0", "f2", "f1"]),
            }
        ),
    ],
    "a column plain text in one part": [
        pd.DataFrame(
            {
                "credit_code": pd.Categorical(["B", "A"], ["B", "A"]),
                "evidence": pd.Categorical(["e0", "e1"], ["e1", "e0"]),
            }
        ),
        pd.DataFrame(
            {"credit_code": pd.Categorical(["A", "C"], ["C", "A"]), "evidence": ["p0", None]}
        ),
    ],
    "missing codes": [
        pd.DataFrame(
            {
                "credit_code": pd.Categorical([None, "B", "A"], ["A", "B"]),
                "evidence": ["e0", "e1", "e2"],
            }
        ),
        pd.DataFrame({"credit_code": [None, "A", None], "evidence": ["f0", "f1", "f2"]}),
    ],
    "an empty part": [
        pd.DataFrame(
            {"credit_code": pd.Categorical(["B", "A"], ["B", "A"]), "evidence": ["e0", "e1"]}
        ),
        pd.DataFrame(
            {"credit_code": pd.Categorical([], ["Z"]), "evidence": pd.Categorical([], ["z"])}
        ),
        pd.DataFrame(
            {"credit_code": pd.Categorical(["A", "C"], ["C", "A"]), "evidence": ["f0", "f1"]}
        ),
    ],
    "a single part": [
        pd.DataFrame(
            {
                "credit_code": pd.Categorical(["C", None, "A", "C", "B"], ["C", "B", "A"]),
                "evidence": pd.Categorical(
                    ["e0", "e1", "e2", "e3", "e0"], ["e3", "e2", "e1", "e0"]
                ),
            }
        ),
    ],
}


@pytest.mark.parametrize("case", MERGE_CASES)
def test_merged_parts_are_one_stable_sort_of_their_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # given: criteria-like parts written by the province tasks, batches and groups of 2 rows
    monkeypatch.setattr("flows.publication.candidates.CANDIDATES_ROW_GROUP", 2)
    frames = MERGE_CASES[case]
    parts = [tmp_path / f"{index}.arrow" for index in range(len(frames))]
    for frame, part in zip(frames, parts, strict=True):
        write_sorted_part(frame, part)
    # when
    merge_sorted_parts(parts, tmp_path / "candidates.parquet")
    # then: the rows of all parts in one stable sort by code (part order between equal
    # codes, a missing code last), every column as values, in groups of 2
    rows = pd.concat([frame.astype(object) for frame in frames], ignore_index=True)
    expected = rows.sort_values("credit_code", kind="stable", na_position="last")
    merged = pq.read_table(tmp_path / "candidates.parquet")
    assert merged.to_pylist() == expected.astype(object).where(expected.notna(), None).to_dict(
        "records"
    )
    assert not any(pa.types.is_dictionary(field.type) for field in merged.schema)
    groups = pq.ParquetFile(tmp_path / "candidates.parquet").metadata
    sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
    assert sizes == [2] * (len(rows) // 2) + [1] * (len(rows) % 2)


def test_merging_only_empty_parts_writes_no_rows(tmp_path: Path) -> None:
    # given: provinces that found no criteria rows
    empty = pd.DataFrame(
        {"credit_code": pd.Categorical([], ["A"]), "evidence": pd.Categorical([], ["e"])}
    )
    parts = [tmp_path / "0.arrow", tmp_path / "1.arrow"]
    for part in parts:
        write_sorted_part(empty, part)
    # when
    merge_sorted_parts(parts, tmp_path / "candidates.parquet")
    # then
    merged = pq.read_table(tmp_path / "candidates.parquet")
    assert merged.num_rows == 0
    assert merged.column_names == ["credit_code", "evidence"]


def sample_watchlist() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "province": ["44", "44"],
            "credit_code": ["91440300MA5F00001A", "91440300MA5F00002D"],
            "name": ["深圳市华芯微电子有限公司", "深圳市蓝海精密机械有限公司"],
            "region_code": ["440305", "440306"],
            "title": ["little_giant", "specialized_sme"],
            "expires_on": pd.to_datetime(["2027-06-30", "2027-12-31"]),
            "ground": ["credit_listing", "update_missed_once"],
            "article": ["第十一条、第二十条、第二十一条", "第十七条"],
            "since": pd.to_datetime(["2026-03-02", "2026-05-31"]),
            "evidence": ["列入严重失信主体名单（2026-03-02）", "2026年未在2026-05-31前更新"],
            "action": ["报工业和信息化部", "重点监测"],
            "new": [True, False],
            "basis": ["art11_credit_lists", ""],
        }
    )


def test_watchlist_files_have_the_contract_columns_and_a_sheet_per_title(tmp_path: Path) -> None:
    from flows.publication.lists import write_watchlist

    write_watchlist(sample_watchlist(), tmp_path / "watchlist", "44")
    rows = pd.read_csv(tmp_path / "watchlist" / "44.csv", dtype=str, keep_default_na=False)
    contract = ["credit_code", "name", "region_code", "title", "expires_on", "ground"]
    contract += ["article", "since", "evidence", "action", "new"]
    assert list(rows.columns)[: len(contract)] == contract
    assert list(rows["since"]) == ["2026-03-02", "2026-05-31"]
    assert list(rows["new"]) == ["true", "false"]
    book = load_workbook(tmp_path / "watchlist" / "44.xlsx")
    assert book.sheetnames == ["专精特新中小企业", "专精特新小巨人", "说明"]
    assert book["专精特新小巨人"]["A2"].value == "91440300MA5F00001A"
    assert book["专精特新中小企业"]["F1"].value == "风险事由"


def test_report_has_a_watch_list_section_per_province(tmp_path: Path) -> None:
    from flows.publication.report import write_report_html

    funnel = pd.DataFrame(
        {"province": ["44"], "tier": ["specialized"], "candidates": [3], "eligible": [1],
         "to_verify": [1], "invited": [2]}
    )  # fmt: skip
    summary = {"coverage": {"update_missed_once": "unknown: annual_updates table missing"}}
    path = tmp_path / "report.html"
    write_report_html(path, {"run_id": "r"}, funnel, sample_list(), sample_watchlist(), summary)
    page = path.read_text(encoding="utf-8")
    assert "观察名单" in page and "省份 44：2 条事由" in page and "本期新增 1 条" in page
    assert "首次未按期更新信息：缺少数据表 年度信息更新［annual_updates］" in page
    # every code by its Chinese name (issue 29)
    section = page[page.index('id="watchlist"') :]
    assert "<td>列入经营异常名录或严重失信主体名单</td>" in section
    assert "<td>专精特新“小巨人”企业</td>" in section and "<td>是</td>" in section
    for code in ("credit_listing", "little_giant", "specialized_sme", "True", "true"):
        assert code not in section, code


def test_record_spans_keep_quoted_line_feeds_inside_their_record() -> None:
    data = '\ufeffa,b\n1,"第一行\n第二行"\n2,"say ""hi""\n"\r\n3,x'.encode()
    offsets, lengths = record_spans(data)
    records = [data[o : o + n].decode() for o, n in zip(offsets, lengths, strict=True)]
    assert records == ['1,"第一行\n第二行"', '2,"say ""hi""\n"', "3,x"]


def test_row_index_locates_every_row_of_a_published_list(tmp_path: Path) -> None:
    # given: a list whose text holds line feeds, quotes and formula-like names
    lists = pd.concat([sample_list()] * 3, ignore_index=True)
    lists.loc[1, "evidence"] = '第一行\n第二行，"引号"'
    lists.loc[4, "name"] = '=HYPERLINK("http://evil.example","点此")'
    path = tmp_path / "44.csv"
    write_list_csv(lists, path)
    # when
    index = row_index(path)
    # then: the indexed columns as written, and each span is exactly its row of the file
    assert index is not None
    written = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert index["credit_code"].to_pylist() == written["credit_code"].tolist()
    assert index["name"].to_pylist()[4].startswith("'=HYPERLINK")
    assert "evidence" not in index.column_names and "reasons" not in index.column_names
    data = path.read_bytes()
    spans = zip(index[ROW_OFFSET].to_pylist(), index[ROW_LENGTH].to_pylist(), strict=True)
    rows = [data[o : o + n].decode() for o, n in spans]
    assert [r.split(",", 1)[0] for r in rows] == written["rank"].tolist()
    assert "第一行\n第二行" in rows[1] and rows[1].endswith('"') and not rows[2].startswith("\n")


def test_row_indexes_are_written_beside_every_paged_list(tmp_path: Path) -> None:
    (tmp_path / "invitations").mkdir()
    write_list_csv(sample_list(), tmp_path / "invitations" / "44.csv")
    write_list_csv(sample_list()[["credit_code", "name", "tier"]], tmp_path / "cultivation.csv")
    write_row_indexes(tmp_path)
    for csv_path in (tmp_path / "invitations" / "44.csv", tmp_path / "cultivation.csv"):
        stored = pq.read_table(row_index_path(tmp_path, csv_path))
        assert stored.num_rows == 2
        assert stored.schema.metadata[b"csv_bytes"] == str(csv_path.stat().st_size).encode()
    assert not row_index_path(tmp_path, tmp_path / "renewals.csv").exists()  # no such list


# ---------------------------------------------------------------- a failed province (issue 23)


def published_run(runs: Path, run_id: str, provinces: list[str], failed: list[dict]) -> Path:
    """A complete run directory with the given provinces' lists and watch lists."""
    import json

    from flows.publication.lists import write_watchlist
    from flows.publication.runs import write_manifest

    run = runs / run_id
    (run / "invitations").mkdir(parents=True)
    for province in provinces:
        write_list_csv(sample_list(), run / "invitations" / f"{province}.csv")
        write_watchlist(sample_watchlist().assign(province=province), run / "watchlist", province)
    write_manifest(run / "manifest.json", {"run_id": run_id, "failed_provinces": failed})
    assert json.loads((run / "manifest.json").read_text())["run_id"] == run_id
    return run


def test_error_line_is_the_exception_type_and_message_on_one_cut_line() -> None:
    from flows.publication.runs import error_line, failed_province

    assert error_line(ValueError("bad\n  value\tin 44")) == "ValueError: bad value in 44"
    long = error_line(RuntimeError("x" * 2000))
    assert len(long) == 500 and long.startswith("RuntimeError: xxx") and long.endswith("…")
    assert error_line(None).startswith("unknown failure")
    assert failed_province("44", "province", KeyError("a"), None) == {
        "province": "44",
        "task": "province",
        "error": "KeyError: 'a'",
        "previous_run": None,
    }


def test_previous_run_is_the_newest_earlier_complete_run_with_that_provinces_list(
    tmp_path: Path,
) -> None:
    from flows.publication.runs import previous_run_with_list

    runs = tmp_path / "runs"
    published_run(runs, "20260616-a", ["11", "44"], [])
    published_run(runs, "20260623-a", ["11", "44"], [])
    failed = {"province": "44", "task": "province", "error": "E", "previous_run": "20260623-a"}
    published_run(runs, "20260630-a", ["11"], [failed])  # 44 failed here: no list of it
    published_run(runs, "20260707-a", ["11", "44"], [])  # after the run asking
    (runs / ".staging-20260701-x" / "invitations").mkdir(parents=True)  # never complete
    (runs / ".staging-20260701-x" / "invitations" / "44.csv").write_text("rank\n")
    (runs / "latest").symlink_to("20260630-a")

    assert previous_run_with_list(runs, "44", "20260701-b") == "20260623-a"
    assert previous_run_with_list(runs, "11", "20260701-b") == "20260630-a"
    assert previous_run_with_list(runs, "44", "20260616-a") is None  # nothing earlier
    assert previous_run_with_list(runs, "31", "20260701-b") is None  # never published
    assert previous_run_with_list(tmp_path / "none", "44", "20260701-b") is None


def test_report_names_the_failed_province_task_error_and_previous_list(tmp_path: Path) -> None:
    from flows.publication.report import write_report_html

    funnel = pd.DataFrame(
        {"province": ["11"], "tier": ["specialized"], "candidates": [3], "eligible": [1],
         "to_verify": [1], "invited": [2]}
    )  # fmt: skip
    failed = [
        {"province": "44", "task": "province", "error": "ValueError: <坏> 数据",
         "previous_run": "20260623-a"},
        {"province": "31", "task": "province", "error": "OSError: disk", "previous_run": None},
    ]  # fmt: skip
    path = tmp_path / "report.html"
    manifest = {"run_id": "r", "failed_provinces": failed}
    write_report_html(path, manifest, funnel, sample_list(), sample_watchlist(), {})
    page = path.read_text(encoding="utf-8")
    section = page[page.index('id="failed-provinces"') : page.index("各省筛选漏斗")]
    assert "本次运行有省份处理失败：44、31" in section
    assert "ValueError: &lt;坏&gt; 数据" in section  # escaped, never markup
    assert 'href="../20260623-a/invitations/44.csv"' in section
    assert "province" in section and "此前没有发布过该省的名单" in section
    # and none when every province succeeded
    write_report_html(path, {"run_id": "r", "failed_provinces": []}, funnel, sample_list())
    assert "failed-provinces" not in path.read_text(encoding="utf-8")


def test_previous_watchlist_reads_a_failed_province_from_the_run_with_its_previous_list(
    tmp_path: Path,
) -> None:
    from flows.publication.runs import previous_watchlist

    runs = tmp_path / "runs"
    published_run(runs, "20260623-a", ["11", "44"], [])
    failed = {"province": "44", "task": "province", "error": "E", "previous_run": "20260623-a"}
    published_run(runs, "20260630-a", ["11"], [failed])
    (runs / "latest").symlink_to("20260630-a")

    previous = previous_watchlist(runs)
    assert previous is not None
    assert previous.groupby("province").size().to_dict() == {"11": 2, "44": 2}


# ---------------------------------------------------------------- re-application list (issue 24)


def sample_reapply() -> pd.DataFrame:
    return sample_list().assign(
        province="44", rank=[1, 1], p_qualify=[0.7, 0.4], last_round=pd.array([2024, 2025]),
        last_outcome=["rejected", "withdrawn"],
    )  # fmt: skip


def test_reapply_files_have_the_list_columns_and_the_last_application(tmp_path: Path) -> None:
    from core.run_layout import LIST_COLUMNS, REAPPLY_COLUMNS
    from flows.publication.lists import write_reapply

    write_reapply(sample_reapply(), tmp_path / "reapply", "44", "champion")
    rows = pd.read_csv(tmp_path / "reapply" / "44.csv", dtype=str, keep_default_na=False)
    assert list(rows.columns) == REAPPLY_COLUMNS
    assert set(LIST_COLUMNS) | {"last_round", "last_outcome"} == set(REAPPLY_COLUMNS)
    assert list(rows["last_round"]) == ["2024", "2025"] and rows["p_qualify"][0] == "0.700000"
    book = load_workbook(tmp_path / "reapply" / "44.xlsx")
    assert book.sheetnames == ["专精特新中小企业", "专精特新小巨人", "说明"]
    headers = [cell.value for cell in book["专精特新中小企业"][1]]
    assert headers[6:8] == ["上次申报年度", "上次申报结果"]
    assert book["专精特新中小企业"]["G2"].value == 2024
    guide = [str(c.value) for r in book["说明"].iter_rows() for c in r if c.value]
    assert any("从不混入邀请名单" in text and "曾申报本层级而未获认定" in text for text in guide)
    assert any(text.startswith("排序：按认定概率") for text in guide)


def test_an_empty_reapply_list_is_written_with_its_headers(tmp_path: Path) -> None:
    from core.run_layout import REAPPLY_COLUMNS
    from flows.publication.lists import write_reapply

    write_reapply(sample_reapply().iloc[0:0], tmp_path / "reapply", "11", "rule_baseline")
    header = (tmp_path / "reapply" / "11.csv").read_text(encoding="utf-8-sig").splitlines()
    assert header == [",".join(REAPPLY_COLUMNS)]
    book = load_workbook(tmp_path / "reapply" / "11.xlsx")
    assert book["专精特新中小企业"].max_row == 1
    guide = [str(c.value) for r in book["说明"].iter_rows() for c in r if c.value]
    assert any("规则基线" in text for text in guide)


def test_the_invitation_lists_guide_says_discoveries_only_and_where_reapplicants_are(
    tmp_path: Path,
) -> None:
    write_list_xlsx(sample_list(), tmp_path / "44.xlsx")
    guide = load_workbook(tmp_path / "44.xlsx")["说明"]
    text = " ".join(str(c.value) for r in guide.iter_rows() for c in r if c.value)
    assert "只列主动发现的企业" in text and "reapply/<省份代码>.csv" in text
    assert "不混入本名单" in text


def test_reapply_lists_are_paged_through_row_indexes(tmp_path: Path) -> None:
    from core.run_layout import paged_lists
    from flows.publication.lists import write_reapply

    (tmp_path / "invitations").mkdir()
    write_list_csv(sample_list(), tmp_path / "invitations" / "44.csv")
    write_reapply(sample_reapply(), tmp_path / "reapply", "44", "champion")
    assert tmp_path / "reapply" / "44.csv" in paged_lists(tmp_path)
    write_row_indexes(tmp_path)
    stored = pq.read_table(row_index_path(tmp_path, tmp_path / "reapply" / "44.csv"))
    assert stored.num_rows == 2 and stored["credit_code"].to_pylist()[0] == "91440300MA5F00001A"


def test_report_has_a_line_per_province_and_tier_with_the_reapply_count(tmp_path: Path) -> None:
    from flows.publication.report import write_report_html

    funnel = pd.DataFrame(
        {"province": ["44", "44"], "tier": ["specialized", "little_giant"], "candidates": [3, 2],
         "eligible": [1, 1], "to_verify": [1, 0], "invited": [2, 1], "reapply": [4, 0]}
    )  # fmt: skip
    path = tmp_path / "report.html"
    write_report_html(path, {"run_id": "r"}, funnel, sample_list())
    page = path.read_text(encoding="utf-8")
    assert "<th>再申报</th>" in page and 'id="reapply-counts"' in page
    assert "省份 44 · 专精特新中小企业：再申报名单 4 家（邀请名单 2 家）" in page
    assert "省份 44 · 专精特新“小巨人”企业：再申报名单 0 家（邀请名单 1 家）" in page
