"""The generated files follow the source contract: the loader refuses no row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.schemas import SCHEMAS, credit_code_is_valid
from features.sources import load_sources
from synth.codes import credit_code_valid, credit_codes, patent_numbers
from synth.regions import ADMIN_DIVISIONS
from tests.synth.conftest import read


def test_loader_refuses_no_generated_row(out_dir: Path) -> None:
    # when the lead's loader reads the generated directory
    data = load_sources(out_dir)
    # then every contract table is there and nothing is rejected
    assert set(data.tables) == set(SCHEMAS)
    assert data.rejects.empty, data.rejects.head(10).to_string()


def test_every_table_has_exactly_the_contract_columns(out_dir: Path) -> None:
    for table, schema in SCHEMAS.items():
        header = (out_dir / f"{table}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.split(",") == list(schema.columns), table


def test_booleans_dates_and_amounts_are_written_as_the_contract_says(out_dir: Path) -> None:
    financials = read(out_dir, "financials")
    assert set(financials["audited"]) <= {"true", "false", ""}
    assert financials["revenue"].str.fullmatch(r"\d+\.\d{2}").all()  # yuan, two decimals
    firms = read(out_dir, "firms")
    dates = firms["established_on"][firms["established_on"] != ""]
    assert dates.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    shares = read(out_dir, "products")["revenue_share"].astype(float)
    assert shares.between(0, 1).all()  # fractions, not percentages


def test_credit_codes_are_valid_distinct_and_carry_a_real_region(out_dir: Path) -> None:
    firms = read(out_dir, "firms")
    codes = firms["credit_code"]
    assert codes.is_unique
    assert credit_code_is_valid(codes).all()
    assert codes.str.startswith("91").all()
    real = set(pd.read_csv(ADMIN_DIVISIONS, dtype=str)["code"])
    assert set(codes.str[2:8]) <= real
    regions = firms["region_code"][firms["region_code"] != ""]
    assert set(regions) <= real


def test_credit_code_generator_matches_published_examples() -> None:
    # given the facts.md §2 examples
    assert credit_code_valid("91110108551385082Q")
    assert credit_code_valid("914403001922038216")
    assert not credit_code_valid("91110108717809965C")
    # when generating many codes for one district
    codes = credit_codes(np.array(["440305"] * 20_000), np.random.default_rng(0))
    # then they are distinct and valid
    assert len(set(codes)) == codes.size
    assert all(credit_code_valid(c) for c in codes[:2000])


def test_patent_numbers_carry_their_check_digit() -> None:
    # ZL201310123456.1 style: mod 11 over the 12 digits with weights 2..9, 2..5
    number = patent_numbers(np.array([2013]), np.array([1]), np.array([123456]))[0]
    digits = [int(c) for c in number[2:14]]
    weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
    check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    assert number.endswith("." + ("X" if check == 10 else str(check)))


def test_population_shape(out_dir: Path, synth_config) -> None:
    firms = read(out_dir, "firms")
    latent = read(out_dir / "truth", "firms_latent")
    financials = read(out_dir, "financials")
    # most registered firms are tiny and file no accounts
    assert (latent["segment"] == "micro").mean() > 0.7
    assert financials["credit_code"].nunique() < 0.3 * len(firms)
    # the configured provinces, and only those
    provinces = {p.code for p in synth_config.provinces}
    assert set(firms["credit_code"].str[2:4]) == provinces
    # a few large firms fail the SME test (工业: ≥1000 employees and ≥4亿 revenue)
    large = set(latent.loc[latent["segment"] == "large", "credit_code"])
    last = financials[financials["fiscal_year"] == str(synth_config.last_fiscal_year)]
    big = last[last["credit_code"].isin(large)]
    assert len(big) > 0
    assert (big["employees"].astype(int) >= 1000).all()
    assert (big["revenue"].astype(float) >= 4e8).all()
