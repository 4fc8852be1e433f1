"""`generate`: build the world, decide its history, publish it with its mess, write it out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth import activity, chains, observe, scores, titles, write
from synth.accounts import build_financials
from synth.config import SynthConfig, WorldConfig, load_synth_config, with_world
from synth.population import build_population, signal_view
from synth.regions import load_regions
from synth.watch_events import add_watch_events
from synth.world import World, to_dates

Progress = Callable[[str], None]
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


def _rng(seed: int, stage: int) -> np.random.Generator:
    """An independent stream per stage: changing one stage leaves the others' draws alone."""
    return np.random.default_rng([seed, stage])


def build_world(
    n_firms: int,
    seed: int,
    config: SynthConfig,
    evaluate: titles.Evaluator,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> tuple[World, titles.History, pd.DataFrame]:
    """The truth: firms, latent factors, every record, and the decided history."""
    timings = timings if timings is not None else {}
    clock = time.perf_counter()

    def done(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now
        if progress:
            progress(stage)

    regions = load_regions([p.code for p in config.provinces], _rng(seed, 0))
    population = build_population(n_firms, config, regions, _rng(seed, 1))
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
    rights, holders = activity.build_ip(firms, config, _rng(seed, 4))
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
) -> Summary:
    """Write a synthetic data set (every source table) and its ground truth under `out_dir`.

    Same `n_firms`, `seed`, config and world → byte-identical files. `world` replaces the
    config's world parameters (a WorldConfig) or some of them (a mapping, e.g.
    `{"application_rounds": 2, "signal_strength": 0.5}`); refused with a ConfigError.
    `evaluate` is the criteria engine (default: models.criteria with the operative configuration).
    """
    if n_firms < 100:
        raise ValueError("n_firms must be at least 100")
    start = time.perf_counter()
    config = with_world(config or load_synth_config(), world)
    evaluate = evaluate or titles.criteria_engine()
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
    out_dir = Path(out_dir)
    truth_dir = out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    mentions = []
    for name in sorted(tables):
        frame = write.sort_table(name, tables[name])
        write.write_table(name, frame, out_dir / f"{name}.csv")
        rows[name] = len(frame)
        if name in observe.MENTION_TABLES:
            mentions.append(write.mention_truth(name, frame))
    truth = _truth_tables(truth_world, history, champions, withheld)
    truth["qualification"] = titles.qualification(
        truth_world, history, config, evaluate, _rng(seed, 16)
    ).reset_index(drop=True)
    truth["mentions"] = pd.concat(mentions, ignore_index=True)
    truth["watchlist"] = watch_truth
    truth_rows = {}
    for name, frame in sorted(truth.items()):
        write.write_plain(frame, truth_dir / f"{name}.csv")
        truth_rows[name] = len(frame)
    _write_world(truth_dir / "world.json", n_firms, seed, config)
    timings["write"] = time.perf_counter() - clock
    if progress:
        progress("write")
    return Summary(
        n_firms=n_firms,
        seed=seed,
        out_dir=out_dir,
        rows=rows,
        truth_rows=truth_rows,
        seconds=time.perf_counter() - start,
        stage_seconds=timings,
        world=config.world,
    )


def _write_world(path: Path, n_firms: int, seed: int, config: SynthConfig) -> None:
    """truth/world.json: the world parameters of this data set, for a bench to print."""
    record = {
        "n_firms": n_firms,
        "seed": seed,
        "evaluation_date": config.evaluation_date.isoformat(),
        "world": config.world.model_dump(),
        "round_dates": [config.application_date(y).isoformat() for y in config.application_years],
    }
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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
