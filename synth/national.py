"""National runs (issue 26): the firms spread over provinces in proportion to their enterprise
counts (`synth/data/province_enterprises.csv`, docs/national-provinces.md), and the records
of one province that name a large firm of another.

`synth.generate(..., provinces=...)` builds and writes one province at a time; what a province
needs of the others is small and bounded: a few large firms each (`Guests`) and its own block
of IP serial numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from synth import vocab
from synth.codes import SERIALS
from synth.config import NationalConfig, SynthConfig
from synth.names import NameParts
from synth.population import Population
from synth.world import Guests, World

ALL = "all"
NAME_FIELDS = ("prefix", "short", "trade", "word", "form", "bracketed")


def load_enterprise_counts(config: NationalConfig) -> pd.DataFrame:
    """code, name, region (east / central / west), count, unit, source: one row per province."""
    return pd.read_csv(
        vocab.DATA_DIR / config.enterprise_counts,
        dtype={"code": str, "name": str, "region": str, "unit": str, "source": str},
    )


def choose_provinces(text: str, counts: pd.DataFrame) -> list[str]:
    """`all` or a comma list of 2-digit codes → the province codes, sorted; refused with a
    one-line ValueError."""
    known = counts["code"].tolist()
    if text.strip().lower() == ALL:
        return sorted(known)
    codes = [code.strip() for code in text.split(",") if code.strip()]
    if not codes:
        raise ValueError("--provinces: give 'all' or 2-digit province codes, e.g. 44,32,33")
    unknown = sorted(set(codes) - set(known))
    if unknown:
        raise ValueError(
            f"--provinces: {', '.join(unknown)} is no province of mainland China "
            f"(codes {known[0]}..{known[-1]}, docs/national-provinces.md)"
        )
    if len(set(codes)) < len(codes):
        raise ValueError("--provinces: a province is named twice")
    return sorted(codes)


def allocate(n_firms: int, weights: Mapping[str, float], minimum: int) -> dict[str, int]:
    """Firms per province in proportion to `weights` (largest remainder), each at least
    `minimum`: the provinces below it get `minimum`, the rest share what is left."""
    codes = sorted(weights)
    if n_firms < minimum * len(codes):
        raise ValueError(
            f"--firms: {len(codes)} provinces need at least {minimum * len(codes):,} firms "
            f"({minimum} each)"
        )
    fixed: dict[str, int] = {}
    while True:
        free = [code for code in codes if code not in fixed]
        rest = n_firms - sum(fixed.values())
        total = sum(weights[code] for code in free)
        small = [code for code in free if rest * weights[code] / total < minimum]
        if not small:
            break
        fixed.update(dict.fromkeys(small, minimum))
    exact = {code: rest * weights[code] / total for code in free}
    share = {code: math.floor(value) for code, value in exact.items()}
    by_remainder = sorted(free, key=lambda code: (share[code] - exact[code], code))
    for code in by_remainder[: rest - sum(share.values())]:
        share[code] += 1
    return {code: fixed.get(code, share.get(code, 0)) for code in codes}


def spread(n_firms: int, provinces: str, config: NationalConfig) -> dict[str, int]:
    """Firms per province of `provinces` (`all` or a comma list of codes), by their enterprise
    counts; refused with a one-line ValueError."""
    counts = load_enterprise_counts(config)
    codes = choose_provinces(provinces, counts)
    weight = dict(zip(counts["code"], counts["count"].astype(float), strict=True))
    return allocate(n_firms, {code: weight[code] for code in codes}, config.min_firms_per_province)


def serial_blocks(allocation: Mapping[str, int]) -> dict[str, range]:
    """Each province's block of IP serial numbers, in proportion to its firms: IP numbers stay
    distinct nationally while every province draws its own."""
    total = sum(allocation.values())
    blocks, before = {}, 0
    for code in sorted(allocation):
        start = SERIALS.start + len(SERIALS) * before // total
        before += allocation[code]
        blocks[code] = range(start, SERIALS.start + len(SERIALS) * before // total)
    return blocks


def lend_guests(population: Population, province: str, limit: int) -> Guests:
    """The operating large firms of a province (at most `limit`) that other provinces'
    records may name: chain leaders and the like, never SME candidates."""
    firms = population.firms
    lent = np.flatnonzero(
        (firms["segment"].to_numpy() == "large") & (firms["status"].to_numpy() == "operating")
    )[:limit]
    history = population.name_history
    history = history[np.isin(history["firm"].to_numpy(), lent)]
    position = pd.Series(np.arange(lent.size), index=lent)
    return Guests(
        codes=firms["credit_code"].to_numpy()[lent],
        parts=population.parts.take(lent),
        province=np.full(lent.size, province, dtype=object),
        industry=firms["industry_code"].to_numpy()[lent],
        name_history=pd.DataFrame(
            {
                "firm": position.reindex(history["firm"]).to_numpy(dtype=np.int64),
                "former_name": history["former_name"].to_numpy(),
                "changed_on": history["changed_on"].to_numpy(dtype=np.int64),
            }
        ),
    )


def join_guests(lent: list[Guests]) -> Guests:
    """The guests of every province, one id space."""
    offsets = np.cumsum([0, *(guests.codes.size for guests in lent)])
    histories = [
        guests.name_history.assign(firm=guests.name_history["firm"].to_numpy() + offset)
        for guests, offset in zip(lent, offsets, strict=False)
    ]
    return Guests(
        codes=np.concatenate([guests.codes for guests in lent]),
        parts=NameParts(
            *(np.concatenate([getattr(guests.parts, f) for guests in lent]) for f in NAME_FIELDS)
        ),
        province=np.concatenate([guests.province for guests in lent]),
        industry=np.concatenate([guests.industry for guests in lent]),
        name_history=pd.concat(histories, ignore_index=True),
    )


def add_cross_province_mentions(
    world: World, guests: Guests, province: str, config: SynthConfig, rng: np.random.Generator
) -> None:
    """Let some records of `province` name a large firm of another province (a `guest` /
    `customer_guest` column, -1 = none; `nil_name` holds the guest's registered name, which is
    what the truth-form snapshot shows). Only rows that concern no SME of the province change
    or are added, so the history the criteria engine decided stays true:
    - supply relations of the province's SMEs to a chain leader: the leader is one of another
      province (of the same chain where there is one), for every year of the relation;
    - IP co-holders that were no registry firm: a large firm of another province;
    - national and provincial award rows of the province's firms: a co-winning unit of another
      province is added, ranked after the firm."""
    cfg = config.national.cross_province
    others = np.flatnonzero(guests.province != province)
    if others.size == 0:
        return
    names = guests.names
    tables = world.tables

    supply = tables["supply_chain"]
    customer = supply["customer"].to_numpy()
    segment = world.firms["segment"].to_numpy()
    to_leader = (
        (supply["supplier"].to_numpy() >= 0)
        & (customer >= 0)
        & (segment[np.maximum(customer, 0)] == "large")
    )
    relation, _ = pd.factorize(
        pd.MultiIndex.from_arrays(
            [supply["supplier"].to_numpy(), customer, supply["node"].to_numpy()]
        )
    )
    moves = rng.random(relation.max() + 1 if relation.size else 0) < cfg.leader_customer
    guest_of = np.full(moves.size, -1, dtype=np.int64)
    chain = supply["chain"].to_numpy()
    for chain_config in config.chains:
        rows = to_leader & (chain == chain_config.name)
        moved = np.unique(relation[rows][moves[relation[rows]]])
        same_chain = others[np.isin(guests.industry[others], chain_config.industries)]
        pool = same_chain if same_chain.size else others
        guest_of[moved] = pool[rng.integers(0, pool.size, moved.size)]
    guest = np.where(to_leader, guest_of[relation] if relation.size else -1, -1)
    named = guest >= 0
    supply = supply.assign(customer_guest=guest)
    supply.loc[named, "customer"] = -1
    supply.loc[named, "customer_nil"] = names[guest[named]]
    tables["supply_chain"] = supply

    holders = tables["ip_holders"]
    nil = (holders["firm"].to_numpy() < 0) & (rng.random(len(holders)) < cfg.ip_co_holder)
    guest = np.full(len(holders), -1, dtype=np.int64)
    guest[nil] = others[rng.integers(0, others.size, int(nil.sum()))]
    holders = holders.assign(guest=guest)
    holders.loc[nil, "nil_name"] = names[guest[nil]]
    tables["ip_holders"] = holders

    awards = tables["awards"]
    won = (
        (awards["firm"].to_numpy() >= 0)
        & awards["level"].isin(["national", "provincial"]).to_numpy()
        & (rng.random(len(awards)) < cfg.award_co_winner)
    )
    co_winner = others[rng.integers(0, others.size, int(won.sum()))]
    added = awards[won].assign(
        firm=-1,
        nil_name=names[co_winner],
        unit_rank=awards["unit_rank"].to_numpy()[won] + 1,
        guest=co_winner,
    )
    tables["awards"] = pd.concat([awards.assign(guest=-1), added], ignore_index=True)
