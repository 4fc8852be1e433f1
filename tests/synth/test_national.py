"""National runs (issue 26): the census figures, the spread, province-by-province writing and the
records that name firms of other provinces."""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path

import pandas as pd
import pytest

from features.schemas import SCHEMAS, credit_code_is_valid
from features.sources import load_sources
from synth import SynthConfig, generate, load_synth_config
from synth.national import allocate, choose_provinces, load_enterprise_counts, serial_blocks
from synth.regions import ADMIN_DIVISIONS
from tests.synth.conftest import read

# 第四次全国经济普查公报（第七号）表7-1: published totals of 法人单位, 2018年末, 万个.
BULLETIN_TOTALS = {"east": 1280.2, "central": 492.9, "west": 405.8}
BULLETIN_TOTAL = 2178.9
BULLETIN_ANCHORS = {"44": 312.7, "32": 205.4, "37": 180.1}  # the top three named in the text
HALF_UNIT = 0.05  # figures are rounded to 0.1 and totals are not adjusted for rounding
generate_module = importlib.import_module("synth.generate")  # the module, not the function

PROVINCES = "12,46,54"  # 天津 and two provinces at the floor: three worlds, a few seconds
FIRMS = 500
SEED = 13


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return load_enterprise_counts(load_synth_config().national)


@pytest.fixture(scope="module")
def national_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("national")
    generate(FIRMS, SEED, out, provinces=PROVINCES)
    return out


def _digests(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def _resolved(directory: Path, source: str) -> pd.DataFrame:
    """truth/mentions.csv rows of one table that name a registry firm, with its province."""
    mentions = read(directory, "truth/mentions")
    rows = mentions[(mentions["source"] == source) & (mentions["credit_code"] != "")]
    return rows.assign(row=rows["row"].astype(int), province=rows["credit_code"].str[2:4])


# --------------------------------------------------------------------------- the census figures
def test_enterprise_counts_are_the_bulletins_31_figures(counts: pd.DataFrame) -> None:
    divisions = pd.read_csv(ADMIN_DIVISIONS, dtype=str)
    mainland = divisions[(divisions["level"] == "province") & (divisions["code"] < "700000")]
    # every province of mainland China once, named as the divisions name it
    assert len(counts) == 31 and counts["code"].is_unique
    assert set(counts["code"] + "0000") == set(mainland["code"])
    names = dict(zip(mainland["code"].str[:2], mainland["name"], strict=True))
    assert (counts["name"] == counts["code"].map(names)).all()
    assert (counts["count"] > 0).all()
    assert set(counts["unit"]) == {"万个"} and counts["source"].str.len().gt(0).all()
    for code, figure in BULLETIN_ANCHORS.items():
        assert counts.loc[counts["code"] == code, "count"].item() == figure
    # the regional sums and the national total are the bulletin's, to its rounding
    assert set(counts["region"]) == set(BULLETIN_TOTALS)
    for region, total in BULLETIN_TOTALS.items():
        figures = counts.loc[counts["region"] == region, "count"]
        assert abs(figures.sum() - total) <= HALF_UNIT * len(figures) + 1e-9, region
    assert abs(counts["count"].sum() - BULLETIN_TOTAL) <= HALF_UNIT * len(counts) + 1e-9
    assert (counts["region"] == "east").sum() == 11 and (counts["region"] == "central").sum() == 8


# --------------------------------------------------------------------------- the spread
def test_firms_follow_the_counts_above_a_floor(counts: pd.DataFrame) -> None:
    weights = dict(zip(counts["code"], counts["count"], strict=True))
    # when spreading 200,000 firms over the 31 provinces
    spread = allocate(200_000, weights, 100)
    # then every firm is placed, each province gets its share (广东 14.4 %, 西藏 at least 100)
    assert sum(spread.values()) == 200_000 and min(spread.values()) >= 100
    total = sum(weights.values())
    for code in ("44", "32", "11", "65"):
        assert abs(spread[code] - 200_000 * weights[code] / total) < 1
    assert spread["54"] == 431  # 200,000 × 4.7 / 2178.6 = 431.5
    # and below the floor the small provinces get the minimum, the others share the rest
    small = allocate(5_000, weights, 100)
    assert sum(small.values()) == 5_000 and small["54"] == small["64"] == 100
    assert small["44"] > small["32"] > small["37"] > 100
    assert allocate(3_100, weights, 100) == dict.fromkeys(sorted(weights), 100)
    with pytest.raises(ValueError, match="at least 3,100 firms"):
        allocate(3_099, weights, 100)


def test_provinces_are_named_all_or_by_code(counts: pd.DataFrame) -> None:
    assert choose_provinces("all", counts) == sorted(counts["code"])
    assert choose_provinces(" 44, 32 ", counts) == ["32", "44"]
    for wrong, reason in (("71", "no province"), ("44,44", "twice"), (" , ", "give")):
        with pytest.raises(ValueError, match=reason):
            choose_provinces(wrong, counts)


def test_ip_serial_blocks_are_disjoint_and_follow_the_firms() -> None:
    blocks = serial_blocks({"11": 300, "12": 100, "46": 100})
    assert [len(b) for b in blocks.values()] == [6_000_000, 2_000_000, 2_000_000]
    assert blocks["11"].stop == blocks["12"].start and blocks["12"].stop == blocks["46"].start


# --------------------------------------------------------------------------- the data set
def test_a_national_data_set_follows_the_contract(national_dir: Path) -> None:
    data = load_sources(national_dir)
    assert set(data.tables) == set(SCHEMAS)
    assert data.rejects.empty, data.rejects.head(10).to_string()
    for table, schema in SCHEMAS.items():
        lines = (national_dir / f"{table}.csv").read_text(encoding="utf-8").splitlines()
        assert lines[0].split(",") == list(schema.columns), table
        assert lines.count(lines[0]) == 1, table  # one header, however many provinces


def test_firms_are_spread_with_unique_codes_of_their_province(national_dir: Path) -> None:
    firms = read(national_dir, "firms")
    codes = firms["credit_code"]
    assert codes.is_unique and credit_code_is_valid(codes).all()
    assert codes.is_monotonic_increasing  # province blocks in code order, sorted within
    record = json.loads((national_dir / "truth" / "world.json").read_text("utf-8"))
    spread = record["national"]["provinces"]
    assert spread == {"12": 298, "46": 102, "54": 100}  # 54 at the floor, the rest shared
    assert codes.str[2:4].value_counts().sort_index().to_dict() == spread
    latent = read(national_dir, "truth/firms_latent")
    assert sorted(latent["credit_code"]) == sorted(codes)
    assert read(national_dir, "ip_rights")["ip_id"].is_unique
    chain_nodes = read(national_dir, "chain_nodes")
    assert not chain_nodes.duplicated(["chain", "node"]).any()  # written once


def test_records_name_firms_of_other_provinces_as_real_data_does(national_dir: Path) -> None:
    # supply relations: a supplier of one province, a customer of another
    supply = _resolved(national_dir, "supply_chain")
    supplier = supply[supply["column"] == "supplier_name"].set_index("row")["province"]
    customer = supply[supply["column"] == "customer_name"].set_index("row")["province"]
    both = pd.concat([supplier, customer], axis=1, keys=["supplier", "customer"]).dropna()
    assert (both["supplier"] != both["customer"]).sum() > 0
    # IP rights held together by firms of two provinces
    holders = _resolved(national_dir, "ip_holders")
    ip_id = read(national_dir, "ip_holders")["ip_id"].to_numpy()
    provinces_per_right = holders.assign(ip=ip_id[holders["row"]]).groupby("ip")["province"]
    assert (provinces_per_right.nunique() > 1).sum() > 0
    # the firm named elsewhere is a large firm (no candidate's criteria change) in firms.csv
    mentions = read(national_dir, "truth/mentions")
    rows = mentions[mentions["credit_code"] != ""]
    other = rows[rows["source"].isin(["supply_chain", "ip_holders"])]
    latent = read(national_dir, "truth/firms_latent").set_index("credit_code")
    named_elsewhere = set(both.index[both["supplier"] != both["customer"]])
    customers = supply[(supply["column"] == "customer_name") & supply["row"].isin(named_elsewhere)]
    assert set(latent.loc[customers["credit_code"], "segment"]) == {"large"}
    # written with the usual mess, not only as registered
    assert customers["variant"].nunique() > 2
    assert set(other["credit_code"]) <= set(read(national_dir, "firms")["credit_code"])


def test_mention_truth_points_at_the_rows_of_every_province(national_dir: Path) -> None:
    firms = read(national_dir, "firms").set_index("credit_code")["name"]
    mentions = read(national_dir, "truth/mentions")
    for source, group in mentions.groupby("source"):
        table = read(national_dir, str(source))
        rows = group["row"].astype(int).to_numpy()
        assert rows.max() < len(table)
        exact = group[(group["variant"] == "exact").to_numpy()]
        for column, part in exact.groupby("column"):
            text = table[str(column)].to_numpy()[part["row"].astype(int).to_numpy()]
            assert (text == firms.reindex(part["credit_code"]).to_numpy()).all(), source


def test_same_seed_gives_the_same_national_bytes(national_dir: Path, tmp_path: Path) -> None:
    generate(FIRMS, SEED, tmp_path, provinces=PROVINCES)
    assert _digests(tmp_path) == _digests(national_dir)


def test_one_province_world_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a spy on the world builder
    built: list[tuple[int, list[str]]] = []
    real = generate_module.build_world

    def spy(n_firms: int, seed: object, config: SynthConfig, *args: object, **kwargs: object):
        built.append((n_firms, [p.code for p in config.provinces]))
        return real(n_firms, seed, config, *args, **kwargs)

    monkeypatch.setattr(generate_module, "build_world", spy)
    # when generating two provinces
    generate(200, 1, tmp_path, provinces="46,54")
    # then each world holds one province's firms, never the nation's
    assert built == [(100, ["46"]), (100, ["54"])]
