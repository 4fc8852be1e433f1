"""The faster match stage changes no result: each rewritten step against the code it replaced.

The references below are the straightforward implementations the weekly run used before the
speed work (issue: match stage at 1M firms); the rewritten steps must give identical frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from features import match_blocking, match_resolution, match_scoring
from features.match_blocking import block_pairs
from features.match_config import LINKED_METHODS, Blocking, MatchingConfig
from features.match_registry import Registry
from features.match_review import (
    COUNTERPARTS,
    _counterpart_codes,
    _firm_table,
    _former_names,
    _regions_of,
    review_candidates,
    review_sheet,
    write_review_files,
)
from features.matching import link_mentions
from features.sources import SourceData
from features.unsettled import refused_by_firm

CHARS = "华科技能源电子信息材料精密机械智造新中天宏达通"


def _reference_block_pairs(
    mention_cores: pd.Series, entry_cores: pd.Series, blocking: Blocking
) -> pd.DataFrame:
    """block_pairs as it was: every product sorted in full, 50 000 mentions at a time."""
    entry_rows, entry_keys = match_blocking._ngram_keys(entry_cores, blocking.max_core_chars)
    vocabulary, entry_token = np.unique(entry_keys, return_inverse=True)
    incidence = sparse.csr_matrix(
        (np.ones(len(entry_rows), dtype=np.int32), (entry_token, entry_rows)),
        shape=(len(vocabulary), len(entry_cores)),
    )
    incidence.data[:] = 1
    block_size = np.diff(incidence.indptr)
    incidence.data[np.repeat(block_size > blocking.max_block_size, block_size)] = 0
    incidence.eliminate_zeros()
    mention_rows, mention_keys = match_blocking._ngram_keys(mention_cores, blocking.max_core_chars)
    position = np.minimum(np.searchsorted(vocabulary, mention_keys), len(vocabulary) - 1)
    known = vocabulary[position] == mention_keys
    queries = sparse.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.int32), (mention_rows[known], position[known])),
        shape=(len(mention_cores), len(vocabulary)),
    )
    queries.data[:] = 1
    chunks = []
    for start in range(0, queries.shape[0], 50_000):
        shared = (queries[start : start + 50_000] @ incidence).tocsr()
        shared.eliminate_zeros()
        shared.sort_indices()
        counts = shared.data
        rows = np.repeat(np.arange(shared.shape[0]), np.diff(shared.indptr))
        keep = counts >= blocking.min_shared_ngrams
        rows, cols, counts = rows[keep], shared.indices[keep], counts[keep]
        order = np.lexsort((-counts, rows))
        rows, cols, counts = rows[order], cols[order], counts[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
        best = rank < blocking.max_candidates
        chunks.append(
            pd.DataFrame(
                {"mention": rows[best] + start, "entry": cols[best], "shared": counts[best]}
            )
        )
    return pd.concat(chunks, ignore_index=True)


def _random_cores(rng: np.random.Generator, n: int, alphabet: str = CHARS) -> pd.Series:
    lengths = rng.integers(0, 9, size=n)
    cores = ["".join(rng.choice(list(alphabet), size=k)) for k in lengths]
    values = [None if c == "" and i % 2 else c for i, c in enumerate(cores)]
    return pd.Series(values, dtype="str")


@pytest.mark.parametrize(
    ("max_candidates", "min_shared", "max_block"), [(10, 1, 2000), (3, 2, 40), (1, 1, 5)]
)
def test_blocking_matches_the_full_sort_with_ties_crowded_ngrams_and_small_slices(
    monkeypatch: pytest.MonkeyPatch, max_candidates: int, min_shared: int, max_block: int
) -> None:
    # given a small alphabet (many ties in shared n-grams), repeated and missing cores
    rng = np.random.default_rng(7)
    entries = _random_cores(rng, 3000)
    mentions = pd.concat([_random_cores(rng, 800), entries.iloc[:200]], ignore_index=True)
    blocking = Blocking(
        max_block_size=max_block,
        max_candidates=max_candidates,
        min_shared_ngrams=min_shared,
        max_core_chars=6,
    )
    expected = _reference_block_pairs(mentions, entries, blocking)
    # when blocked in small slices (several sparse products, several n-gram slices)
    monkeypatch.setattr(match_blocking, "_BLOCK_PRODUCT", 5000)
    monkeypatch.setattr(match_blocking, "_BLOCK_ROWS", 97)
    monkeypatch.setattr(match_blocking, "_NGRAM_ROWS", 113)
    pairs, stats = block_pairs(mentions, entries, blocking)
    # then the same pairs in the same order, with the same types
    pd.testing.assert_frame_equal(pairs, expected)
    assert stats.pairs_scored == len(expected)
    assert stats.mentions_without_candidates == len(mentions) - expected["mention"].nunique()


def test_a_registry_blocks_each_core_once_and_answers_any_order_alike() -> None:
    # given a registry and a blocker it keeps
    rng = np.random.default_rng(3)
    cores = _random_cores(rng, 500)
    firms = pd.DataFrame(
        {
            "credit_code": pd.array([f"C{i:05d}" for i in range(len(cores))], dtype="str"),
            "name": pd.array([f"{c or '某'}科技有限公司" for c in cores], dtype="str"),
        }
    )
    registry = Registry.from_sources(SourceData(tables={"firms": firms}))
    blocking = MatchingConfig.load().blocking
    blocker = registry.blocker(blocking)
    assert registry.blocker(blocking) is blocker
    queries = _random_cores(rng, 300)
    # when blocked first in part, then in full, then reversed
    first, _ = blocker.block(queries.iloc[:100].reset_index(drop=True))
    full, _ = blocker.block(queries)
    backwards, _ = blocker.block(queries.iloc[::-1].reset_index(drop=True))
    fresh, _ = block_pairs(queries, registry.entries["core"], blocking)
    # then every answer equals a fresh index's
    pd.testing.assert_frame_equal(full, fresh)
    pd.testing.assert_frame_equal(first, fresh[fresh["mention"] < 100].reset_index(drop=True))
    flipped = backwards.assign(mention=len(queries) - 1 - backwards["mention"])
    flipped = flipped.sort_values("mention", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(flipped, fresh)


def _world() -> SourceData:
    """Firms with look-alike names, former names, and supply mentions to review."""
    rng = np.random.default_rng(11)
    trade = ["华科", "华技", "中天", "宏达", "新能", "精密", "天宏", "达通"]
    industry = ["科技", "电子", "机械", "新材料"]
    cities = [("杭州", "330100"), ("宁波", "330200"), ("南京", "320100"), ("广州", "440100")]
    rows = []
    for i in range(160):
        city, region = cities[i % 4]
        name = f"{city}{trade[i % 8]}{industry[(i // 8) % 4]}有限公司"
        rows.append((f"91{region}{i:09d}X", name if i < 128 else f"{trade[i % 8]}有限公司", region))
    firms = pd.DataFrame(
        {
            "credit_code": pd.array([r[0] for r in rows], dtype="str"),
            "name": pd.array([r[1] for r in rows], dtype="str"),
            "region_code": pd.array([r[2] for r in rows], dtype="str"),
            "industry_code": pd.array(["C3976"] * len(rows), dtype="str"),
            "established_on": pd.to_datetime(["2015-03-01"] * len(rows)).as_unit("us"),
        }
    )
    history = pd.DataFrame(
        {
            "credit_code": pd.array([rows[i][0] for i in (3, 3, 9, 40)] + [None], dtype="str"),
            "former_name": pd.array(["旧华科有限公司", None, "老中天有限公司", "X", "Y"], "str"),
        }
    )
    mentions = [
        f"{cities[k % 4][0] if k % 3 else ''}{trade[k % 8]}{industry[(k // 3) % 4]}"
        f"{'有限公司' if k % 5 else '公司'}"
        for k in rng.integers(0, 400, size=300)
    ]
    holders = pd.DataFrame(
        {
            "ip_id": pd.array([f"ZL{i}" for i in range(len(mentions))], dtype="str"),
            "holder_name": pd.array(mentions, dtype="str"),
            "holder_rank": pd.array([1] * len(mentions), dtype="Int64"),
            "holder_credit_code": pd.array([None] * len(mentions), dtype="str"),
        }
    )
    half = len(mentions) // 2
    supply = pd.DataFrame(
        {
            "supplier_name": pd.array(mentions[:half], dtype="str"),
            "supplier_credit_code": pd.array(
                [rows[i % 160][0] if i % 7 == 0 else None for i in range(half)], dtype="str"
            ),
            "customer_name": pd.array(mentions[half:], dtype="str"),
            "customer_credit_code": pd.array([None] * half, dtype="str"),
        },
        index=pd.RangeIndex(0, 2 * half, 2),
    )
    return SourceData(
        tables={
            "firms": firms,
            "name_history": history,
            "ip_holders": holders,
            "supply_chain": supply,
        }
    )


def test_one_shared_registry_gives_the_same_links_review_files_and_refusals(tmp_path) -> None:
    # given the same data linked with a registry of its own and with a shared one
    data = _world()
    alone = link_mentions(data)
    registry = Registry.from_sources(data)
    shared = link_mentions(data, registry=registry)
    # then the links are identical, and so is every review file
    pd.testing.assert_frame_equal(shared, alone)
    assert (alone["method"] == "review").any()
    write_review_files(alone, data, tmp_path / "alone")
    write_review_files(shared, data, tmp_path / "shared", registry=registry)
    for name in ("match_review.csv", "match_review_candidates.csv"):
        assert (tmp_path / "shared" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes()
    pd.testing.assert_frame_equal(refused_by_firm(data, registry=registry), refused_by_firm(data))
    sheet = review_sheet(alone, data)
    pd.testing.assert_frame_equal(
        review_candidates(sheet, alone, data, registry=registry, firms=_firm_table(data)),
        review_candidates(sheet, alone, data),
    )


def test_fuzzy_names_taken_a_slice_at_a_time_give_the_same_links(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given distinctive registered names, and mentions with a one-character typo in the trade
    # name (the fuzzy stage links them) beside the look-alikes of `_world` (review)
    rng = np.random.default_rng(5)
    alphabet = list("华科技能源电子信息材料精密机械智造新中天宏达通泰安康瑞丰盛博远")
    world = _world()
    firms = world.tables["firms"]
    trades = ["".join(rng.choice(alphabet, size=4, replace=False)) for _ in range(60)]
    added = pd.DataFrame(
        {
            "credit_code": pd.array([f"91330100{i:09d}Y" for i in range(60)], dtype="str"),
            "name": pd.array([f"杭州{t}科技有限公司" for t in trades], dtype="str"),
            "region_code": pd.array(["330100"] * 60, dtype="str"),
            "industry_code": pd.array(["C3976"] * 60, dtype="str"),
            "established_on": pd.to_datetime(["2016-05-01"] * 60).as_unit("us"),
        }
    )
    typos = [
        f"杭州{t[:3]}{alphabet[(alphabet.index(t[3]) + 1) % len(alphabet)]}科技有限公司"
        for t in trades
    ]
    holders = world.tables["ip_holders"]
    more = pd.DataFrame(
        {
            "ip_id": pd.array([f"ZT{i}" for i in range(len(typos))], dtype="str"),
            "holder_name": pd.array(typos, dtype="str"),
            "holder_rank": pd.array([1] * len(typos), dtype="Int64"),
            "holder_credit_code": pd.array([None] * len(typos), dtype="str"),
        }
    )
    data = SourceData(
        tables={
            **world.tables,
            "firms": pd.concat([firms, added], ignore_index=True),
            "ip_holders": pd.concat([holders, more], ignore_index=True),
        }
    )
    at_once = link_mentions(data)
    assert {"fuzzy", "review"} <= set(at_once["method"])
    # when the fuzzy stage takes a few names at a time
    monkeypatch.setattr(match_resolution, "_FUZZY_NAMES", 7)
    sliced = link_mentions(data)
    # then every link, score, candidate list and runner-up is the same
    pd.testing.assert_frame_equal(sliced, at_once)


def test_former_names_are_joined_in_file_order_like_the_groupby() -> None:
    history = _world().tables["name_history"]
    expected = history.groupby("credit_code")["former_name"].agg(
        lambda names: "|".join(str(n) for n in names.dropna())
    )
    expected = expected[expected != ""]
    got = _former_names(history)
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )


def _reference_counterpart_regions(
    queue: pd.DataFrame, links: pd.DataFrame, data: SourceData, firms: pd.DataFrame
) -> list[str]:
    """The counterpart regions as they were first found: one lookup per queue row."""
    regions = [""] * len(queue)
    linked = links[links["method"].isin(LINKED_METHODS) & links["credit_code"].notna()]
    by_mention = linked.set_index(["source", "row", "column"])["credit_code"]
    by_mention = by_mention[~by_mention.index.duplicated()]
    for i, (source, row, column) in enumerate(
        zip(queue["source"], queue["row"], queue["column"], strict=True)
    ):
        other = COUNTERPARTS.get((source, column))
        if other is None:
            continue
        name_column, code_column = other
        code = by_mention.get((source, int(row), name_column))
        frame = data.get(source)
        if code is None and frame is not None and code_column in frame and int(row) in frame.index:
            code = frame.at[int(row), code_column]
        region = firms["region_code"].get(code) if isinstance(code, str) else None
        regions[i] = "" if region is None or pd.isna(region) else str(region)
    return regions


def test_counterpart_regions_equal_the_row_by_row_lookup() -> None:
    data = _world()
    links = link_mentions(data)
    firms = _firm_table(data)
    # every supply mention, pending or not, and the holders (no counterpart)
    queue = links.sample(frac=1.0, random_state=5).reset_index(drop=True)
    got = _regions_of(_counterpart_codes(queue, links, data), firms, len(queue))
    assert got == _reference_counterpart_regions(queue, links, data, firms)
    assert any(got)


def _reference_rivals(frame: pd.DataFrame, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """close_rivals' count and rivals' best support as pair_features computed them: a join."""
    pairs_of = frame[["mention", "firm", "core_similarity", "support"]]
    rivals = pairs_of.merge(pairs_of, on="mention", suffixes=("", "_o"))
    close = (rivals["firm_o"] != rivals["firm"]) & (
        rivals["core_similarity_o"] >= rivals["core_similarity"] - margin
    )
    by_pair = rivals[close].groupby(["mention", "firm"], sort=False)
    index = pd.MultiIndex.from_arrays([frame["mention"], frame["firm"]])
    n_close = by_pair.size().reindex(index).fillna(0).to_numpy(dtype=float)
    best = by_pair["support_o"].max().reindex(index).fillna(0.0).to_numpy(dtype=float)
    return n_close, best


@pytest.mark.parametrize("margin", [0.0, 0.05, 0.3])
def test_close_rivals_equal_the_join_with_ties_and_single_candidates(margin: float) -> None:
    rng = np.random.default_rng(5)
    n = 4000
    frame = pd.DataFrame(
        {
            "mention": np.sort(rng.integers(0, 700, size=n)),
            "firm": rng.permutation(n),
            # few distinct values: many ties, and values exactly `margin` apart
            "core_similarity": rng.integers(0, 21, size=n) / 20.0,
            "support": np.log1p(rng.integers(0, 4, size=n).astype(float)),
        }
    )
    frame = frame.sort_values(
        ["mention", "core_similarity"], ascending=[True, False], kind="stable"
    ).reset_index(drop=True)
    got = match_scoring._close_rivals(
        frame["mention"].to_numpy(),
        frame["core_similarity"].to_numpy(),
        frame["support"].to_numpy(),
        margin,
    )
    expected = _reference_rivals(frame, margin)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
