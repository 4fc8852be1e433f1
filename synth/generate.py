"""`generate`: build the world, decide its history, publish it with its mess, write it out."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth import activity, chains, national, observe, scores, titles, write
from synth.accounts import build_financials
from synth.codes import SERIALS
from synth.config import ProvinceConfig, SynthConfig, WorldConfig, load_synth_config, with_world
from synth.population import Population, build_population, signal_view
from synth.regions import Regions, load_regions
from synth.watch_events import add_watch_events
from synth.world import World, to_dates

Progress = Callable[[str], None]
Seed = int | tuple[int, ...]  # a national run seeds each province with (seed, province code)
STAGES = (
    "population",
    "accounts",
    "innovation",
    "supply chain",
    "history",
    "champions",
    "publish",
    "write",
)


@dataclass(frozen=True)
class Summary:
    """What `generate` wrote: row counts per table and a few ground-truth counts."""

    n_firms: int
    seed: int
    out_dir: Path
    rows: dict[str, int]
    truth_rows: dict[str, int]
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    world: WorldConfig = field(default_factory=WorldConfig)
    provinces: dict[str, int] = field(default_factory=dict)  # national runs: firms per province


def _rng(seed: Seed, stage: int) -> np.random.Generator:
    """An independent stream per stage: changing one stage leaves the others' draws alone."""
    return np.random.default_rng([*(seed if isinstance(seed, tuple) else (seed,)), stage])


def _population(n_firms: int, seed: Seed, config: SynthConfig) -> tuple[Regions, Population]:
    """The districts of the configured provinces and the registry population."""
    regions = load_regions([p.code for p in config.provinces], _rng(seed, 0))
    return regions, build_population(n_firms, config, regions, _rng(seed, 1))


def build_world(
    n_firms: int,
    seed: Seed,
    config: SynthConfig,
    evaluate: titles.Evaluator,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
    ip_serials: range = SERIALS,
) -> tuple[World, titles.History, pd.DataFrame]:
    """The truth: firms, latent factors, every record, and the decided history (IP numbers
    drawn from `ip_serials`)."""
    timings = timings if timings is not None else {}
    clock = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now
        if progress:
            progress(stage)

    regions, population = _population(n_firms, seed, config)
    firms = population.firms
    world = World(
        firms=firms,
        parts=population.parts,
        name_history=population.name_history,
        regions=regions,
    )
    done("population")
    world.tables["financials"] = build_financials(firms, config, _rng(seed, 2))
    done("accounts")
    # Chain position, awards, talent and equity rounds follow the signal view of the firms
    # (world.signal_strength; below 1, truth's `non_substitutable` follows that view too).
    signals = signal_view(firms, config.world.signal_strength, _rng(seed, 18))
    world.chain_nodes = chains.chain_nodes_table(config)
    world.firm_nodes = chains.assign_chain_nodes(signals, config, _rng(seed, 3))
    rights, holders = activity.build_ip(firms, config, _rng(seed, 4), ip_serials)
    world.tables["ip_rights"], world.tables["ip_holders"] = rights, holders
    world.tables["awards"] = activity.build_awards(signals, config, regions, _rng(seed, 5))
    world.tables["rd_institutions"] = activity.build_institutions(
        firms, config, regions, population.parts, _rng(seed, 6)
    )
    world.tables["talent"] = activity.build_talent(signals, config, regions, _rng(seed, 7))
    world.tables["investments"] = activity.build_investments(signals, config, _rng(seed, 8))
    world.tables["products"] = activity.build_products(
        firms, world.firm_nodes, config, _rng(seed, 9)
    )
    world.tables["credit_events"] = activity.build_credit_events(firms, config, _rng(seed, 11))
    tech_titles = activity.build_tech_titles(firms, config, _rng(seed, 12))
    world.tables["certifications"] = tech_titles.assign(
        revoked_on=-1, revoke_reason=None, ban_lifted_on=-1
    )
    done("innovation")
    world.tables["supply_chain"] = chains.build_supply_chain(
        firms, world.firm_nodes, world.tables["financials"], config, _rng(seed, 13)
    )
    world.tables["evaluation_scores"] = scores.build_scores(
        world.tables, firms, world.firm_nodes, world.chain_nodes, config, _rng(seed, 10)
    )
    done("supply chain")
    history = titles.run_history(world, config, _rng(seed, 14), evaluate)
    history.applications["submitted_on"] = titles.submission_days(
        history.applications, config, _rng(seed, 17)
    )
    done("history")
    champions = titles.hidden_champions(world, history, config, evaluate)
    done("champions")
    return world, history, champions


def generate(
    n_firms: int,
    seed: int,
    out_dir: Path,
    config: SynthConfig | None = None,
    evaluate: titles.Evaluator | None = None,
    progress: Progress | None = None,
    world: WorldConfig | Mapping[str, Any] | None = None,
    provinces: str | None = None,
) -> Summary:
    """Write a synthetic data set (every source table) and its ground truth under `out_dir`.

    Same `n_firms`, `seed`, config and world → byte-identical files. `world` replaces the
    config's world parameters (a WorldConfig) or some of them (a mapping, e.g.
    `{"application_rounds": 2, "signal_strength": 0.5}`); refused with a ConfigError.
    `evaluate` is the criteria engine (default: models.criteria with the operative configuration).

    `provinces` (issue 26): `"all"` or a comma list of 2-digit codes spreads the firms over
    those provinces by their enterprise counts (config `national:`) instead of the configured
    few, and builds and writes one province at a time (memory follows the largest province);
    `progress` then receives each province code once it is written. Refused with a ValueError.
    """
    if n_firms < 100:
        raise ValueError("n_firms must be at least 100")
    start = time.perf_counter()
    config = with_world(config or load_synth_config(), world)
    evaluate = evaluate or titles.criteria_engine()
    if provinces is not None:
        return _generate_national(
            n_firms, seed, Path(out_dir), provinces, config, evaluate, progress, start
        )
    timings: dict[str, float] = {}
    truth_world, history, champions = build_world(
        n_firms, seed, config, evaluate, progress, timings
    )

    clock = time.perf_counter()
    assert truth_world.regions is not None
    tables, withheld = observe.publish(
        truth_world, history, truth_world.regions, config, _rng(seed, 15)
    )
    watch_truth = add_watch_events(
        tables, config.evaluation_date, truth_world.regions, _rng(seed, 16)
    )
    timings["publish"] = time.perf_counter() - clock
    if progress:
        progress("publish")

    clock = time.perf_counter()
    writer = _Writer(Path(out_dir))
    writer.add(
        tables,
        _truth(truth_world, history, champions, withheld, watch_truth, config, evaluate, seed),
    )
    _write_world(writer.truth_dir / "world.json", n_firms, seed, config)
    timings["write"] = time.perf_counter() - clock
    if progress:
        progress("write")
    return Summary(
        n_firms=n_firms,
        seed=seed,
        out_dir=writer.out_dir,
        rows=writer.rows,
        truth_rows=writer.truth_rows,
        seconds=time.perf_counter() - start,
        stage_seconds=timings,
        world=config.world,
    )


class _Writer:
    """Writes the tables and the truth of a data set: all at once, or one province after
    another (`add` again appends rows; truth/mentions.csv rows count on)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.truth_dir = out_dir / "truth"
        self.truth_dir.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, int] = {}
        self.truth_rows: dict[str, int] = {}

    def add(self, tables: dict[str, pd.DataFrame], truth: dict[str, pd.DataFrame]) -> None:
        mentions = []
        for name in sorted(tables):
            if name == "chain_nodes" and name in self.rows:
                continue  # the same chains in every province
            frame = write.sort_table(name, tables[name])
            before = self.rows.get(name)
            write.write_table(name, frame, self.out_dir / f"{name}.csv", before is not None)
            self.rows[name] = (before or 0) + len(frame)
            if name in observe.MENTION_TABLES:
                mentions.append(write.mention_truth(name, frame, before or 0))
        truth = {**truth, "mentions": pd.concat(mentions, ignore_index=True)}
        for name, frame in sorted(truth.items()):
            before = self.truth_rows.get(name)
            write.write_plain(frame, self.truth_dir / f"{name}.csv", append=before is not None)
            self.truth_rows[name] = (before or 0) + len(frame)


def _generate_national(
    n_firms: int,
    seed: int,
    out_dir: Path,
    provinces: str,
    config: SynthConfig,
    evaluate: titles.Evaluator,
    progress: Progress | None,
    start: float,
) -> Summary:
    """`generate` over many provinces, one world per province (seed `(seed, code)`), written
    one after another; records may name the large firms other provinces lend (`Guests`)."""
    settings = config.national
    allocation = national.spread(n_firms, provinces, settings)
    codes = list(allocation)
    serials = national.serial_blocks(allocation)

    def alone(code: str) -> SynthConfig:
        return config.model_copy(update={"provinces": [ProvinceConfig(code=code, weight=1.0)]})

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    # First pass, one province at a time: the large firms each lends the others' records.
    guests = national.join_guests(
        [
            national.lend_guests(
                _population(allocation[code], (seed, int(code)), alone(code))[1],
                code,
                settings.guests_per_province,
            )
            for code in codes
        ]
    )
    everywhere = load_regions(codes, _rng((seed, 0), 0))  # moves and guests' branches
    timings["guests"] = time.perf_counter() - clock
    writer = _Writer(out_dir)
    for code in codes:
        province_seed = (seed, int(code))
        province_config = alone(code)
        stages: dict[str, float] = {}
        truth_world, history, champions = build_world(
            allocation[code],
            province_seed,
            province_config,
            evaluate,
            timings=stages,
            ip_serials=serials[code],
        )
        clock = time.perf_counter()
        national.add_cross_province_mentions(
            truth_world, guests, code, config, _rng(province_seed, 19)
        )
        assert truth_world.regions is not None
        tables, withheld = observe.publish(
            truth_world,
            history,
            truth_world.regions,
            province_config,
            _rng(province_seed, 15),
            observe.GuestMentions(guests, everywhere, config, _rng(province_seed, 20)),
        )
        watch_truth = add_watch_events(
            tables, config.evaluation_date, everywhere, _rng(province_seed, 16)
        )
        stages["publish"] = time.perf_counter() - clock
        clock = time.perf_counter()
        truth = _truth(
            truth_world,
            history,
            champions,
            withheld,
            watch_truth,
            province_config,
            evaluate,
            province_seed,
        )
        writer.add(tables, truth)
        stages["write"] = time.perf_counter() - clock
        for stage, seconds in stages.items():
            timings[stage] = timings.get(stage, 0.0) + seconds
        # Only the guests and the writer's counts outlive a province.
        del truth_world, history, champions, tables, withheld, watch_truth, truth
        gc.collect()
        if progress:
            progress(code)
    _write_world(
        writer.truth_dir / "world.json",
        n_firms,
        seed,
        config,
        {"provinces": allocation, "enterprise_counts": settings.enterprise_counts},
    )
    return Summary(
        n_firms=n_firms,
        seed=seed,
        out_dir=out_dir,
        rows=writer.rows,
        truth_rows=writer.truth_rows,
        seconds=time.perf_counter() - start,
        stage_seconds=timings,
        world=config.world,
        provinces=allocation,
    )


def _write_world(
    path: Path,
    n_firms: int,
    seed: int,
    config: SynthConfig,
    national_run: Mapping[str, object] | None = None,
) -> None:
    """truth/world.json: the world parameters of this data set, for a bench to print (and,
    for a national run, the firms per province)."""
    record: dict[str, object] = {
        "n_firms": n_firms,
        "seed": seed,
        "evaluation_date": config.evaluation_date.isoformat(),
        "world": config.world.model_dump(),
        "round_dates": [config.application_date(y).isoformat() for y in config.application_years],
    }
    if national_run is not None:
        record["national"] = dict(national_run)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _truth(
    truth_world: World,
    history: titles.History,
    champions: pd.DataFrame,
    withheld: pd.DataFrame,
    watch_truth: pd.DataFrame,
    config: SynthConfig,
    evaluate: titles.Evaluator,
    seed: Seed,
) -> dict[str, pd.DataFrame]:
    """The truth tables of a world: its history, who would qualify, and the watch events."""
    truth = _truth_tables(truth_world, history, champions, withheld)
    truth["qualification"] = titles.qualification(
        truth_world, history, config, evaluate, _rng(seed, 16)
    ).reset_index(drop=True)
    truth["watchlist"] = watch_truth
    return truth


def _truth_tables(
    world: World, history: titles.History, champions: pd.DataFrame, withheld: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    codes = world.codes
    f = world.firms
    nodes = world.firm_nodes.reindex(np.arange(len(f)))
    latent = pd.DataFrame(
        {
            "credit_code": codes,
            "segment": f["segment"].to_numpy(),
            "quality": f["quality"].round(4).to_numpy(),
            "growth": f["growth"].round(4).to_numpy(),
            "propensity": f["propensity"].round(4).to_numpy(),
            "true_domestic_rank": f["true_rank"].to_numpy(),
            "true_market_share": f["true_share"].round(4).to_numpy(),
            "chain": nodes["chain"].to_numpy(dtype=object),
            "node": nodes["node"].to_numpy(dtype=object),
            "non_substitutable": nodes["non_substitutable"].astype("boolean").to_numpy(),
            "original_region_code": f["original_region"].to_numpy(),
        }
    ).sort_values("credit_code", kind="stable")
    apps = history.applications
    applications = pd.DataFrame(
        {
            "credit_code": codes[apps["firm"].to_numpy()],
            "year": apps["year"].to_numpy(),
            "tier": apps["tier"].to_numpy(),
            "engine_outcome": apps["engine_outcome"].to_numpy(),
            "market_pass": apps["market_pass"].to_numpy(),
            "reviewer_pass": apps["reviewer_pass"].to_numpy(),
            "outcome": apps["outcome"].to_numpy(),
            "reason": apps["reason"].to_numpy(),
            "submitted_on": to_dates(apps["submitted_on"].to_numpy()),
        }
    ).sort_values(["credit_code", "year", "tier"], kind="stable")
    ren = history.renewals
    renewals = pd.DataFrame(
        {
            "credit_code": codes[ren["firm"].to_numpy()],
            "year": ren["year"].to_numpy(),
            "tier": ren["tier"].to_numpy(),
            "engine_outcome": ren["engine_outcome"].to_numpy(),
            "renewed": ren["renewed"].to_numpy(),
        }
    ).sort_values(["credit_code", "year"], kind="stable")
    qualified = champions.drop(columns=["firm"]).sort_values("credit_code", kind="stable")
    hidden = qualified[~qualified["applied_for_tier"].astype(bool)][
        ["credit_code", "tier", "engine_outcome"]
    ]
    return {
        "firms_latent": latent,
        "applications": applications,
        "renewals": renewals,
        "qualified": qualified,
        "hidden_champions": hidden,
        "withheld_filings": withheld.sort_values(["credit_code", "fiscal_year"], kind="stable"),
    }
