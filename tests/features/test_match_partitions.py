"""Matching in parts (features.match_partitions, issue 26) gives the single-process links.

The driver below composes the rounds in memory, as flows/discovery.py composes them as tasks
over files: registry built in pieces by firm, parts by core, chunks of names asked of every
part. Its links, refused-row links and review candidates must equal those of `link_mentions`,
`refused_by_firm` and `review_tables` against the whole registry, for any number of parts and
chunks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.match_blocking import common_ngrams, ngram_block_sizes
from features.match_config import MatchingConfig
from features.match_partitions import (
    PartIndex,
    best_candidates,
    chunk_registry,
    equal_key_entries,
    firm_entries,
    firm_pieces,
    firms_met,
    joined_candidates,
    name_chunks,
    name_keys,
    open_names,
    registry_part_of,
    registry_piece,
    resolve_chunk,
    support_of,
    support_parts,
)
from features.match_registry import Registry
from features.match_resolution import certain_links, resolve_names, summed_support
from features.match_review import review_tables
from features.matching import link_mentions, links_from, names_to_resolve, plan_mentions
from features.sources import SourceData, load_sources
from features.unsettled import refused_by_firm, refused_names


def resolve_in_parts(
    data: SourceData,
    name_sets: list[tuple[pd.Series, pd.Series | None]],
    config: MatchingConfig,
    parts: int,
    chunk: int,
) -> list[tuple[pd.DataFrame | None, pd.DataFrame | None]]:
    """`resolve_names` of each (names, linked codes) set against the registry in `parts`, the
    distinct names `chunk` at a time: (resolved, review candidates) per set."""
    firms, history = data.tables["firms"], data.tables.get("name_history")
    pieces = [registry_piece(f, h) for f, h in firm_pieces(firms, history, parts)]
    common = common_ngrams(
        [ngram_block_sizes(p["core"], config.blocking) for p in pieces], config.blocking
    )
    registry_parts = [
        pd.concat([p[registry_part_of(p, parts) == number] for p in pieces], ignore_index=True)
        for number in range(parts)
    ]
    out = []
    for names, linked in name_sets:
        named = name_chunks(names, chunk)
        chunks = [pd.Series(c["name"].array, dtype="str") for c in named]
        # round 1: equal keys, then the certain links of every chunk make the support
        keys = [name_keys(names_c) for names_c in chunks]
        met = [[equal_key_entries(part, keys_c) for part in registry_parts] for keys_c in keys]
        opened, certain = [], []
        for named_c, names_c, found in zip(named, chunks, met, strict=True):
            first = resolve_names(
                names_c, chunk_registry(found, common), config, equal_keys_only=True
            )
            certain.append(certain_links(first, named_c["mentions"].to_numpy()))
            opened.append(open_names(first))
        if linked is not None:
            certain.append(linked.astype("str").value_counts())
        support = summed_support(certain)
        # round 2: n-gram candidates of the open names in every part; round 3: their firms
        indexes = [PartIndex.build(part, config.blocking, common) for part in registry_parts]
        resolved, compared = [], []
        for names_c, keys_c, found, open_c in zip(chunks, keys, met, opened, strict=True):
            cores = keys_c["core"].iloc[open_c]
            best = best_candidates([index.candidates(cores) for index in indexes], config.blocking)
            registry = chunk_registry(
                [firm_entries(p, firms_met(found, best)) for p in registry_parts], common
            )
            own = pd.concat([support_of(p, registry) for p in support_parts(support, parts)])
            done, review = resolve_chunk(names_c, registry, own, config, review=True)
            resolved.append(done)
            compared.append(review)
        out.append(
            (pd.concat(resolved, ignore_index=True), joined_candidates(compared))
            if chunks
            else (None, None)
        )
    return out


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> SourceData:
    """A generated data set as the pipeline reads it: name variants, branches, former names,
    typos, refused rows."""
    from synth.generate import generate

    folder: Path = tmp_path_factory.mktemp("parts-world")
    generate(1500, 11, folder)
    return load_sources(folder)


@pytest.mark.parametrize(
    ("parts", "chunk", "max_block_size"),
    [(1, 100_000, None), (3, 257, None), (5, 1000, None), (4, 400, 40)],
)
def test_links_in_parts_equal_the_single_process_links(
    observed: SourceData, parts: int, chunk: int, max_block_size: int | None
) -> None:
    # given the links, refused-row links and review candidates against the whole registry
    # (with n-grams too common to block on, when max_block_size is low enough to have some)
    config = MatchingConfig.load()
    if max_block_size is not None:
        blocking = config.blocking.model_copy(update={"max_block_size": max_block_size})
        config = config.model_copy(update={"blocking": blocking})
    registry = Registry.from_sources(observed)
    expected = link_mentions(observed, config, registry=registry)
    expected_refused = refused_by_firm(observed, config, registry=registry)
    expected_review = review_tables(expected, observed, registry=registry)
    assert (expected["method"] == "review").any() and (expected["method"] == "fuzzy").any()
    # when the names are resolved against the registry in parts, a chunk at a time
    plan = plan_mentions(observed)
    names, linked = names_to_resolve(plan)
    (resolved, compared), (resolved_refused, _) = resolve_in_parts(
        observed, [(names, linked), (refused_names(observed), None)], config, parts, chunk
    )
    links = links_from(plan, resolved, observed, config)
    # then every link, refused-row link and review candidate is the same
    pd.testing.assert_frame_equal(links, expected)
    pd.testing.assert_frame_equal(
        refused_by_firm(observed, config, resolved=resolved_refused), expected_refused
    )
    review = review_tables(links, observed, compared=compared)
    pd.testing.assert_frame_equal(review.sheet, expected_review.sheet)
    pd.testing.assert_frame_equal(review.candidates, expected_review.candidates)


def test_a_part_gives_its_best_candidates_in_registry_order() -> None:
    # given two parts holding names that share as many n-grams with the query
    config = MatchingConfig.load()
    entries = pd.DataFrame(
        {"core": ["华通精密", "华通精工", "华通精密", "宏达"], "order": [3, 1, 0, 2]},
    )
    entries["credit_code"] = [f"C{i}" for i in range(4)]
    index = PartIndex.build(entries, config.blocking, np.zeros(0, dtype=np.int64))
    found = index.candidates(name_keys(pd.Series(["华通精密有限公司"], dtype="str"))["core"])
    # then the candidates come most shared first, ties in the whole registry's order
    best = best_candidates([found], config.blocking)
    assert best["order"].tolist()[:2] == [0, 3]
    assert set(best["credit_code"]) == {"C0", "C1", "C2"}
