"""The review tables read only what the queue names (issue 25) and change no value: the firms
its candidates and counterparts name, the IP rights its mentions cite."""

from __future__ import annotations

import dataclasses

import pandas as pd

from features.match_decisions import mention_context
from features.match_registry import Registry
from features.match_review import (
    SHEET_COLUMNS,
    _firm_table,
    review_candidates,
    review_sheet,
    review_tables,
)
from features.matching import link_mentions, review_queue
from features.sources import SourceData
from tests.features.test_match_speed import _world


def _odd_world() -> SourceData:
    """`_world` with a firm code given twice (the first row counts) and IP rights, one of them
    given twice with another title."""
    data = _world()
    firms = data.tables["firms"]
    again = firms.iloc[[5, 70]].assign(name="重复登记有限公司", region_code="110101")
    again.index = pd.RangeIndex(len(firms), len(firms) + 2)
    listed = data.tables["ip_holders"]["ip_id"].tolist()[::2]  # every other right
    rights = pd.DataFrame(
        {
            "ip_id": pd.array([*listed, *listed, "ZL-other"], dtype="str"),
            "title": pd.array(
                [f"专利{i}" for i in range(len(listed))] + ["后来的标题"] * len(listed) + ["无关"],
                dtype="str",
            ),
        }
    )
    tables = {**data.tables, "firms": pd.concat([firms, again]), "ip_rights": rights}
    return dataclasses.replace(data, tables=tables)


def test_review_tables_from_the_named_firms_equal_those_from_every_firm() -> None:
    # given a world with pending supplier, customer and holder mentions
    data = _odd_world()
    registry = Registry.from_sources(data)
    links = link_mentions(data, registry=registry)
    # when the review tables are built from the firms the queue names
    review = review_tables(links, data, registry=registry)
    # then they equal those built from every firm
    every_firm = _firm_table(data)
    sheet = review_sheet(links, data, every_firm)
    pd.testing.assert_frame_equal(review.sheet, sheet, check_exact=True)
    pd.testing.assert_frame_equal(
        review.candidates,
        review_candidates(sheet, links, data, registry=registry, firms=every_firm),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(review.sheet, review_sheet(links, data), check_exact=True)
    assert (review.sheet["counterpart_region"] != "").any()
    assert (review.candidates["former_names"] != "").any()
    # and the sheet less its own columns is the review queue the flow hands the criteria
    queue = review.sheet.drop(columns=list(SHEET_COLUMNS))
    pd.testing.assert_frame_equal(queue, review_queue(links), check_exact=True)


def test_firm_table_of_some_codes_is_those_rows_of_the_full_table() -> None:
    # given codes of firms with and without former names, one given twice, one unknown
    data = _odd_world()
    codes = data.tables["firms"]["credit_code"].iloc[[3, 5, 9, 40, 70]].tolist()
    # when the firm table is built for those codes only
    some = _firm_table(data, {*codes, "91000000000000000X"})
    # then it holds those firms' rows of the full table, the first row of a code given twice
    full = _firm_table(data)
    pd.testing.assert_frame_equal(some.sort_index(), full.loc[sorted(codes)], check_exact=True)
    assert some.loc[codes[0], "former_names"] == "旧华科有限公司"
    assert some.loc[codes[1], "name"] != "重复登记有限公司"


def test_context_title_is_the_first_of_the_right_the_mention_cites() -> None:
    # given holder mentions of rights listed once, twice (another title later) or not at all
    data = _odd_world()
    queue = review_queue(link_mentions(data))
    holders = queue[queue["source"] == "ip_holders"]
    # when their context is shown
    context = mention_context(data, holders)
    # then it carries the title of the right's first row, and none for an unlisted right
    ip_id = data.tables["ip_holders"]["ip_id"].reindex(holders["row"].to_numpy()).to_numpy()
    titles = data.tables["ip_rights"].drop_duplicates("ip_id").set_index("ip_id")["title"]
    with_title = 0
    for shown, right in zip(context, ip_id, strict=True):
        title = titles.get(right)
        assert shown.startswith(f"title: {title}；") if title else "title:" not in shown
        with_title += bool(title)
    assert 0 < with_title < len(context)
    assert "后来的标题" not in "".join(context)
