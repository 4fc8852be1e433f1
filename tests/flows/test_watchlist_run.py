"""The watch list through the weekly flow: published per province, `new` across two runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.flows.conftest import AS_OF, World

pytestmark = pytest.mark.e2e


def read_watchlists(run: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(path, dtype="str", keep_default_na=False, encoding="utf-8-sig").assign(
            province=path.stem
        )
        for path in sorted((run / "watchlist").glob("*.csv"))
    ]
    return pd.concat(frames, ignore_index=True)


def keys(rows: pd.DataFrame) -> set[tuple[str, ...]]:
    return set(rows[["province", "credit_code", "ground", "basis"]].itertuples(index=False))


def test_two_runs_over_changed_data_mark_exactly_the_new_grounds(
    world: World, tmp_path: Path
) -> None:
    from features.sources import load_sources
    from flows.discovery import discovery
    from models.watchlist import held_titles

    runs = tmp_path / "runs"
    first = discovery(data_dir=world.data, as_of=AS_OF, runs_dir=runs)
    before = read_watchlists(first)
    assert before["new"].eq("true").all()  # no previous run: every ground is new
    provinces = {p.stem for p in (first / "invitations").glob("*.csv")}
    assert provinces <= {p.stem for p in (first / "watchlist").glob("*.xlsx")}
    assert (before["article"] != "").all() and (before["evidence"] != "").all()
    invited = pd.concat(
        pd.read_csv(p, dtype="str").assign(province=p.stem)
        for p in (first / "invitations").glob("*.csv")
    )
    assert before.merge(invited, on=["province", "credit_code"]).empty

    # given: the next week's data adds a dishonesty listing and an unreported merger
    data = tmp_path / "data"
    shutil.copytree(world.data, data, ignore=shutil.ignore_patterns("truth"))
    held = held_titles(load_sources(world.data).tables["certifications"], AS_OF)
    calm = held[~held["credit_code"].isin(before["credit_code"])]["credit_code"].tolist()
    listed, merged = calm[0], calm[1]
    with (data / "credit_events.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{listed},serious_dishonesty,2026-06-20,\n")
    with (data / "major_changes.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{merged},merger,2026-01-02,\n")

    second = discovery(data_dir=data, as_of=AS_OF, runs_dir=runs)
    after = read_watchlists(second)
    new = keys(after[after["new"] == "true"])
    assert new == keys(after) - keys(before)
    assert {(k[1], k[2]) for k in new} == {
        (listed, "credit_listing"),
        (merged, "major_change_unreported"),
    }
    assert keys(before) <= keys(after)
