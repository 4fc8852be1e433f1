"""The registry population and its latent world (quality, growth, propensity, market position)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth import names as name_parts
from synth import vocab
from synth.codes import credit_codes
from synth.config import SynthConfig
from synth.regions import Regions

SEGMENTS = ("micro", "sme", "tech", "large")
INDUSTRIES_CSV = vocab.DATA_DIR / "industries.csv"


def to_datetime(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 → datetime64[us] (NaT for negative sentinel -1 is not used)."""
    return days.astype("datetime64[D]").astype("datetime64[us]")


def day_number(date: dt.date) -> int:
    return (date - dt.date(1970, 1, 1)).days


def random_days(low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniform day number in [low, high] for each pair (high ≥ low enforced)."""
    high = np.maximum(high, low)
    return low + (rng.random(low.size) * (high - low + 1)).astype(np.int64)


def year_start(years: np.ndarray) -> np.ndarray:
    return (
        (np.asarray(years) - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    )


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def shifted_probability(probability: np.ndarray | float, shift: np.ndarray | float) -> np.ndarray:
    """`probability` moved by `shift` on the logit scale (0 and 1 stay as they are)."""
    p = np.broadcast_to(np.asarray(probability, dtype=float), np.shape(shift))
    inner = np.clip(p, 1e-12, 1 - 1e-12)
    moved = sigmoid(np.log(inner / (1 - inner)) + shift)
    return np.where((p <= 0) | (p >= 1), p, moved)


# The hidden factors that decide approval (directly or through the records they drive).
SIGNAL_LATENTS = ("quality", "growth", "market_strength", "true_rank", "true_share")


def signal_view(firms: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """The firms as the Article 9 signals see them (world.signal_strength).

    At strength 1 the firms themselves. Below, a share 1 - strength of firms carries the hidden
    factors of another firm of the same segment (a permutation within the segment), so every
    signal keeps its volume and its spread while its tie to the firm's own hidden quality
    weakens; at 0 the signals are unrelated to what decides approval.
    """
    if strength >= 1.0:
        return firms
    segment = firms["segment"].to_numpy()
    donor = np.arange(len(firms))
    for name in SEGMENTS:
        members = np.flatnonzero(segment == name)
        donor[members] = rng.permutation(members)
    keep_own = rng.random(len(firms)) < strength
    donor = np.where(keep_own, np.arange(len(firms)), donor)
    view = firms.copy()
    for column in SIGNAL_LATENTS:
        view[column] = firms[column].to_numpy()[donor]
    return view


@dataclass
class Population:
    """Every registry firm: observable registry fields plus the latent world (truth only)."""

    firms: pd.DataFrame  # one row per firm, index 0..n-1 = firm id
    parts: name_parts.NameParts  # parts of the current registered name
    name_history: pd.DataFrame  # firm, former_name, changed_on (day number)


def _industry_table() -> pd.DataFrame:
    return pd.read_csv(INDUSTRIES_CSV, dtype={"code": str, "name": str, "words": str})


def build_population(
    n_firms: int, config: SynthConfig, regions: Regions, rng: np.random.Generator
) -> Population:
    """Draw the firms, their latent factors, registered names, renames and relocations."""
    evaluation_day = day_number(config.evaluation_date)
    segment_shares = np.array([config.segments[s].share for s in SEGMENTS])
    segment_idx = rng.choice(len(SEGMENTS), size=n_firms, p=segment_shares / segment_shares.sum())
    # Guarantee at least one chain leader and some candidates even in tiny populations.
    if n_firms >= 100:
        segment_idx[:2] = 3
        segment_idx[2:40] = 2
    segment = np.array(SEGMENTS, dtype=object)[segment_idx]

    provinces = [p.code for p in config.provinces]
    weights = np.array([p.weight for p in config.provinces])
    province = np.array(provinces)[rng.choice(len(provinces), n_firms, p=weights / weights.sum())]
    original_region = regions.sample(province, rng)

    industries = _industry_table()
    industry = np.empty(n_firms, dtype=object)
    word = np.empty(n_firms, dtype=object)
    for s_idx, seg in enumerate(SEGMENTS):
        mask = segment_idx == s_idx
        w = industries[seg].to_numpy(dtype=float)
        picks = rng.choice(len(industries), size=int(mask.sum()), p=w / w.sum())
        industry[mask] = industries["code"].to_numpy()[picks]
        words = industries["words"].str.split("|").to_numpy()[picks]
        choice = rng.integers(0, 3, picks.size)
        word[mask] = [ws[c % len(ws)] for ws, c in zip(words, choice, strict=True)]

    # Latent factors (never published): quality drives every observable, with noise.
    shift = np.array([config.segments[s].quality_shift for s in SEGMENTS])[segment_idx]
    quality = shift + rng.standard_normal(n_firms)
    growth_mean = np.array([config.segments[s].growth_mean for s in SEGMENTS])[segment_idx]
    growth_q = np.array([config.segments[s].growth_per_quality for s in SEGMENTS])[segment_idx]
    growth = growth_mean + growth_q * quality + 0.06 * rng.standard_normal(n_firms)
    propensity = rng.standard_normal(n_firms)
    market_strength = 0.7 * quality + 0.7 * rng.standard_normal(n_firms)
    true_rank = np.clip(
        np.rint(np.exp(3.2 - 1.1 * market_strength + 0.3 * rng.standard_normal(n_firms))), 1, 500
    ).astype(np.int64)
    true_share = np.clip(
        np.exp(np.log(0.25) - 0.55 * np.log(true_rank) + 0.35 * rng.standard_normal(n_firms)),
        0.002,
        0.8,
    )
    score_effect = rng.standard_normal(n_firms)

    # Establishment: tiny firms skew recent; the rest spread over decades.
    start_year = np.array([config.segments[s].established_from for s in SEGMENTS])[segment_idx]
    skew = np.where(segment == "micro", 0.6, 1.0)
    last_est_day = evaluation_day - 90
    first_day = year_start(start_year)
    established = first_day + (rng.random(n_firms) ** skew * (last_est_day - first_day)).astype(
        np.int64
    )
    files = (
        rng.random(n_firms)
        < np.array([config.segments[s].files_financials for s in SEGMENTS])[segment_idx]
    )

    # Final registry status and when it changed.
    factor = np.where(files, config.status.filing_firm_factor, 1.0)
    draw = rng.random(n_firms)
    st = config.status
    status = np.full(n_firms, "operating", dtype=object)
    cut1 = st.cancelled * factor
    cut2 = cut1 + st.revoked * factor
    cut3 = cut2 + st.moved_out * factor
    status[draw < cut1] = "cancelled"
    status[(draw >= cut1) & (draw < cut2)] = "revoked"
    status[(draw >= cut2) & (draw < cut3)] = "moved_out"
    change_low = np.maximum(established + 365, year_start(np.array([st.first_change_year]))[0])
    status_on = np.where(
        status == "operating",
        -1,
        random_days(change_low, np.full(n_firms, evaluation_day - 1), rng),
    )

    # Registered names.
    prefix, short = name_parts.region_parts(
        original_region, regions, rng, config.registry.province_prefix_name
    )
    trade = name_parts.trade_names(n_firms, rng)
    look_alike = rng.random(n_firms) < config.registry.look_alike
    trade[look_alike] = trade[rng.integers(0, n_firms, int(look_alike.sum()))]
    forms = np.array(vocab.FORMS, dtype=object)
    form_p = np.where(np.isin(segment, ["tech", "large"]), 0.25, 0.05)
    form = np.where(
        rng.random(n_firms) < form_p, forms[2], forms[(rng.random(n_firms) < 0.12).astype(int)]
    )
    bracketed = rng.random(n_firms) < config.registry.parenthesized_name
    parts = name_parts.NameParts(prefix, short, trade, word.astype(object), form, bracketed)
    parts = name_parts.dedupe_names(parts, rng)

    # Relocations: a new district (same province mostly); the credit code keeps the old one.
    relocated = (rng.random(n_firms) < config.registry.relocation) & (status == "operating")
    new_province = np.where(
        rng.random(n_firms) < 0.8,
        province,
        np.array(provinces)[rng.integers(0, len(provinces), n_firms)],
    )
    new_region = regions.sample(new_province, rng)
    region = np.where(relocated, new_region, original_region)
    relocated_on = np.where(
        relocated, random_days(established + 365, np.full(n_firms, evaluation_day - 1), rng), -1
    )

    codes = credit_codes(original_region, rng)
    firms = pd.DataFrame(
        {
            "credit_code": codes,
            "segment": segment,
            "province": np.array([r[:2] for r in region], dtype=object),
            "region_code": region,
            "original_region": original_region,
            "relocated_on": relocated_on,
            "industry_code": industry,
            "established_on": established,
            "status": status,
            "status_on": status_on,
            "files_financials": files,
            "quality": quality,
            "growth": growth,
            "propensity": propensity,
            "market_strength": market_strength,
            "true_rank": true_rank,
            "true_share": true_share,
            "score_effect": score_effect,
        }
    )
    parts, name_history = _renames(firms, parts, relocated, regions, rng, config)
    firms["name"] = parts.full()
    return Population(firms=firms, parts=parts, name_history=name_history)


def _renames(
    firms: pd.DataFrame,
    parts: name_parts.NameParts,
    relocated: np.ndarray,
    regions: Regions,
    rng: np.random.Generator,
    config: SynthConfig,
) -> tuple[name_parts.NameParts, pd.DataFrame]:
    """Article 19 renames: the original name becomes a former name. Returns current parts."""
    n = len(firms)
    evaluation_day = day_number(config.evaluation_date)
    established = firms["established_on"].to_numpy()
    renamed = rng.random(n) < config.registry.rename
    # Half of relocated firms also take the new region into their name.
    region_rename = relocated & (rng.random(n) < 0.5)
    history: list[pd.DataFrame] = []
    current = parts.copy()
    for round_no in range(2):
        if round_no == 0:
            who = np.flatnonzero(renamed | region_rename)
        else:
            who = np.flatnonzero(renamed & (rng.random(n) < config.registry.second_rename))
        if who.size == 0:
            continue
        low = np.maximum(established[who] + 180, year_start(np.array([2019]))[0])
        if round_no == 1:
            low = np.maximum(
                low, history[0].set_index("firm").loc[who, "changed_on"].to_numpy() + 90
            )
        changed_on = random_days(low, np.full(who.size, evaluation_day - 1), rng)
        if round_no == 0:
            region_firms = region_rename[who]
            relocated_on = firms["relocated_on"].to_numpy()[who]
            changed_on = np.where(region_firms, relocated_on + 30, changed_on)
            changed_on = np.minimum(changed_on, evaluation_day - 1)
        former = current.full()[who]
        kind = rng.random(who.size)
        new_trade = name_parts.trade_names(who.size, rng)
        # A new trade name, a new organisation form (e.g. before a share issue) or a new word.
        trade_change = kind < 0.4
        current.trade[who[trade_change]] = new_trade[trade_change]
        form_change = (kind >= 0.4) & (kind < 0.7)
        current.form[who[form_change]] = np.where(
            current.form[who[form_change]] == "股份有限公司", "有限公司", "股份有限公司"
        )
        word_change = kind >= 0.7
        current.word[who[word_change]] = np.where(
            current.word[who[word_change]] == "科技", "技术", "科技"
        )
        if round_no == 0 and region_rename.any():
            moved = who[region_rename[who]]
            prefix, short = name_parts.region_parts(
                firms["region_code"].to_numpy()[moved], regions, rng, 0.0
            )
            current.prefix[moved] = prefix
            current.short[moved] = short
        history.append(pd.DataFrame({"firm": who, "former_name": former, "changed_on": changed_on}))
        current = name_parts.dedupe_names(current, rng)
    name_history = (
        pd.concat(history, ignore_index=True)
        if history
        else pd.DataFrame(
            {
                "firm": np.array([], dtype=np.int64),
                "former_name": np.array([], dtype=object),
                "changed_on": np.array([], dtype=np.int64),
            }
        )
    )
    # A rename may be undone by chance (科技 → 技术 → 科技): drop no-op history rows.
    full_now = current.full()
    name_history = name_history[
        name_history["former_name"].to_numpy() != full_now[name_history["firm"].to_numpy()]
    ]
    return current, name_history.reset_index(drop=True)
