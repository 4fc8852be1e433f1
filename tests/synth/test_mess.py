"""The mess is present in the proportions configs/synth.yaml states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth.names import VARIANTS
from synth.world import NAME_COLUMNS
from tests.synth.conftest import read

NAME_COLUMN_OF = {**{t: c[0] for t, c in NAME_COLUMNS.items()}}
CODE_COLUMN_OF = {**{t: c[1] for t, c in NAME_COLUMNS.items()}}


@pytest.fixture(scope="module")
def mentions(out_dir: Path) -> pd.DataFrame:
    return read(out_dir / "truth", "mentions")


def test_every_mention_is_labelled_with_a_known_variant(
    out_dir: Path, mentions: pd.DataFrame
) -> None:
    # then every row of every name-bearing column has exactly one truth row
    for table, column in [
        *NAME_COLUMN_OF.items(),
        ("supply_chain", "supplier_name"),
        ("supply_chain", "customer_name"),
    ]:
        rows = len(read(out_dir, table))
        labelled = mentions[(mentions["source"] == table) & (mentions["column"] == column)]
        assert sorted(labelled["row"].astype(int)) == list(range(rows)), (table, column)
    assert set(mentions["variant"]) <= set(VARIANTS)
    assert (mentions["credit_code"] == "").eq(mentions["variant"] == "nil").all()


def test_variant_rates_match_the_configuration(mentions: pd.DataFrame, synth_config) -> None:
    # former names are decided by the mention date; every other registry mention draws its variant
    drawn = mentions[~mentions["variant"].isin(["nil", "former_name"])]
    observed = drawn["variant"].value_counts(normalize=True)
    for variant, rate in synth_config.mentions.variant_rates.items():
        assert abs(observed.get(variant, 0.0) - rate) < 0.03, (variant, observed.get(variant), rate)
    assert (mentions["variant"] == "former_name").sum() > 0


def test_nil_mentions_and_published_codes_match_the_configuration(
    out_dir: Path, mentions: pd.DataFrame, synth_config
) -> None:
    for table in ("ip_holders", "investments", "awards"):  # tables no province withholds
        labelled = mentions[mentions["source"] == table]
        nil = (labelled["variant"] == "nil").mean()
        assert abs(nil - synth_config.mentions.nil_share[table]) < 0.04, (table, nil)
    for table, code_column in CODE_COLUMN_OF.items():
        frame = read(out_dir, table)
        labelled = mentions[mentions["source"] == table]
        labelled = labelled.iloc[np.argsort(labelled["row"].astype(int).to_numpy(), kind="stable")]
        registry = labelled["credit_code"].to_numpy() != ""
        published = frame[code_column].to_numpy() != ""
        # a published code is always the true one, never on a nil mention
        assert not (published & ~registry).any()
        assert (
            frame[code_column].to_numpy()[published]
            == labelled["credit_code"].to_numpy()[published]
        ).all()
        rate = published[registry].mean()
        assert abs(rate - synth_config.mentions.credit_code_filled[table]) < 0.08, (table, rate)


def test_variants_are_what_they_claim(out_dir: Path, mentions: pd.DataFrame) -> None:
    firms = read(out_dir, "firms").set_index("credit_code")["name"]
    former = read(out_dir, "name_history").groupby("credit_code")["former_name"].agg(set)
    holders = read(out_dir, "ip_holders")
    labelled = mentions[mentions["source"] == "ip_holders"]
    text = holders["holder_name"].to_numpy()
    for row, code, variant in zip(
        labelled["row"].astype(int), labelled["credit_code"], labelled["variant"], strict=True
    ):
        name = text[row]
        if variant == "exact":
            assert name == firms[code]
        elif variant == "former_name":
            assert name in former[code] and name != firms[code]
        elif variant == "branch":
            assert name.startswith(firms[code]) and name.endswith("分公司")
        elif variant == "nil":
            assert name not in firms.index
        elif variant in (
            "traditional",
            "typo",
            "region_dropped",
            "suffix_changed",
            "width_changed",
            "region_parenthesized",
        ):
            assert name != firms[code], (variant, name)


def test_registry_mess(out_dir: Path, synth_config) -> None:
    firms = read(out_dir, "firms")
    history = read(out_dir, "name_history")
    renamed = history["credit_code"].nunique() / len(firms)
    expected = synth_config.registry.rename + synth_config.registry.relocation / 2
    assert 0.5 * expected < renamed < 1.6 * expected
    relocated = (firms["region_code"] != "") & (
        firms["region_code"] != firms["credit_code"].str[2:8]
    )
    assert (
        0.3 * synth_config.registry.relocation
        < relocated.mean()
        < 2 * synth_config.registry.relocation
    )
    assert set(firms["status"]) == {"operating", "revoked", "cancelled", "moved_out"}
    assert (firms["industry_code"] == "").sum() > 0
    # look-alikes: one trade name, several firms
    assert firms["name"].is_unique


def test_filings_are_missing_or_late_at_the_configured_rates(out_dir: Path, synth_config) -> None:
    published = len(read(out_dir, "financials"))
    withheld = read(out_dir / "truth", "withheld_filings")
    share_missing = (withheld["reason"] == "missing").sum() / (published + len(withheld))
    assert abs(share_missing - synth_config.filings.missing_year) < 0.015
    last = str(synth_config.last_fiscal_year)
    late = withheld[withheld["reason"] == "late"]
    assert (late["fiscal_year"] == last).all() and len(late) > 0
    financials = read(out_dir, "financials")
    assert abs((financials["rd_staff"] == "").mean() - synth_config.filings.rd_staff_missing) < 0.04


def test_provinces_withhold_their_configured_tables(
    out_dir: Path, synth_config, mentions: pd.DataFrame
) -> None:
    for province, tables in synth_config.missing_tables_by_province.items():
        for table in tables:
            labelled = mentions[mentions["source"] == table]
            codes = labelled.loc[labelled["credit_code"] != "", "credit_code"]
            assert not codes.str[2:4].eq(province).any() or _relocated_into(
                out_dir, codes, province
            )


def _relocated_into(out_dir: Path, codes: pd.Series, province: str) -> bool:
    """A firm registered in `province` by its code but now elsewhere is not withheld."""
    firms = read(out_dir, "firms").set_index("credit_code")
    regions = firms.loc[codes[codes.str[2:4] == province], "region_code"]
    return not regions.str[:2].eq(province).any()
