"""Officials' match decisions (issue 14): stable mention keys, applied before every stage,
never queued again, surviving a rename; a filled review sheet checked row by row."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pandas as pd
import pytest

from features.match_decisions import (
    Decision,
    DecisionConflict,
    DecisionStore,
    DecisionStoreError,
    mention_keys,
)
from features.match_review import _per_candidate, check_filled_sheet, review_sheet
from features.matching import collect_mentions, link_mentions, review_queue
from features.sources import SourceData
from tests.features.test_matching import _firms, _valid

SHENZHEN = _valid("91440300000000011")
GUANGZHOU = _valid("91440101000000012")
FIRMS = _firms(
    (SHENZHEN, "深圳市华芯微电子有限公司", "440305"),
    (GUANGZHOU, "广州市华芯微电子有限公司", "440106"),
)


def _holders(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ip_id": pd.array([r[0] for r in rows], dtype="str"),
            "holder_name": pd.array([r[1] for r in rows], dtype="str"),
            "holder_rank": pd.array([1] * len(rows), dtype="Int64"),
            "holder_credit_code": pd.array([None] * len(rows), dtype="str"),
        }
    )


def _data(rows: list[tuple[str, str]], firms: pd.DataFrame = FIRMS, **tables) -> SourceData:
    return SourceData(tables={"firms": firms, "ip_holders": _holders(rows), **tables})


def _decide(store: DecisionStore, data: SourceData, row: int, code: str) -> None:
    links = link_mentions(data)
    sheet = review_sheet(links, data)
    pending = sheet[sheet["row"] == row].iloc[0]
    store.record(
        [
            Decision(
                mention_key=pending["mention_key"],
                source="ip_holders",
                column="holder_name",
                raw_name=pending["raw_name"],
                credit_code=code,
                decided_by="tester",
            )
        ]
    )


def test_mention_key_ignores_row_number_but_not_attributes() -> None:
    # given the same two mentions in two row orders, and a third with another patent
    first = _data([("ZL1", "华芯微电子有限公司"), ("ZL2", "华芯微电子有限公司")])
    swapped = _data([("ZL2", "华芯微电子有限公司"), ("ZL1", "华芯微电子有限公司")])
    keys = mention_keys(first, collect_mentions(first)).tolist()
    keys_swapped = mention_keys(swapped, collect_mentions(swapped)).tolist()
    # then a mention keeps its key wherever it sits, and another patent is another mention
    assert keys == keys_swapped[::-1]
    assert keys[0] != keys[1]


def test_decision_links_before_any_stage_and_never_queues_again(tmp_path: Path) -> None:
    # given an ambiguous mention (two Guangdong firms share the trade name) in review
    store = DecisionStore(tmp_path / "decisions.sqlite")
    data = _data([("ZL1", "华芯微电子有限公司"), ("ZL2", "华芯微电子有限公司")])
    assert len(review_queue(link_mentions(data))) == 2
    # when an official decides the first one
    _decide(store, data, 0, SHENZHEN)
    links = link_mentions(data, decisions=store.current())
    # then it is linked by decision and only the other stays in the queue
    assert links.loc[0, "method"] == "decision" and links.loc[0, "credit_code"] == SHENZHEN
    assert review_queue(links)["row"].tolist() == [1]
    # and "none" leaves the second unlinked, out of the queue too
    _decide(store, data, 1, "none")
    links = link_mentions(data, decisions=store.current())
    assert links.loc[1, "method"] == "decision" and pd.isna(links.loc[1, "credit_code"])
    assert review_queue(links).empty


def test_decision_survives_a_rename_of_the_firm(tmp_path: Path) -> None:
    # given a decision for the Shenzhen firm
    store = DecisionStore(tmp_path / "decisions.sqlite")
    data = _data([("ZL1", "华芯微电子有限公司")])
    _decide(store, data, 0, SHENZHEN)
    # when the firm is renamed (Article 19): new name, the old one in name_history
    renamed = FIRMS.copy()
    renamed.loc[renamed["credit_code"] == SHENZHEN, "name"] = "深圳市芯光半导体有限公司"
    history = pd.DataFrame(
        {
            "credit_code": pd.array([SHENZHEN], dtype="str"),
            "former_name": pd.array(["深圳市华芯微电子有限公司"], dtype="str"),
            "changed_on": pd.to_datetime(["2026-01-01"]),
        }
    )
    after = _data([("ZL1", "华芯微电子有限公司")], firms=renamed, name_history=history)
    links = link_mentions(after, decisions=store.current())
    # then the mention still belongs to the firm, under its new name
    assert links.loc[0, "credit_code"] == SHENZHEN
    assert links.loc[0, "matched_name"] == "深圳市芯光半导体有限公司"


def test_filled_sheet_is_checked_row_by_row(tmp_path: Path) -> None:
    # given a pending queue of four mentions, one of them already decided
    data = _data([(f"ZL{i}", "华芯微电子有限公司") for i in range(4)])
    sheet = review_sheet(link_mentions(data), data)
    store = DecisionStore(tmp_path / "decisions.sqlite")
    _decide(store, data, 2, GUANGZHOU)
    filled = sheet.copy()
    filled["decision"] = [SHENZHEN, "91110108551385082Q", GUANGZHOU, "9144030000000001X"]
    extra = sheet.iloc[[0]].assign(mention_key="ip_holders:" + "0" * 24, decision="none")
    blank = sheet.iloc[[1]].assign(decision="")
    filled = pd.concat([filled, extra, blank], ignore_index=True)
    # when it is checked
    result = check_filled_sheet(filled, sheet, store.current(), "tester")
    # then the good row is accepted and each bad one refused with its reason
    assert [(d.mention_key, d.credit_code) for d in result.decisions] == [
        (sheet.loc[0, "mention_key"], SHENZHEN)
    ]
    reasons = dict(zip(result.refused["row"], result.refused["reason"], strict=True))
    assert sorted(reasons) == [1, 2, 3, 4]
    assert reasons[1].startswith("unknown code") and "candidates" in reasons[1]
    assert reasons[2].startswith("stale: already decided")
    assert reasons[3].startswith("unknown code") and "not a valid credit code" in reasons[3]
    assert reasons[4].startswith("stale: the mention is not in the current review queue")
    assert result.blank == 1


def test_candidate_names_and_regions_are_joined_per_mention_in_candidate_order() -> None:
    names = pd.Series({"A": "甲公司", "B": "乙公司", "C": None})
    codes = pd.Series(["B|A", "", None, "A|Z|C", "C"], index=[10, 11, 12, 13, 14])
    assert _per_candidate(codes, names) == ["乙公司|甲公司", "", "", "甲公司||", ""]
    assert _per_candidate(pd.Series([], dtype="object"), names) == []


def test_registered_code_given_later_wins_over_a_none_decision(tmp_path: Path) -> None:
    # given "none of these" decided for a patent holder the source named without a code
    store = DecisionStore(tmp_path / "decisions.sqlite")
    data = _data([("ZL1", "华芯微电子有限公司")])
    _decide(store, data, 0, "none")
    assert link_mentions(data, decisions=store.current()).loc[0, "method"] == "decision"
    # when the source later supplies the row's registered credit code
    holders = _holders([("ZL1", "华芯微电子有限公司")])
    holders["holder_credit_code"] = pd.array([SHENZHEN], dtype="str")
    coded = SourceData(tables={"firms": FIRMS, "ip_holders": holders})
    links = link_mentions(coded, decisions=store.current())
    # then the code links it, the old decision notwithstanding
    assert links.loc[0, "method"] == "code" and links.loc[0, "credit_code"] == SHENZHEN


def _by(
    who: str, role: str, province: str = "", action: str = "decide", code: str = "none"
) -> Decision:
    return Decision(
        mention_key="ip_holders:" + "a" * 24,
        source="ip_holders" if action != "undo" else "",
        column="holder_name" if action != "undo" else "",
        raw_name="华芯微电子有限公司" if action != "undo" else "",
        credit_code=code if action != "undo" else "",
        decided_by=who,
        action=action,
        decider_id=f"token-{who}",
        role=role,
        province=province,
        run_id="20260701",
    )


def test_store_file_is_private_and_keeps_who_decided(tmp_path: Path) -> None:
    # given a store in a folder that does not exist yet
    store = DecisionStore(tmp_path / "matching" / "decisions.sqlite")
    # when a province official decides
    store.record([_by("李四", "province", "44", code=SHENZHEN)])
    # then only the service's user may read the file and its folder
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    # and the row keeps token id, role, province and run beside the name
    (row,) = store.current().to_dict(orient="records")
    assert (row["decider_id"], row["role"], row["province"], row["run_id"]) == (
        "token-李四",
        "province",
        "44",
        "20260701",
    )


def test_two_deciders_cannot_both_decide_one_mention(tmp_path: Path) -> None:
    # given the ministry and a province, each with its own handle on the same file
    ministry = DecisionStore(tmp_path / "decisions.sqlite")
    province = DecisionStore(tmp_path / "decisions.sqlite")
    ministry.record([_by("王五", "ministry", code=SHENZHEN)])
    # when the province decides the same mention, having seen it pending
    with pytest.raises(DecisionConflict, match="already decided"):
        province.record([_by("李四", "province", "44")])
    # then the first decision alone is recorded
    assert ministry.history()["decided_by"].tolist() == ["王五"]


def test_undo_and_supersede_by_the_deciding_province_or_the_ministry(tmp_path: Path) -> None:
    # given a decision by Guangdong
    store = DecisionStore(tmp_path / "decisions.sqlite")
    store.record([_by("李四", "province", "44", code=SHENZHEN)])
    # then another province may neither undo nor supersede it
    with pytest.raises(DecisionConflict, match="only the ministry or that province"):
        store.record([_by("赵六", "province", "11", action="undo")])
    with pytest.raises(DecisionConflict, match="only the ministry or that province"):
        store.record([_by("赵六", "province", "11", action="supersede", code=GUANGZHOU)])
    # when Guangdong supersedes its own decision
    store.record([_by("李四", "province", "44", action="supersede", code=GUANGZHOU)])
    assert store.current()["credit_code"].tolist() == [GUANGZHOU]
    # and undoes it: the mention is pending again, its undo row keeps the mention
    (undone,) = store.record([_by("李四", "province", "44", action="undo")])
    assert undone.raw_name == "华芯微电子有限公司" and store.current().empty
    # and a new decision by the ministry may then be undone by the ministry only
    store.record([_by("王五", "ministry", code=SHENZHEN)])
    with pytest.raises(DecisionConflict):
        store.record([_by("李四", "province", "44", action="undo")])
    store.record([_by("王五", "ministry", action="undo")])
    assert store.current().empty
    assert store.history()["action"].tolist() == [
        "decide",
        "supersede",
        "undo",
        "decide",
        "undo",
    ]
    # and nothing to undo is refused too
    with pytest.raises(DecisionConflict, match="no decision in force"):
        store.record([_by("王五", "ministry", action="undo")])


def test_version_changes_with_every_batch_whoever_records_it(tmp_path: Path) -> None:
    # given no store file yet: a version, and no file made by asking for it
    path = tmp_path / "decisions.sqlite"
    service, other = DecisionStore(path), DecisionStore(path)  # two handles, as two processes
    assert service.version() == (0, 0, 0) and not path.exists()
    # when one handle records, both see the new version; reading alone changes nothing
    service.record([_by("李四", "province", "44", code=SHENZHEN)])
    first = service.version()
    assert other.version() == first != (0, 0, 0)
    service.current()
    assert service.version() == first
    # and a batch through the other handle (a supersede, then an undo) changes it each time
    other.record([_by("李四", "province", "44", action="supersede", code=GUANGZHOU)])
    second = service.version()
    other.record([_by("李四", "province", "44", action="undo")])
    third = service.version()
    assert len({first, second, third}) == 3
    # a refused batch records nothing and leaves the version as it was
    with pytest.raises(DecisionConflict):
        other.record([_by("王五", "ministry", action="undo")])
    assert service.version() == third
    # a row deleted by hand (outside the store) changes it too
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("delete from decisions where id = 1")
    connection.close()
    assert service.version() != third


def test_store_of_the_old_schema_is_migrated_without_losing_rows(tmp_path: Path) -> None:
    # given a store file written before issue 28, mode 0644
    path = tmp_path / "decisions.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(
            "create table decisions (id integer primary key autoincrement, mention_key text "
            'not null, source text not null, "column" text not null, raw_name text not null, '
            "credit_code text not null, decided_by text not null, decided_at text not null, "
            "note text not null default '', channel text not null);"
        )
        old.execute(
            'insert into decisions (mention_key, source, "column", raw_name, credit_code, '
            "decided_by, decided_at, channel) values (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "ip_holders:" + "a" * 24,
                "ip_holders",
                "holder_name",
                "华芯",
                "none",
                "张三",
                "t",
                "x",
            ),
        )
    old.close()
    path.chmod(0o644)
    store = DecisionStore(path)
    # when it is read and written by the new code
    (row,) = store.current().to_dict(orient="records")
    # then the old row is in force, as a decision of unknown role: only the ministry changes it
    assert (row["decided_by"], row["action"], row["role"]) == ("张三", "decide", "")
    with pytest.raises(DecisionConflict):
        store.record([_by("李四", "province", "44", action="undo")])
    store.record([_by("王五", "ministry", action="supersede", code=SHENZHEN)])
    assert store.history()["decided_by"].tolist() == ["张三", "王五"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_corrupt_or_locked_store_is_one_clear_error(tmp_path: Path) -> None:
    # given a store file that is not SQLite, and one another writer holds locked
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"this is not a database" * 100)
    locked = DecisionStore(tmp_path / "locked.sqlite", timeout=0.1)
    locked.record([_by("王五", "ministry")])
    holder = sqlite3.connect(locked.path, isolation_level=None)
    holder.execute("begin exclusive")
    try:
        # then each read or write fails with a one-line DecisionStoreError naming the file
        for store in (DecisionStore(corrupt), locked):
            with pytest.raises(DecisionStoreError, match=str(store.path)) as raised:
                store.current()
            assert "\n" not in str(raised.value)
            with pytest.raises(DecisionStoreError):
                store.record([_by("李四", "province", "44", action="undo")])
    finally:
        holder.close()


BEIJING = _valid("91110108000000013")


@pytest.mark.parametrize(("customer", "province"), [(GUANGZHOU, "44"), (BEIJING, None)])
def test_a_supply_mention_whose_counterpart_is_in_another_province_is_for_the_ministry(
    tmp_path: Path, customer: str, province: str | None
) -> None:
    # issue 28: the decision changes both provinces' chain features
    from core.run_layout import MATCH_REVIEW
    from features.match_review import sheet_province, write_review_files
    from tests.features.ranking_frames import typed

    firms = _firms(
        (SHENZHEN, "深圳市华芯微电子有限公司", "440305"),
        (GUANGZHOU, "广州市华芯微电子有限公司", "440106"),
        (BEIJING, "北京市链主科技有限公司", "110108"),
    )
    supply = typed(
        "supply_chain",
        [
            {
                "supplier_name": "华芯微电子",
                "customer_name": "链主",
                "customer_credit_code": customer,
                "chain": "集成电路",
                "node": "光刻胶",
                "year": 2025,
                "amount": 1e6,
            }
        ],
    )
    data = SourceData(tables={"firms": firms, "supply_chain": supply})
    links = link_mentions(data)
    sheet = write_review_files(links, data, tmp_path)
    pending = sheet[sheet["column"] == "supplier_name"]
    assert len(pending) == 1  # two candidates in Guangdong
    assert (
        pending["counterpart_region"].iloc[0]
        == firms.set_index("credit_code").at[customer, "region_code"]
    )
    decided_by = sheet_province(pending).iloc[0]
    assert (decided_by if isinstance(decided_by, str) else None) == province
    sheets = {p.name for p in (tmp_path / MATCH_REVIEW).glob("*")}
    assert sheets == ({"44.csv", "44.xlsx"} if province else set())
