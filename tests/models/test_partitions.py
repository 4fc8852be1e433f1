"""Each province's share of a run's data (models/partitions.py): what a province task reads."""

from __future__ import annotations

import pandas as pd

from features.sources import SourceData
from models.partitions import Provinces


def text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def test_each_province_gets_the_rows_of_its_firms_and_of_the_mentions_naming_them() -> None:
    # given: two Guangdong firms (one moved in from Jiangsu), a Jiangsu firm, one without a
    # region; a supply relation across the two provinces, a patent pending review whose
    # candidates are in both, and a reference table
    firms = pd.DataFrame(
        {
            "credit_code": text("G1", "G2", "J1", "N1"),
            "region_code": text("440305", "320506", "320101", None),
            "status": text("operating", "moved_out", "operating", "operating"),
            "moved_to_region_code": text(None, "440106", None, None),
        }
    )
    financials = pd.DataFrame({"credit_code": text("J1", "G2", "X9", "G1"), "year": [1, 2, 3, 4]})
    supply = pd.DataFrame(
        {
            "supplier_credit_code": text("G1", "J1", None),
            "customer_credit_code": text("J1", "J1", "G2"),
        }
    )
    holders = pd.DataFrame({"ip_id": text("P1", "P2"), "holder_credit_code": text("G1", "J1")})
    rights = pd.DataFrame({"ip_id": text("P1", "P2", "P3"), "title": text("a", "b", "c")})
    chain = pd.DataFrame({"chain": text("c"), "node": text("n")})
    live = SourceData(
        tables={
            "firms": firms,
            "financials": financials,
            "supply_chain": supply,
            "ip_holders": holders,
            "ip_rights": rights,
            "chain_nodes": chain,
        }
    )
    pending = SourceData(
        tables={
            "ip_holders": pd.DataFrame(
                {"ip_id": text("P3", "P3"), "holder_credit_code": text("G2", "J1")}
            )
        }
    )
    features = pd.DataFrame({"score": [1.0, 2.0, 3.0, 4.0]}, index=text("J1", "N1", "G2", "G1"))
    # when
    provinces = Provinces(firms)
    shares = {share.province: share for share in provinces.shares(live, pending)}
    features_of = dict(provinces.feature_shares(features))
    # then: provinces in code order, the firm without a region in none
    assert list(shares) == ["32", "44"]
    guangdong, jiangsu = shares["44"], shares["32"]
    assert guangdong.sources.tables["firms"]["credit_code"].tolist() == ["G1", "G2"]
    assert jiangsu.sources.tables["firms"]["credit_code"].tolist() == ["J1"]
    assert guangdong.sources.tables["financials"]["year"].tolist() == [2, 4]
    # a relation between two provinces is in both shares; rows keep their numbers
    assert guangdong.sources.tables["supply_chain"].index.tolist() == [0, 2]
    assert jiangsu.sources.tables["supply_chain"].index.tolist() == [0, 1]
    # the pending mention is in each candidate's share, with the right it names
    assert guangdong.pending.tables["ip_holders"]["holder_credit_code"].tolist() == ["G2"]
    assert jiangsu.pending.tables["ip_holders"]["holder_credit_code"].tolist() == ["J1"]
    assert guangdong.sources.tables["ip_rights"]["ip_id"].tolist() == ["P1", "P3"]
    assert jiangsu.sources.tables["ip_rights"]["ip_id"].tolist() == ["P2", "P3"]
    assert guangdong.sources.tables["chain_nodes"].equals(chain)
    assert list(features_of) == ["32", "44"]
    assert features_of["44"].index.tolist() == ["G2", "G1"]
    assert features_of["32"]["score"].tolist() == [1.0]


def test_each_province_gets_the_refused_rows_naming_its_firms() -> None:
    # given: refused rows naming a Guangdong firm that moved in, a Jiangsu firm, and a firm
    # outside the registry
    firms = pd.DataFrame(
        {
            "credit_code": text("G1", "J1"),
            "region_code": text("320506", "320101"),
            "status": text("moved_out", "operating"),
            "moved_to_region_code": text("440106", None),
        }
    )
    refused = pd.DataFrame(
        {"credit_code": text("J1", "X9", "G1", "J1"), "table": text("a", "b", "c", "d")}
    )
    # when
    shares = dict(Provinces(firms).refused_shares(refused))
    # then: the receiving province holds its moved firm's rows; a row of no firm is in none
    assert list(shares) == ["32", "44"]
    assert shares["44"]["table"].tolist() == ["c"]
    assert shares["32"]["table"].tolist() == ["a", "d"]
    assert shares["32"].index.tolist() == [0, 1]
