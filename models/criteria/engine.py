"""Assemble the long criteria table of outputs.md (`zjtx criteria`) and the cultivation list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.sources import SourceData
from models.criteria.doubts import PENDING_LIFT, settle, settle_pending, with_pending
from models.criteria.facts import Facts, day
from models.criteria.rules import annex1, annex2, article11, both_annexes
from models.criteria.text import (
    FAIL,
    UNKNOWN,
    Date,
    TextPool,
    Verdicts,
    joined_per_group,
    render,
)
from models.criteria_config import (
    LITTLE_GIANT_CRITERIA,
    SHARED_CRITERIA,
    SPECIALIZED_CRITERIA,
    CriteriaConfig,
)
from models.labels import TITLE_LABELS, criterion_heading, criterion_text

TIERS = ("specialized", "little_giant")
MODES = ("discovery", "renewal")
TIER_TITLE = {"specialized": "specialized_sme", "little_giant": "little_giant"}
TIER_CRITERIA = {
    "specialized": SHARED_CRITERIA + SPECIALIZED_CRITERIA,
    "little_giant": SHARED_CRITERIA + LITTLE_GIANT_CRITERIA,
}
CRITERIA = (*SHARED_CRITERIA, *SPECIALIZED_CRITERIA, *LITTLE_GIANT_CRITERIA, "outcome")
VERDICTS = ("pass", "fail", "unknown", "eligible", "to_verify", "ineligible", "already_certified")
ELIGIBLE, TO_VERIFY, INELIGIBLE, ALREADY_CERTIFIED = 3, 4, 5, 6
OUTPUT_COLUMNS = ["credit_code", "tier", "mode", "criterion", "verdict", "evidence"]
# outputs.md, 附件3（四）: matters the firm states itself; their `unknown` does not block.
SELF_DECLARED = frozenset({"a1_5_market", "a2_5_market", "art11_products_allowed"})


def _tier_rules(f: Facts, tier: str, due: np.ndarray | None) -> dict[str, Callable[[], Verdicts]]:
    """The tier's criterion rules; `due`: renewal mode for these firms (mask), else discovery."""
    a1, a2 = f.config.a1, f.config.a2
    renewal = due is not None
    held = TIER_TITLE[tier] if renewal else None
    if tier == "specialized":
        return {
            "a1_1_title": lambda: both_annexes.title(
                f, a1.titles, "附件1（一）、第三十条", held, due
            ),
            "a1_1_niche_years": lambda: both_annexes.niche_years(f, a1.niche_years, "附件1（一）"),
            "a1_2_scale": lambda: annex1.a1_2_scale(f),
            "a1_2_main_business": lambda: both_annexes.main_business(
                f, a1.main_business_share_min, "附件1（二）"
            ),
            "a1_2_debt_ratio": lambda: both_annexes.debt_ratio(f, a1.debt_ratio_max, "附件1（二）"),
            "a1_3_rd": lambda: annex1.a1_3_rd(f),
            "a1_4_ip": lambda: annex1.a1_4_ip(f),
            "a1_5_market": lambda: both_annexes.market(
                f, a1.market_share_min, a1.market_rank_max, "附件1（五）", "享有一定知名度、影响力"
            ),
            "a1_6_evaluation": lambda: both_annexes.evaluation(
                f,
                a1.evaluation_score_min,
                a1.evaluation_renewal_years,
                renewal,
                "附件1（六）",
                due,
            ),
        }
    return {
        "a2_1_title": lambda: both_annexes.title(f, a2.titles, "附件2（一）", held, due),
        "a2_1_niche_years": lambda: both_annexes.niche_years(f, a2.niche_years, "附件2（一）"),
        "a2_2_revenue": lambda: annex2.a2_2_revenue(f),
        "a2_2_main_business": lambda: both_annexes.main_business(
            f, a2.main_business_share_min, "附件2（二）"
        ),
        "a2_2_growth": lambda: annex2.a2_2_growth(f, renewal),
        "a2_2_debt_ratio": lambda: both_annexes.debt_ratio(f, a2.debt_ratio_max, "附件2（二）"),
        "a2_3_rd": lambda: annex2.a2_3_rd(f),
        "a2_4_ip": lambda: annex2.a2_4_ip(f),
        "a2_5_market": lambda: both_annexes.market(
            f, a2.market_share_min, a2.market_rank_max, "附件2（五）", "享有较高知名度、影响力"
        ),
        "a2_6_domain": lambda: annex2.a2_6_domain(f),
        "a2_7_evaluation": lambda: both_annexes.evaluation(
            f,
            a2.evaluation_score_min,
            a2.evaluation_renewal_years,
            renewal,
            "附件2（七）",
            due,
        ),
    }


# Criteria whose rule differs in renewal mode (outputs.md): title, growth, evaluation score.
RENEWAL_SPECIFIC = frozenset(
    {"a1_1_title", "a1_6_evaluation", "a2_1_title", "a2_2_growth", "a2_7_evaluation"}
)
SHARED_RULES: dict[str, Callable[[Facts], Verdicts]] = {
    "art11_registered": article11.art11_registered,
    "art11_sme_size": article11.art11_sme_size,
    "art11_credit_lists": article11.art11_credit_lists,
    "art11_incidents": article11.art11_incidents,
    "art11_products_allowed": article11.art11_products_allowed,
    "art20_ban": article11.art20_ban,
}


@dataclass
class _Block:
    firms: np.ndarray  # firm positions (int32)
    tier: int
    mode: int
    criterion: int
    verdict: np.ndarray  # int8 codes into VERDICTS
    evidence: np.ndarray  # int32 codes into the text pool


def _renewal_firms(f: Facts) -> dict[str, np.ndarray]:
    """Firms due for 复核 per tier: their highest title expires within the renewal window."""
    if not f.has("certifications"):
        return {tier: np.zeros(0, dtype=np.int32) for tier in TIERS}
    titles = f.titles
    window_end = day(f.as_of + dt.timedelta(days=f.config.renewal.window_days))
    giant = titles.valid["little_giant"]
    due = {
        # 第十六条: 到期前复核; 附件3（十一）: only the highest title is renewed.
        "little_giant": giant & (titles.expires["little_giant"] <= window_end),
        "specialized": titles.valid["specialized_sme"]
        & ~giant
        & (titles.expires["specialized_sme"] <= window_end),
    }
    return {tier: np.flatnonzero(mask).astype(np.int32) for tier, mask in due.items()}


def _outcome(
    f: Facts,
    tier: str,
    verdicts: dict[str, np.ndarray],
    doubted: dict[str, np.ndarray],
    firms: np.ndarray,
    certified: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Outcome verdict and evidence for `firms` from their criterion verdicts (outputs.md).

    `doubted`: per criterion, the firms whose `unknown` comes from a doubt about the data
    (models/criteria/doubts.py); it blocks `eligible` even for a self-declared criterion.
    """
    ids = TIER_CRITERIA[tier]
    stacked = np.stack([verdicts[c] for c in ids])
    failing = stacked == FAIL
    declarable = np.array([c in SELF_DECLARED for c in ids])[:, None]
    doubt = np.stack([doubted[c] for c in ids])
    blocking = (stacked == UNKNOWN) & (~declarable | doubt)
    declared = (stacked == UNKNOWN) & declarable & ~doubt
    bits = (1 << np.arange(len(ids), dtype=np.int64))[:, None]
    outcome = np.where(
        failing.any(0), INELIGIBLE, np.where(blocking.any(0), TO_VERIFY, ELIGIBLE)
    ).astype(np.int8)
    detail = np.where(
        outcome == INELIGIBLE,
        (failing * bits).sum(0),
        np.where(outcome == TO_VERIFY, (blocking * bits).sum(0), (declared * bits).sum(0)),
    )
    key = outcome.astype(np.int64) << 32 | detail
    uniques, inverse = np.unique(key, return_inverse=True)
    texts = np.empty(len(uniques), dtype=np.int32)
    for i, value in enumerate(uniques):
        kind, mask = int(value >> 32), int(value & 0xFFFFFFFF)
        names = "、".join(criterion_heading(c) for j, c in enumerate(ids) if mask >> j & 1)
        if kind == INELIGIBLE:
            text = f"不符合：{names}"
        elif kind == TO_VERIFY:
            text = f"数据可核验的条件无不符合项；待核实：{names}"
        else:
            text = "数据可核验的条件均已满足" + (f"；需企业说明：{names}" if names else "")
        texts[i] = f.pool.constant(text)
    evidence = texts[inverse.ravel()]
    if certified is not None and certified.any():
        # outputs.md: already_certified — a valid title of this tier or higher (discovery mode).
        idx = np.flatnonzero(certified)
        outcome[idx] = ALREADY_CERTIFIED
        titles = f.titles
        giant = titles.valid["little_giant"][firms[idx]]
        expires = np.where(
            giant,
            titles.expires["little_giant"][firms[idx]],
            titles.expires[TIER_TITLE[tier]][firms[idx]],
        )
        for mask, name in ((giant, "little_giant"), (~giant, TIER_TITLE[tier])):
            if mask.any():
                label = TITLE_LABELS[name]
                evidence[idx[mask]] = render(
                    f.pool,
                    np.flatnonzero(mask),
                    [f"已持有有效的{label}称号（有效期至", Date(expires), "），无需重复认定"],
                )
    return outcome, evidence


def evaluate_criteria(
    data: SourceData,
    as_of: dt.date,
    config: CriteriaConfig,
    *,
    refused: pd.DataFrame | None = None,
    pending: SourceData | None = None,
) -> pd.DataFrame:
    """Every firm × tier × criterion verdict with evidence (outputs.md, `zjtx criteria`).

    Rows: `discovery` mode for every firm and tier, plus `renewal` mode for firms whose highest
    title expires within the renewal window. Columns are categoricals (evidence included).

    A verdict never rests on data that could not be used: `refused` (features.unsettled.
    refused_by_firm: refused rows attributed to firms) and `pending` (features.unsettled.
    pending_mentions: mentions awaiting review, one row per candidate firm) turn the verdicts
    they could change into `unknown` (models/criteria/doubts.py).
    """
    if not data.has("firms"):
        raise ValueError("the firms table is required")
    pool = TextPool()
    f = Facts(data, as_of, config, pool, refused)
    shadow = None
    if pending is not None and any(len(rows) for rows in pending.tables.values()):
        shadow = Facts(with_pending(data, pending), as_of, config, TextPool())
    all_firms = np.arange(f.n, dtype=np.int32)
    shared = {c: settle(f, c, SHARED_RULES[c](f)) for c in SHARED_CRITERIA}
    due = _renewal_firms(f)
    blocks: list[_Block] = []

    def judged(tier: str) -> dict[str, Verdicts]:
        out = {}
        lifted = _tier_rules(shadow, tier, None) if shadow is not None else {}
        for c, rule in _tier_rules(f, tier, None).items():
            v = settle(f, c, rule())
            if shadow is not None and c in PENDING_LIFT and (v.verdict == FAIL).any():
                v = settle_pending(f, shadow, c, v, lifted[c]())
            out[c] = v
        return out

    for t, tier in enumerate(TIERS):
        discovery = {**shared, **judged(tier)}
        certified = None
        if f.has("certifications"):
            certified = f.titles.valid["little_giant"] | f.titles.valid[TIER_TITLE[tier]]
        modes: list[tuple[int, np.ndarray, dict[str, Verdicts], np.ndarray | None]] = [
            (0, all_firms, discovery, certified)
        ]
        if due[tier].size:
            due_mask = np.zeros(f.n, dtype=bool)
            due_mask[due[tier]] = True
            renewal_rules = _tier_rules(f, tier, due_mask)
            renewal = {
                c: (
                    settle(f, c, renewal_rules[c](), renewal=True)
                    if c in RENEWAL_SPECIFIC
                    else discovery[c]
                )
                for c in TIER_CRITERIA[tier]
            }
            modes.append((1, due[tier], renewal, None))
        for m, firms, verdicts, cert in modes:
            subset = {c: verdicts[c].verdict[firms] for c in TIER_CRITERIA[tier]}
            doubted = {c: verdicts[c].doubted[firms] for c in TIER_CRITERIA[tier]}
            for c in TIER_CRITERIA[tier]:
                blocks.append(
                    _Block(
                        firms,
                        t,
                        m,
                        CRITERIA.index(c),
                        subset[c],
                        verdicts[c].evidence[firms],
                    )
                )
            outcome, evidence = _outcome(
                f, tier, subset, doubted, firms, None if cert is None else cert[firms]
            )
            blocks.append(_Block(firms, t, m, CRITERIA.index("outcome"), outcome, evidence))
    return _assemble(f, pool, blocks)


def _categorical(
    codes: np.ndarray, categories: pd.Index | list[str], *, unique: bool = False
) -> pd.Categorical:
    """A categorical from codes. `unique`: the categories are known to be distinct (a pyarrow
    dictionary, deduplicated credit codes), so pandas' uniqueness check (seconds for millions
    of texts) is skipped."""
    if unique and hasattr(pd.CategoricalDtype, "_from_fastpath"):
        dtype = pd.CategoricalDtype._from_fastpath(pd.Index(categories), ordered=False)
    else:
        dtype = pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _assemble(f: Facts, pool: TextPool, blocks: list[_Block]) -> pd.DataFrame:
    encode, uniques = pool.finish()
    sizes = [b.firms.size for b in blocks]

    def constant(attr: str) -> np.ndarray:
        return np.repeat(np.array([getattr(b, attr) for b in blocks], dtype=np.int8), sizes)

    evidence = encode(np.concatenate([b.evidence for b in blocks]))
    texts = pd.Index(pd.array(uniques, dtype="str"))
    codes = pd.Index(pd.array(f.codes, dtype="str"))
    return pd.DataFrame(
        {
            "credit_code": _categorical(
                np.concatenate([b.firms for b in blocks]), codes, unique=True
            ),
            "tier": _categorical(constant("tier"), list(TIERS)),
            "mode": _categorical(constant("mode"), list(MODES)),
            "criterion": _categorical(constant("criterion"), list(CRITERIA)),
            "verdict": _categorical(np.concatenate([b.verdict for b in blocks]), list(VERDICTS)),
            "evidence": _categorical(evidence, texts, unique=True),
        }
    )


def cultivation_list(criteria: pd.DataFrame, config: CriteriaConfig) -> pd.DataFrame:
    """Near misses (Chapter 4): discovery-mode firms `ineligible` only through cultivable
    criteria, at most `cultivation.max_failing` of them. Never invited; listed for services.

    Columns: credit_code, tier, failing_criteria (ids joined by ","), evidence (each failing
    criterion's evidence led by its name, joined by "；").
    """
    settings = config.cultivation
    columns = ["credit_code", "tier", "failing_criteria", "evidence"]
    keys = ["credit_code", "tier"]
    discovery = criteria["mode"] == "discovery"
    ineligible = criteria.loc[
        discovery & (criteria["criterion"] == "outcome") & (criteria["verdict"] == "ineligible"),
        keys,
    ]
    fails = criteria.loc[discovery & (criteria["verdict"] == "fail"), [*keys, "criterion"]]
    fails = fails.assign(cultivable=fails["criterion"].isin(settings.criteria))
    stats = fails.groupby(keys, observed=True, sort=False)["cultivable"].agg(["size", "all"])
    near = stats[(stats["size"] <= settings.max_failing) & stats["all"]].index
    near = near.intersection(pd.MultiIndex.from_frame(ineligible))
    if near.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    rows = pd.MultiIndex.from_frame(fails[keys]).isin(near)
    chosen = criteria.loc[fails.index[rows], [*keys, "criterion", "evidence"]].astype("str")
    chosen["evidence"] = [
        criterion_text(c, e) for c, e in zip(chosen["criterion"], chosen["evidence"], strict=True)
    ]
    chosen = chosen.sort_values(keys, kind="stable")  # groups in key order, rows as they were
    listed = pd.DataFrame(
        {
            "failing_criteria": joined_per_group(chosen, keys, "criterion", ","),
            "evidence": joined_per_group(chosen, keys, "evidence", "；"),
        }
    )
    return listed.reset_index()[columns].astype("str")
