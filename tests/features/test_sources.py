"""The bad-input corpus: each case asserts the exact outcome of loading a broken source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from features.schemas import credit_code_is_valid
from features.sources import SAVED_SUFFIX, SourceError, load_sources, preflight
from tests.conftest import CODE_A, CODE_B, FIRM_A, FIRM_B, FIRMS_HEADER, SAMPLE_DATA, write_csv

FIN_HEADER = (
    "credit_code,fiscal_year,revenue,main_business_revenue,rd_expense,"
    "total_assets,total_liabilities,employees"
)
FIN_OK = f"{CODE_A},2025,20000000,19000000,1000000,30000000,10000000,80"


def refusals(data_dir: Path) -> pd.DataFrame:
    return load_sources(data_dir).rejects


# (case, table, lines after the valid firms, expected refused row, column, reason fragment)
ROW_CASES = [
    (
        "wrong check character",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108717809965C,某公司,2010-01-01,110108,C3973,operating"],
        1,
        "credit_code",
        "invalid unified social credit code",
    ),
    (
        "letter outside the code charset",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385O82Q,某公司,2010-01-01,110108,C3973,operating"],
        1,
        "credit_code",
        "invalid unified social credit code",
    ),
    (
        "credit code too short",
        "firms",
        [FIRMS_HEADER, FIRM_A, "9111010855138508,某公司,2010-01-01,110108,C3973,operating"],
        1,
        "credit_code",
        "invalid unified social credit code",
    ),
    (
        "unparseable date",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,2010年1月1日,110108,C3973,operating"],
        1,
        "established_on",
        "unparseable date",
    ),
    (
        "impossible date",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,2023-02-30,110108,C3973,operating"],
        1,
        "established_on",
        "impossible date",
    ),
    (
        "date out of range",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,1800-01-01,110108,C3973,operating"],
        1,
        "established_on",
        "date outside",
    ),
    (
        "unknown enumeration value",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,2010-01-01,110108,C3973,active"],
        1,
        "status",
        "unknown value",
    ),
    (
        "region code not 6 digits",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,2010-01-01,11010,C3973,operating"],
        1,
        "region_code",
        "not 6 digits",
    ),
    (
        "industry code malformed",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,2010-01-01,110108,3973,operating"],
        1,
        "industry_code",
        "GB/T 4754",
    ),
    (
        "10,000-character name",
        "firms",
        [
            FIRMS_HEADER,
            FIRM_A,
            "91110108551385082Q," + "测" * 10_000 + ",2010-01-01,110108,C3973,operating",
        ],
        1,
        "name",
        "name longer than 200",
    ),
    (
        "missing required value",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,,2010-01-01,110108,C3973,operating"],
        1,
        "name",
        "missing value",
    ),
    (
        "NUL byte in a field",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某\x00公司,2010-01-01,110108,C3973,operating"],
        1,
        "name",
        "NUL byte",
    ),
    (
        "wrong number of fields",
        "firms",
        [FIRMS_HEADER, FIRM_A, "91110108551385082Q,某公司,2010-01-01,110108"],
        1,
        "credit_code",
        "wrong number of fields",
    ),
    (
        "negative amount",
        "financials",
        [FIN_HEADER, f"{CODE_A},2025,-1,0,0,0,0,0"],
        0,
        "revenue",
        "negative amount",
    ),
    (
        "not a number",
        "financials",
        [FIN_HEADER, f"{CODE_A},2025,12万,0,0,0,0,0"],
        0,
        "revenue",
        "not a number",
    ),
    (
        "fractional head count",
        "financials",
        [FIN_HEADER, f"{CODE_A},2025,10,0,0,0,0,12.5"],
        0,
        "employees",
        "not a whole number",
    ),
    (
        "main business above revenue",
        "financials",
        [FIN_HEADER, f"{CODE_A},2025,10,11,0,0,0,1"],
        0,
        "main_business_revenue",
        "exceeds revenue",
    ),
    (
        "unknown firm",
        "financials",
        [FIN_HEADER, "91110108551385082Q,2025,10,1,0,0,0,1"],
        0,
        "credit_code",
        "not in the firms registry",
    ),
    (
        "percent written as 80",
        "products",
        [
            "credit_code,product_name,revenue_share,niche_since,market_scope",
            f"{CODE_A},射频芯片,80,2015-01-01,domestic",
        ],
        0,
        "revenue_share",
        "fraction outside 0..1",
    ),
    (
        "bad boolean",
        "ip_rights",
        [
            "ip_id,ip_type,title,granted_on,status,transferred_in",
            "ZL1,invention_patent,t,2020-01-01,valid,yes",
        ],
        0,
        "transferred_in",
        "not a boolean",
    ),
    (
        "certificate expires before it starts",
        "certifications",
        [
            "credit_code,title,certified_on,expires_on,status",
            f"{CODE_A},tech_sme,2024-01-01,2023-01-01,valid",
        ],
        0,
        "expires_on",
        "expires_on before certified_on",
    ),
    (
        "score outside 0..100",
        "evaluation_scores",
        ["credit_code,year,score", f"{CODE_A},2026,120"],
        0,
        "score",
        "score outside 0..100",
    ),
    (
        "holder of an unknown ip",
        "ip_holders",
        ["ip_id,holder_name,holder_rank", "ZL-none,某公司,1"],
        0,
        "ip_id",
        "ip_id not in ip_rights",
    ),
]


@pytest.mark.parametrize(
    ("table", "lines", "row", "column", "reason"),
    [case[1:] for case in ROW_CASES],
    ids=[case[0] for case in ROW_CASES],
)
def test_row_that_breaks_the_contract_is_refused_with_its_reason(
    data_dir: Path, table: str, lines: list[str], row: int, column: str, reason: str
) -> None:
    # given a data directory with one broken row
    write_csv(data_dir, table, lines)
    if table == "ip_holders":
        write_csv(data_dir, "ip_rights", ["ip_id,ip_type,title,granted_on,status,transferred_in"])
    # when it is loaded
    sources = load_sources(data_dir)
    # then exactly that row is refused, with the column and reason, and the rest is used
    refused = sources.rejects[sources.rejects["action"] == "row_refused"]
    assert set(refused["row"]) == {row}, refused.to_string()
    assert ((refused["table"] == table) & (refused["column"] == column)).any(), refused
    assert refused["reason"].str.contains(reason, regex=False).any(), refused["reason"].tolist()
    assert row not in sources.tables[table].index
    assert len(sources.tables["firms"]) >= 1


def test_duplicate_credit_codes_refuse_every_row_sharing_the_code(data_dir: Path) -> None:
    # given two registry rows with one credit code
    write_csv(data_dir, "firms", [FIRMS_HEADER, FIRM_A, FIRM_B, FIRM_A.replace("华芯", "华信")])
    # when loaded
    sources = load_sources(data_dir)
    # then neither copy is used (no silent de-duplication), and the other firm is
    assert list(sources.tables["firms"]["credit_code"]) == [CODE_B]
    refused = sources.rejects
    assert sorted(refused["row"].unique()) == [0, 2]
    assert refused["reason"].str.startswith("duplicate key (credit_code)").all()


def test_duplicate_financial_rows_for_one_firm_and_year_are_refused(data_dir: Path) -> None:
    write_csv(data_dir, "financials", [FIN_HEADER, FIN_OK, FIN_OK.replace("80", "81")])
    sources = load_sources(data_dir)
    assert sources.tables["financials"].empty
    assert sorted(sources.rejects["row"].unique()) == [0, 1]
    assert sources.rejects["column"].eq("credit_code, fiscal_year").all()


@pytest.mark.parametrize("spelling", ["91440300ma5f00001a", "９１４４０３００ＭＡ５Ｆ００００１Ａ"])
def test_lowercase_and_full_width_credit_codes_are_normalised(
    tmp_path: Path, spelling: str
) -> None:
    # given a credit code written in lower case or full-width characters
    write_csv(tmp_path, "firms", [FIRMS_HEADER, FIRM_A.replace(CODE_A, spelling)])
    # when loaded
    sources = load_sources(tmp_path)
    # then it is the same code, upper-case and half-width, and nothing is refused
    assert list(sources.tables["firms"]["credit_code"]) == [CODE_A]
    assert sources.rejects.empty


def test_invalid_optional_mention_code_is_ignored_and_the_row_kept(data_dir: Path) -> None:
    # given an award whose optional unit code has a wrong check character
    write_csv(
        data_dir,
        "awards",
        [
            "award_name,level,year,unit_name,unit_rank,unit_credit_code",
            "广东省科学技术奖,provincial,2024,深圳市华芯微电子有限公司,1,91440300MA5F00001B",
        ],
    )
    sources = load_sources(data_dir)
    # then the row is used by name, the code blanked, and the rejects file says so
    awards = sources.tables["awards"]
    assert len(awards) == 1 and pd.isna(awards["unit_credit_code"].iloc[0])
    assert list(sources.rejects["action"]) == ["value_ignored"]


def test_every_contract_boolean_spelling_is_read(data_dir: Path) -> None:
    spellings = {"true": True, "false": False, "1": True, "0": False, "是": True, "否": False}
    lines = (
        ["ip_id,ip_type,title,granted_on,status,transferred_in"]
        + [f"ZL{i},invention_patent,t,2020-01-01,valid,{word}" for i, word in enumerate(spellings)]
        + ["ZL9,invention_patent,t,2020-01-01,valid,TRUE"]
    )
    write_csv(data_dir, "ip_rights", lines)
    sources = load_sources(data_dir)
    assert list(sources.tables["ip_rights"]["transferred_in"]) == [*spellings.values(), True]


def test_enumerations_are_case_insensitive(data_dir: Path) -> None:
    write_csv(data_dir, "firms", [FIRMS_HEADER, FIRM_A.replace("operating", "Operating")])
    assert list(load_sources(data_dir).tables["firms"]["status"]) == ["operating"]


def test_gbk_file_is_decoded_correctly(tmp_path: Path) -> None:
    # given a registry exported in GBK, as many government systems do
    write_csv(tmp_path, "firms", [FIRMS_HEADER, FIRM_A, FIRM_B], encoding="gbk")
    # then the Chinese names are read, not mojibake
    names = list(load_sources(tmp_path).tables["firms"]["name"])
    assert names == ["深圳市华芯微电子有限公司", "深圳市蓝海精密机械有限公司"]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    write_csv(tmp_path, "firms", [FIRMS_HEADER, FIRM_A], encoding="utf-8-sig")
    firms = load_sources(tmp_path).tables["firms"]
    assert firms.columns[0] == "credit_code" and list(firms["credit_code"]) == [CODE_A]


def test_semicolon_delimited_file_is_read(tmp_path: Path) -> None:
    write_csv(tmp_path, "firms", [line.replace(",", ";") for line in (FIRMS_HEADER, FIRM_A)])
    assert list(load_sources(tmp_path).tables["firms"]["credit_code"]) == [CODE_A]


def test_split_csv_folder_is_concatenated_with_continuous_row_numbers(tmp_path: Path) -> None:
    folder = tmp_path / "firms"
    folder.mkdir()
    (folder / "part-0.csv").write_text(f"{FIRMS_HEADER}\n{FIRM_A}\n", encoding="utf-8")
    (folder / "part-1.csv").write_text(
        f"{FIRMS_HEADER}\n{FIRM_B.replace('operating', 'gone')}\n", encoding="utf-8"
    )
    sources = load_sources(tmp_path)
    assert list(sources.tables["firms"]["credit_code"]) == [CODE_A]
    assert list(sources.rejects["row"]) == [1]


def test_parquet_table_is_read_with_types(data_dir: Path) -> None:
    frame = pd.DataFrame(
        {
            "credit_code": [CODE_A],
            "fiscal_year": [2025],
            "revenue": [2.0e7],
            "main_business_revenue": [1.9e7],
            "rd_expense": [1.0e6],
            "total_assets": [3.0e7],
            "total_liabilities": [1.0e7],
            "employees": [80],
            "audited": [True],
        }
    )
    frame.to_parquet(data_dir / "financials.parquet")
    financials = load_sources(data_dir).tables["financials"]
    assert financials["revenue"].iloc[0] == 2.0e7
    assert financials["employees"].iloc[0] == 80 and bool(financials["audited"].iloc[0])


def test_header_only_optional_table_is_present_and_empty(data_dir: Path) -> None:
    write_csv(data_dir, "credit_events", ["credit_code,event_type,occurred_on,resolved_on"])
    sources = load_sources(data_dir)
    assert sources.has("credit_events") and sources.tables["credit_events"].empty


def test_missing_optional_table_is_reported_not_an_error(data_dir: Path) -> None:
    coverage = load_sources(data_dir).coverage.set_index("table")
    assert coverage.loc["financials", "status"] == "missing"
    assert coverage.loc["firms", "rows_used"] == 2


FATAL_CASES = [
    ("no firms table", lambda d: write_csv(d, "financials", [FIN_HEADER]), "no firms table"),
    ("empty firms file", lambda d: (d / "firms.csv").write_bytes(b""), "file is empty"),
    ("header-only firms", lambda d: write_csv(d, "firms", [FIRMS_HEADER]), "no usable rows"),
    (
        "missing required column",
        lambda d: write_csv(
            d, "firms", [FIRMS_HEADER.replace(",status", ""), FIRM_A.replace(",operating", "")]
        ),
        "required column 'status' is missing",
    ),
    (
        "Excel renamed .csv",
        lambda d: (d / "firms.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 200),
        "Excel workbook",
    ),
    (
        "binary file",
        lambda d: (d / "firms.csv").write_bytes(bytes(range(256)) * 20),
        "binary content",
    ),
    (
        "not UTF-8 nor GB18030",
        lambda d: (d / "firms.csv").write_bytes(FIRMS_HEADER.encode() + b"\n\x81\x30\xff\xff,x\n"),
        "neither UTF-8 nor GB18030",
    ),
    (
        "two sources for one table",
        lambda d: (
            write_csv(d, "firms", [FIRMS_HEADER, FIRM_A]),
            (d / "firms.parquet").write_bytes(b"PAR1"),
        ),
        "more than one source",
    ),
    (
        "bad optional table header",
        lambda d: (
            write_csv(d, "firms", [FIRMS_HEADER, FIRM_A]),
            write_csv(d, "awards", ["award_name,level"]),
        ),
        "awards: required column 'year' is missing",
    ),
]


@pytest.mark.parametrize(
    ("make", "message"), [c[1:] for c in FATAL_CASES], ids=[c[0] for c in FATAL_CASES]
)
def test_unusable_input_stops_with_a_one_line_reason(
    tmp_path: Path, make: object, message: str
) -> None:
    make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_sources(tmp_path)


def test_credit_code_check_matches_the_reference_examples() -> None:
    # facts.md §2: two real valid codes and four circulating with a wrong check character
    codes = pd.Series(
        [
            "91110108551385082Q",
            "914403001922038216",
            "91110108717809965C",
            "91110000800088421P",
            "9133010057462616XH",
            "914403001870826678",
        ]
    )
    assert credit_code_is_valid(codes).tolist() == [True, True, False, False, False, False]


def test_credit_code_check_reads_every_shape_of_cell_without_a_python_string_each() -> None:
    # issue 25: the check reads the codes' bytes; a cell of another shape is simply not valid
    codes = pd.Series(
        [
            "91110108551385082Q",
            None,
            "",
            "91110108551385082q",
            "９１１１０１０８５５１３８５０８２Ｑ",
            "91110108551385082Q ",
            "91110108551385082",
            "天津某某科技有限公司某某某某某某某",
            "914403001922038216",
        ],
        index=range(10, 19),
        dtype="str",
    )
    valid = credit_code_is_valid(codes)
    assert valid.index.tolist() == list(range(10, 19))
    assert valid.tolist() == [True, False, False, False, False, False, False, False, True]
    assert credit_code_is_valid(pd.Series([], dtype="str")).tolist() == []
    assert credit_code_is_valid(pd.Series(["91110108551385082Q", None], dtype=object)).tolist() == [
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["1", " 2.5", "-3e2", None], [1.0, 2.5, -300.0, None]),  # Arrow reads them all
        (["1", "十", "2", "1,000"], [1.0, None, 2.0, None]),  # one it cannot: pandas, per cell
        (["inf", "nan", "4"], [None, None, 4.0]),  # not finite: not a number
    ],
)
def test_numbers_are_read_the_same_whichever_parser_reads_them(
    tmp_path: Path, cells: list[str | None], expected: list[float | None]
) -> None:
    lines = [f"{FIN_HEADER},net_profit"]  # signed, no check across columns
    for year, cell in enumerate(cells, start=2021):
        lines.append(f"{CODE_A},{year},20000000,19000000,1000000,30000000,10000000,80,{cell or ''}")
    write_csv(tmp_path, "firms", [FIRMS_HEADER, FIRM_A, FIRM_B])
    write_csv(tmp_path, "financials", lines)
    loaded = load_sources(tmp_path)
    profit = loaded.tables["financials"]["net_profit"].reindex(range(len(cells)))
    assert [None if pd.isna(v) else v for v in profit] == expected
    refused = loaded.rejects[loaded.rejects["column"] == "net_profit"]
    assert sorted(refused["row"]) == [i for i, v in enumerate(expected) if v is None and cells[i]]


def test_a_stage_reads_the_tables_and_columns_it_names_and_passes_the_rest_on(
    tmp_path: Path,
) -> None:
    from features.sources import pass_on_saved_sources, read_saved_sources, save_sources

    (tmp_path / "data").mkdir()
    write_csv(tmp_path / "data", "firms", [FIRMS_HEADER, FIRM_A, FIRM_B])
    write_csv(tmp_path / "data", "financials", [FIN_HEADER, FIN_OK])
    save_sources(load_sources(tmp_path / "data"), tmp_path / "saved")
    some = read_saved_sources(tmp_path / "saved", {"firms": ("credit_code", "name", "nope")})
    assert list(some.tables) == ["firms"]
    assert list(some.tables["firms"].columns) == ["credit_code", "name"]
    assert some.tables["firms"].index.name == "row"
    save_sources(some, tmp_path / "later")
    pass_on_saved_sources(tmp_path / "saved", tmp_path / "later")
    later = read_saved_sources(tmp_path / "later")
    assert sorted(later.tables) == ["financials", "firms"]
    assert list(later.tables["firms"].columns) == ["credit_code", "name"]  # its own, kept
    saved_file = f"financials{SAVED_SUFFIX}"
    assert (tmp_path / "later" / saved_file).stat().st_ino == (
        tmp_path / "saved" / saved_file
    ).stat().st_ino


def test_a_saved_table_reads_back_as_it_was_written(tmp_path: Path) -> None:
    from features.sources import read_saved_table, save_table

    frame = pd.DataFrame(
        {
            "credit_code": pd.Series(["A", None, "C"], dtype="str"),
            "tier": pd.Categorical(["specialized", "little_giant", "specialized"]),
            "year": pd.array([2024, None, 2025], dtype="Int64"),
            "is_key_link": pd.array([True, None, False], dtype="boolean"),
            "on": pd.to_datetime(["2025-01-02", None, "2024-12-31"]).astype("datetime64[us]"),
            "amount": [1.5, float("nan"), 0.1 + 0.2],
        },
        index=pd.Index([7, 3, 11], name="row"),
    )
    save_table(frame, tmp_path / f"t{SAVED_SUFFIX}")
    pd.testing.assert_frame_equal(
        read_saved_table(tmp_path / f"t{SAVED_SUFFIX}"), frame, check_exact=True
    )
    some = read_saved_table(tmp_path / f"t{SAVED_SUFFIX}", ["year", "credit_code", "nope"])
    pd.testing.assert_frame_equal(some, frame[["year", "credit_code"]], check_exact=True)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zjtx.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.e2e
def test_validate_writes_rejects_and_exits_zero(tmp_path: Path) -> None:
    write_csv(tmp_path, "firms", [FIRMS_HEADER, FIRM_A, FIRM_B.replace("operating", "gone")])
    result = run_cli("validate", "--data", str(tmp_path), "--rejects", str(tmp_path / "r.csv"))
    assert result.returncode == 0, result.stderr
    rejects = pd.read_csv(tmp_path / "r.csv")
    assert list(rejects.columns[:4]) == ["table", "row", "column", "reason"]
    assert rejects.loc[0, "row"] == 1 and rejects.loc[0, "column"] == "status"


@pytest.mark.e2e
@pytest.mark.parametrize("case", [0, 4, 6], ids=["no firms", "excel", "encoding"])
def test_validate_on_unusable_input_prints_one_line_and_no_traceback(
    tmp_path: Path, case: int
) -> None:
    FATAL_CASES[case][1](tmp_path)  # type: ignore[operator]
    result = run_cli("validate", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:")


@pytest.mark.e2e
def test_sample_data_validates_cleanly() -> None:
    result = run_cli("validate", "--data", str(SAMPLE_DATA))
    assert result.returncode == 0 and "0 problems" in result.stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [c[1:] for c in FATAL_CASES if c[0] not in {"header-only firms"}],
    ids=[c[0] for c in FATAL_CASES if c[0] not in {"header-only firms"}],
)
def test_preflight_finds_file_level_problems_without_reading_rows(
    tmp_path: Path, make: object, message: str
) -> None:
    make(tmp_path)  # type: ignore[operator]
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        preflight(tmp_path)


def test_preflight_accepts_the_sample_data() -> None:
    preflight(SAMPLE_DATA)
