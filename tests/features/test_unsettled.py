"""Refused rows stay attributable to the firm they name; pending mentions name their candidates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.sources import load_sources, read_saved_sources, save_sources
from features.unsettled import PENDING_COLUMN, pending_mentions, refused_by_firm
from tests.conftest import CODE_A, CODE_B, write_csv

EVENTS_HEADER = "credit_code,event_type,occurred_on,resolved_on"
AWARDS_HEADER = "award_name,level,year,unit_name,unit_rank,unit_credit_code"


def test_refused_credit_event_is_attributed_by_its_code(data_dir: Path) -> None:
    # given a serious-dishonesty listing whose date cannot be read, and a valid one
    write_csv(
        data_dir,
        "credit_events",
        [
            EVENTS_HEADER,
            f"{CODE_B},abnormal_operation,2025-01-01,",
            f"{CODE_A},serious_dishonesty,2025年3月,",
        ],
    )
    # when
    data = load_sources(data_dir)
    refused = refused_by_firm(data)
    # then the row is refused, and still names firm A with its rejects entry
    assert len(data.tables["credit_events"]) == 1
    assert refused[["credit_code", "table", "row"]].values.tolist() == [
        [CODE_A, "credit_events", 1]
    ]
    assert "occurred_on" in refused["reason"].iloc[0]
    assert "unparseable date" in refused["reason"].iloc[0]


def test_refused_row_with_an_invalid_code_names_no_firm(data_dir: Path) -> None:
    # given a refused row whose code fails its check character: no registry firm is named
    write_csv(
        data_dir,
        "credit_events",
        [EVENTS_HEADER, "91440300MA5F00001B,serious_dishonesty,2025-03-01,"],
    )
    # when / then
    data = load_sources(data_dir)
    assert len(data.refused) == 1
    assert refused_by_firm(data).empty


def test_refused_award_is_attributed_by_the_name_the_matcher_links(data_dir: Path) -> None:
    # given an award row refused for its year, naming firm A by name only, and one naming nobody
    write_csv(
        data_dir,
        "awards",
        [
            AWARDS_HEADER,
            "国家科学技术进步奖,national,二〇二四,深圳市华芯微电子有限公司,1,",
            "国家科学技术进步奖,national,二〇二四,北京某某研究院,1,",
        ],
    )
    # when
    refused = refused_by_firm(load_sources(data_dir))
    # then only the linked name is attributed
    assert refused[["credit_code", "table", "row"]].values.tolist() == [[CODE_A, "awards", 0]]
    assert "year" in refused["reason"].iloc[0]


def test_orphan_ip_holder_is_attributed_by_its_holder(data_dir: Path) -> None:
    # given a holder row of a right that ip_rights does not hold (refused as an orphan)
    write_csv(
        data_dir,
        "ip_rights",
        [
            "ip_id,ip_type,title,granted_on,status,transferred_in",
            "ZL1,invention_patent,一种装置,2021-01-01,valid,false",
        ],
    )
    write_csv(
        data_dir,
        "ip_holders",
        [
            "ip_id,holder_name,holder_rank,holder_credit_code",
            f"ZL1,深圳市华芯微电子有限公司,1,{CODE_A}",
            f"ZL2,深圳市华芯微电子有限公司,1,{CODE_A}",
        ],
    )
    # when
    refused = refused_by_firm(load_sources(data_dir))
    # then
    assert refused[["credit_code", "table", "row"]].values.tolist() == [[CODE_A, "ip_holders", 1]]
    assert "ip_id not in ip_rights" in refused["reason"].iloc[0]


def test_refused_identities_survive_saving(data_dir: Path, tmp_path: Path) -> None:
    write_csv(data_dir, "credit_events", [EVENTS_HEADER, f"{CODE_A},serious_dishonesty,,"])
    data = load_sources(data_dir)
    save_sources(data, tmp_path / "saved")
    again = read_saved_sources(tmp_path / "saved")
    pd.testing.assert_frame_equal(again.refused, data.refused)
    assert refused_by_firm(again)["credit_code"].tolist() == [CODE_A]


def test_pending_mentions_copy_the_row_once_per_candidate(data_dir: Path) -> None:
    # given an award whose unit the matcher could not decide between firms A and B
    write_csv(
        data_dir,
        "awards",
        [AWARDS_HEADER, "国家技术发明奖,national,2025,华芯公司,1,"],
    )
    data = load_sources(data_dir)
    queue = pd.DataFrame(
        {
            "source": ["awards"],
            "row": [0],
            "column": ["unit_name"],
            "raw_name": ["华芯公司"],
            "candidate_codes": [f"{CODE_A}|{CODE_B}"],
        }
    )
    # when
    pending = pending_mentions(data, queue)
    # then
    awards = pending.tables["awards"]
    assert awards["unit_credit_code"].tolist() == [CODE_A, CODE_B]
    assert awards[PENDING_COLUMN].iloc[0] == "第0行 unit_name「华芯公司」"
    # a queue row no longer in the data (e.g. dated after as_of) is left out
    gone = queue.assign(row=[5])
    assert pending_mentions(data, gone).tables == {}
