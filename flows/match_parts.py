"""The match stage in parts, for runs on Dask (issue 26): no worker holds the whole registry.

The tasks wire features/match_partitions.py: the registry is built in pieces (firms by code
hash) and cut into parts by core; the names to resolve are cut into chunks; each round asks
every chunk of every part (see that module). Tasks pass files under `<work>/match/`, named
hive-style (`piece=K/part=P.arrow`, `chunk=C/part=P.arrow`). The command (the flow's process)
plans the mentions and joins the links; the parts and chunks run on the workers.

The links are those of the single-process `match` task, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.futures import PrefectFuture

from flows.common import FLOWS_CONFIG


@dataclass(frozen=True)
class MatchFiles:
    """Where the match stage's parts and chunks go."""

    root: Path

    def piece(self, piece: int, part: int) -> Path:
        return self.root / "registry" / f"piece={piece}" / f"part={part}.arrow"

    def firms(self, piece: int, table: str) -> Path:
        return self.root / "firms" / f"piece={piece}" / f"{table}.arrow"

    def block_sizes(self, piece: int) -> Path:
        return self.root / "block_sizes" / f"piece={piece}.arrow"

    @property
    def common(self) -> Path:
        return self.root / "common_ngrams.npy"

    @property
    def plan(self) -> Path:
        return self.root / "plan.arrow"

    @property
    def linked(self) -> Path:
        return self.root / "linked_codes.arrow"

    def names(self, chunk: str) -> Path:
        return self.root / "names" / f"chunk={chunk}.arrow"

    def found(self, round_name: str, chunk: str, part: int) -> Path:
        return self.root / round_name / f"chunk={chunk}" / f"part={part}.arrow"

    def chunk_file(self, kind: str, chunk: str) -> Path:
        return self.root / kind / f"chunk={chunk}.arrow"

    def support(self, name_set: str, part: int) -> Path:
        return self.root / "support" / name_set / f"part={part}.arrow"


def _save(frame: pd.DataFrame, path: Path) -> None:
    from features.sources import save_table

    path.parent.mkdir(parents=True, exist_ok=True)
    save_table(frame, path)


def _read(path: Path) -> pd.DataFrame:
    from features.sources import read_saved_table

    return read_saved_table(path)


def _part(files: MatchFiles, part: int, parts: int) -> pd.DataFrame:
    """One part of the registry: its names from every piece."""
    return pd.concat([_read(files.piece(k, part)) for k in range(parts)], ignore_index=True)


def _name_set(chunk: str) -> str:
    return chunk.split("-", 1)[0]


@task
def plan_match(files: MatchFiles, sources_dir: Path) -> dict[str, object]:
    """What decides each mention before its name (codes, officials' decisions), and the
    distinct names left, in chunks: those of the mentions and those of refused rows."""
    from features.match_decisions import load_decisions
    from features.match_partitions import firm_pieces, name_chunks, part_count
    from features.matching import MATCH_TABLES, names_to_resolve, plan_mentions
    from features.sources import read_saved_sources
    from features.unsettled import refused_names

    config = FLOWS_CONFIG.dask
    sources = read_saved_sources(sources_dir, MATCH_TABLES)
    plan = plan_mentions(sources, load_decisions())
    _save(plan, files.plan)
    names, linked = names_to_resolve(plan)
    _save(linked.astype("str").value_counts().rename("mentions").to_frame(), files.linked)
    chunks = []
    for name_set, set_names in (("mentions", names), ("refused", refused_names(sources))):
        for number, chunk in enumerate(name_chunks(set_names, config.match_chunk_names)):
            chunks.append(f"{name_set}-{number:04d}")
            _save(chunk, files.names(chunks[-1]))
    firms = sources.tables["firms"]
    parts = part_count(len(firms), config.match_part_firms)
    # each piece task reads its own firms, not the whole registry (issue 26)
    pieces = firm_pieces(firms, sources.tables.get("name_history"), parts)
    for piece, (own_firms, own_history) in enumerate(pieces):
        _save(own_firms, files.firms(piece, "firms"))
        if own_history is not None:
            _save(own_history, files.firms(piece, "name_history"))
    return {"chunks": chunks, "parts": parts}


@task
def registry_piece(files: MatchFiles, piece: int, parts: int) -> None:
    """The registry names of one piece of the firms, cut into the parts, and the n-grams they
    carry (for the whole registry's too-common ones)."""
    from features.match_blocking import ngram_block_sizes
    from features.match_config import MatchingConfig
    from features.match_partitions import registry_part_of
    from features.match_partitions import registry_piece as build_piece

    history = files.firms(piece, "name_history")
    entries = build_piece(
        _read(files.firms(piece, "firms")), _read(history) if history.exists() else None
    )
    blocking = MatchingConfig.load().blocking
    _save(
        ngram_block_sizes(entries["core"], blocking).rename("names").to_frame(),
        files.block_sizes(piece),
    )
    part_of = registry_part_of(entries, parts)
    for part in range(parts):
        _save(entries[part_of == part].reset_index(drop=True), files.piece(piece, part))


@task
def name_keys(files: MatchFiles, chunk: str) -> None:
    """The raw name, cleaned name and core of a chunk's names, once for every part."""
    from features.match_partitions import name_keys as keys_of

    names = _read(files.names(chunk))[["name", "mentions"]]  # as written: a rerun adds nothing
    keys = keys_of(pd.Series(names["name"].array, dtype="str"))
    _save(pd.concat([names, keys], axis=1), files.names(chunk))


@task
def equal_keys(files: MatchFiles, part: int, parts: int, chunks: list[str]) -> None:
    """Round 1 in one part: its names equal to each chunk's on a key."""
    from features.match_partitions import equal_key_entries

    names = _part(files, part, parts)
    for chunk in chunks:
        found = equal_key_entries(names, _read(files.names(chunk)))
        _save(found, files.found("equal_keys", chunk, part))


@task
def first_pass(files: MatchFiles, chunk: str, parts: int) -> None:
    """A chunk's equal-key stages: its certain links (towards the support) and open names."""
    from features.match_config import MatchingConfig
    from features.match_partitions import chunk_registry, open_names
    from features.match_resolution import certain_links, resolve_names

    names = _read(files.names(chunk))
    found = [_read(files.found("equal_keys", chunk, p)) for p in range(parts)]
    registry = chunk_registry(found, np.load(files.common))
    first = resolve_names(
        pd.Series(names["name"].array, dtype="str"),
        registry,
        MatchingConfig.load(),
        equal_keys_only=True,
    )
    certain = certain_links(first, names["mentions"].to_numpy())
    _save(certain.rename("mentions").to_frame(), files.chunk_file("certain", chunk))
    _save(pd.DataFrame({"name": open_names(first)}), files.chunk_file("open", chunk))


@task
def ngram_candidates(files: MatchFiles, part: int, parts: int, chunks: list[str]) -> None:
    """Round 2 in one part: its best n-gram candidates of each chunk's open names."""
    from features.match_config import MatchingConfig
    from features.match_partitions import PartIndex

    index = PartIndex.build(
        _part(files, part, parts), MatchingConfig.load().blocking, np.load(files.common)
    )
    for chunk in chunks:
        cores = _read(files.names(chunk))["core"]
        opened = _read(files.chunk_file("open", chunk))["name"].to_numpy()
        _save(index.candidates(cores.iloc[opened]), files.found("candidates", chunk, part))


@task
def firm_entries(files: MatchFiles, part: int, parts: int, chunks: list[str]) -> None:
    """Round 3 in one part: every name of the firms each chunk met (equal keys, the best
    candidates over all parts)."""
    from features.match_config import MatchingConfig
    from features.match_partitions import best_candidates, firms_met
    from features.match_partitions import firm_entries as entries_of

    names = _part(files, part, parts)
    blocking = MatchingConfig.load().blocking
    for chunk in chunks:
        found = [_read(files.found("equal_keys", chunk, p)) for p in range(parts)]
        best = best_candidates(
            [_read(files.found("candidates", chunk, p)) for p in range(parts)], blocking
        )
        _save(entries_of(names, firms_met(found, best)), files.found("firm_entries", chunk, part))


@task
def resolve(files: MatchFiles, chunk: str, parts: int) -> None:
    """A chunk's names resolved against its registry with its set's support; the review
    candidates of the mentions' names."""
    from features.match_config import MatchingConfig
    from features.match_partitions import chunk_registry, resolve_chunk, support_of

    names = _read(files.names(chunk))
    found = [_read(files.found("firm_entries", chunk, p)) for p in range(parts)]
    registry = chunk_registry(found, np.load(files.common))
    # the support of the chunk's firms only, read a part at a time
    support = pd.concat(
        [
            support_of(_read(files.support(_name_set(chunk), p))["mentions"], registry)
            for p in range(parts)
        ]
    )
    resolved, compared = resolve_chunk(
        pd.Series(names["name"].array, dtype="str"),
        registry,
        support,
        MatchingConfig.load(),
        review=_name_set(chunk) == "mentions",
    )
    _save(resolved, files.chunk_file("resolved", chunk))
    if compared is not None:
        _save(compared, files.chunk_file("compared", chunk))


def _common_ngrams(files: MatchFiles, parts: int) -> None:
    from features.match_blocking import common_ngrams
    from features.match_config import MatchingConfig

    sizes = [_read(files.block_sizes(k))["names"] for k in range(parts)]
    np.save(files.common, common_ngrams(sizes, MatchingConfig.load().blocking))


def _supports(files: MatchFiles, chunks: list[str], parts: int) -> None:
    """The support of each set of names: its chunks' certain links (and the mentions linked
    by their code) per credit code — one small number per firm — cut into parts by code."""
    from features.match_partitions import NAME_SETS, support_parts
    from features.match_resolution import summed_support

    for name_set in NAME_SETS:
        counts = [
            _read(files.chunk_file("certain", c))["mentions"]
            for c in chunks
            if _name_set(c) == name_set
        ]
        if name_set == "mentions":
            counts.append(_read(files.linked)["mentions"])
        support = summed_support(counts).rename("mentions")
        for part, own in enumerate(support_parts(support, parts)):
            _save(own.to_frame(), files.support(name_set, part))


def _all(futures: list[PrefectFuture[None]]) -> None:
    """Wait for a round; a part or chunk that failed fails the run (no partial links)."""
    for future in futures:
        future.result()


@dataclass(frozen=True)
class ResolvedInParts:
    """The match stage's results in parts: the plan and the resolved names of each set."""

    files: MatchFiles
    chunks: list[str]

    def resolved(self, name_set: str) -> pd.DataFrame | None:
        frames = [
            _read(self.files.chunk_file("resolved", c))
            for c in self.chunks
            if _name_set(c) == name_set
        ]
        return pd.concat(frames, ignore_index=True) if frames else None

    def compared(self) -> pd.DataFrame | None:
        from features.match_partitions import joined_candidates

        frames = [
            _read(self.files.chunk_file("compared", c))
            for c in self.chunks
            if _name_set(c) == "mentions"
        ]
        return joined_candidates(frames) if frames else None


def resolve_in_parts(work: Path, sources_dir: Path) -> ResolvedInParts:
    """Plan the mentions here, resolve their names (and the refused rows') on the workers."""
    files = MatchFiles(work / "match")
    clock = _RoundClock()
    planned = plan_match(files, sources_dir)
    chunks, parts = list(planned["chunks"]), int(planned["parts"])  # type: ignore[call-overload]
    clock.done("plan", parts, chunks)
    _all(
        [registry_piece.submit(files, k, parts) for k in range(parts)]
        + [name_keys.submit(files, c) for c in chunks]
    )
    _common_ngrams(files, parts)
    clock.done("registry pieces and name keys", parts, chunks)
    _all([equal_keys.submit(files, p, parts, chunks) for p in range(parts)])
    clock.done("equal keys", parts, chunks)
    _all([first_pass.submit(files, c, parts) for c in chunks])
    _supports(files, chunks, parts)
    clock.done("first pass", parts, chunks)
    _all([ngram_candidates.submit(files, p, parts, chunks) for p in range(parts)])
    clock.done("n-gram candidates", parts, chunks)
    _all([firm_entries.submit(files, p, parts, chunks) for p in range(parts)])
    clock.done("firm entries", parts, chunks)
    _all([resolve.submit(files, c, parts) for c in chunks])
    clock.done("resolve", parts, chunks)
    return ResolvedInParts(files, chunks)


class _RoundClock:
    """Logs the wall time of each round of matching in parts."""

    def __init__(self) -> None:
        import time

        self._now = time.perf_counter
        self._mark = self._now()

    def done(self, round_name: str, parts: int, chunks: list[str]) -> None:
        from prefect import get_run_logger

        now = self._now()
        get_run_logger().info(
            "matching in parts: %s in %.1f s (%d parts, %d chunks)",
            round_name,
            now - self._mark,
            parts,
            len(chunks),
        )
        self._mark = now
