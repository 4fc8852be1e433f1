"""Certification history: yearly applications decided by the criteria engine and hidden factors.

An application is approved only when the criteria engine, run on the truth as it stood on the
decision date, does not find the firm `ineligible` for the tier, AND the hidden factors pass:
the firm's true market position and the reviewers' judgement (Article 10), both drawn from
latent quality with noise. So no title in the history was ever granted against a standard.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.sources import SourceData
from synth.config import SynthConfig
from synth.population import day_number, shifted_probability, sigmoid
from synth.world import World, certifications_on, snapshot

Evaluator = Callable[[SourceData, dt.date], pd.DataFrame]
TIER_OF_TITLE = {"specialized_sme": "specialized", "little_giant": "little_giant"}
TITLE_OF_TIER = {v: k for k, v in TIER_OF_TITLE.items()}
# History frames and their dtypes (for a world without any round).
APPLICATION_COLUMNS: dict[str, type] = {
    "firm": np.int64,
    "tier": object,
    "engine_outcome": object,
    "market_pass": bool,
    "reviewer_pass": bool,
    "outcome": object,
    "reason": object,
    "year": np.int64,
}
RENEWAL_COLUMNS: dict[str, type] = {
    "firm": np.int64,
    "tier": object,
    "year": np.int64,
    "engine_outcome": object,
    "renewed": bool,
}
# Article 20 grounds, as credit events → the revoke reason recorded on the title.
ARTICLE20_REASON = {
    "major_safety_accident": "incident",
    "major_cyber_incident": "incident",
    "major_environmental_violation": "incident",
    "serious_quality_issue": "incident",
    "serious_industry_violation": "incident",
    "serious_dishonesty": "dishonesty",
    "data_fraud": "data_fraud",
}


def criteria_engine() -> Evaluator:
    """The project's criteria engine with its operative configuration."""
    from models.criteria import evaluate_criteria
    from models.criteria_config import load_criteria_config

    config = load_criteria_config()

    def evaluate(data: SourceData, as_of: dt.date) -> pd.DataFrame:
        return evaluate_criteria(data, as_of, config)

    return evaluate


def outcomes(result: pd.DataFrame) -> pd.DataFrame:
    """credit_code, tier, mode, verdict of the engine's `outcome` rows."""
    rows = result[result["criterion"] == "outcome"]
    return rows[["credit_code", "tier", "mode", "verdict"]].astype(
        {"credit_code": object, "tier": object, "mode": object, "verdict": object}
    )


def add_years(days: np.ndarray, years: int) -> np.ndarray:
    """Same calendar day `years` later (29 February → 28 February)."""
    dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype(object)
    shifted = []
    for d in dates:
        try:
            shifted.append(d.replace(year=d.year + years))
        except ValueError:
            shifted.append(d.replace(year=d.year + years, day=28))
    return np.array([day_number(d) for d in shifted], dtype=np.int64)


def hidden_market_pass(
    world: World, firm: np.ndarray, tier: np.ndarray, config: SynthConfig
) -> np.ndarray:
    """True market position (never in the data): 附件1（五）/附件2（五）."""
    cfg = config.applications
    rank = world.firms["true_rank"].to_numpy()[firm]
    share = world.firms["true_share"].to_numpy()[firm]
    specialized = (rank <= cfg.specialized_rank_max) | (share >= cfg.specialized_share_min)
    little_giant = (rank <= cfg.little_giant_rank_max) | (share >= cfg.little_giant_share_min)
    return np.where(tier == "little_giant", little_giant, specialized)


def reviewer_pass_probability(quality: np.ndarray, config: SynthConfig) -> np.ndarray:
    """Article 10: the reviewers' judgement, logistic in hidden quality; world
    approval_strictness lowers it for every firm alike."""
    cfg = config.applications
    return sigmoid(
        cfg.reviewer_logit - config.world.approval_strictness + cfg.reviewer_per_quality * quality
    )


def renewal_pass_probability(config: SynthConfig) -> float:
    """复核 (Article 16): the reviewers' pass of a renewal, as strict as for new applications."""
    strictness = config.world.approval_strictness
    p = config.applications.renewal_reviewer_pass
    return p if strictness == 0 else float(shifted_probability(p, -strictness))


def submission_days(
    applications: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> np.ndarray:
    """The day each application reached the province: over the configured weeks before its
    round's decision date, never on or after it."""
    round_day = np.array(
        [day_number(config.application_date(int(y))) for y in applications["year"].to_numpy()],
        dtype=np.int64,
    )
    window = 7 * config.applications.submission_weeks
    return round_day - 1 - rng.integers(0, window, len(applications))


def decide(
    applicants: pd.DataFrame,
    engine_outcomes: pd.DataFrame,
    world: World,
    config: SynthConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Decide applications (firm, tier) from the engine's discovery outcomes and hidden factors.

    Adds columns engine_outcome, market_pass, reviewer_pass, outcome, reason.
    """
    cfg = config.applications
    discovery = engine_outcomes[engine_outcomes["mode"] == "discovery"]
    verdict = discovery.set_index(["credit_code", "tier"])["verdict"]
    codes = world.codes[applicants["firm"].to_numpy()]
    tiers = applicants["tier"].to_numpy()
    engine = verdict.reindex(pd.MultiIndex.from_arrays([codes, tiers])).to_numpy(dtype=object)
    engine = np.where(pd.isna(engine), "not_evaluated", engine)
    firm = applicants["firm"].to_numpy()
    market = hidden_market_pass(world, firm, tiers, config)
    quality = world.firms["quality"].to_numpy()[firm]
    reviewer = rng.random(firm.size) < reviewer_pass_probability(quality, config)
    withdrawn = rng.random(firm.size) < cfg.withdrawn
    not_ineligible = np.isin(engine, ["eligible", "to_verify"])
    approved = not_ineligible & market & reviewer & ~withdrawn
    reason = np.select(
        [withdrawn, ~not_ineligible, ~market, ~reviewer],
        ["withdrawn", "criteria", "market_position", "reviewers"],
        "approved",
    )
    return applicants.assign(
        engine_outcome=engine,
        market_pass=market,
        reviewer_pass=reviewer,
        outcome=np.where(withdrawn, "withdrawn", np.where(approved, "approved", "rejected")),
        reason=reason,
    )


@dataclass
class History:
    applications: pd.DataFrame  # firm, year, tier, engine_outcome, …, outcome, reason
    renewals: pd.DataFrame  # firm, year, tier, engine_outcome, renewed
    published_scores: pd.DataFrame  # firm, year: scores the platform published
    # year -> (P(apply for specialized), P(apply for little giant)) per firm in that round
    apply_probability: dict[int, tuple[np.ndarray, np.ndarray]]
    rejected_before: np.ndarray  # after the last round


def _revocations(
    world: World, certs: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Revocation date, reason and lifted ban for new titles (Articles 17, 18, 20)."""
    cfg = config.applications
    evaluation = day_number(config.evaluation_date)
    events = world.tables["credit_events"]
    grave = events[events["event_type"].isin(list(ARTICLE20_REASON))]
    n = len(certs)
    revoked_on = np.full(n, -1, dtype=np.int64)
    reason = np.full(n, None, dtype=object)
    lifted = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return certs.assign(revoked_on=revoked_on, revoke_reason=reason, ban_lifted_on=lifted)
    pairs = certs[["firm", "certified_on", "expires_on"]].reset_index().merge(grave, on="firm")
    pairs = pairs[
        (pairs["occurred_on"] > pairs["certified_on"])
        & (pairs["occurred_on"] <= pairs["expires_on"])
    ]
    first = pairs.sort_values(["index", "occurred_on", "event_type"]).drop_duplicates("index")
    idx = first["index"].to_numpy()
    delay = rng.integers(20, 90, idx.size)
    revoked_on[idx] = first["occurred_on"].to_numpy() + delay
    reason[idx] = first["event_type"].map(ARTICLE20_REASON).to_numpy()
    resolved = first["resolved_on"].to_numpy()
    repaired = (first["event_type"].to_numpy() == "serious_dishonesty") & (resolved >= 0)
    other = (~repaired) & (rng.random(idx.size) < cfg.ban_lifted)
    lifted[idx] = np.where(
        repaired,
        np.maximum(resolved, revoked_on[idx]),
        np.where(other, revoked_on[idx] + rng.integers(180, 700, idx.size), -1),
    )
    # Articles 17 and 18: not updated twice, or a major change not reported.
    admin = (revoked_on < 0) & (
        rng.random(n) < cfg.not_updated_revocation + cfg.unreported_change_revocation
    )
    span = certs["expires_on"].to_numpy() - certs["certified_on"].to_numpy()
    revoked_on[admin] = certs["certified_on"].to_numpy()[admin] + (
        rng.random(int(admin.sum())) * span[admin]
    ).astype(np.int64)
    reason[admin] = np.where(
        rng.random(int(admin.sum()))
        * (cfg.not_updated_revocation + cfg.unreported_change_revocation)
        < cfg.not_updated_revocation,
        "not_updated",
        "unreported_change",
    )
    late = revoked_on >= evaluation
    revoked_on[late], reason[late], lifted[late] = -1, None, -1
    lifted[lifted >= evaluation] = -1
    return certs.assign(revoked_on=revoked_on, revoke_reason=reason, ban_lifted_on=lifted)


def _valid_titles(world: World, today: int) -> dict[str, np.ndarray]:
    certs = certifications_on(world, today)
    valid = certs[
        (certs["status"] == "valid")
        & (certs["expires_on"] >= pd.Timestamp(np.datetime64(today, "D")))
    ]
    index = pd.Index(world.codes)
    out = {}
    for title in ("tech_sme", "innovative_sme", "specialized_sme", "little_giant"):
        held = np.zeros(len(world.firms), dtype=bool)
        pos = index.get_indexer(valid.loc[valid["title"] == title, "credit_code"])
        held[pos[pos >= 0]] = True
        out[title] = held
    return out


def _funded(world: World, today: int) -> np.ndarray:
    """Firms with a qualified equity round paid in during the two years before `today`."""
    rounds = world.tables["investments"]
    recent = rounds[
        (rounds["firm"].to_numpy() >= 0)
        & rounds["investor_qualified"].to_numpy()
        & (rounds["paid_in_on"].to_numpy() < today)
        & (rounds["paid_in_on"].to_numpy() >= today - 730)
    ]
    funded = np.zeros(len(world.firms), dtype=bool)
    funded[recent["firm"].to_numpy()] = True
    return funded


def _self_check(world: World, config: SynthConfig) -> dict[str, dict[int, np.ndarray]]:
    """Per tier and application year: the firm's own accounts of the year before reach the
    tier's revenue and R&D lines (what the platform's self-assessment shows it)."""
    cfg = config.applications
    fin = world.tables["financials"]
    n = len(world.firms)
    result: dict[str, dict[int, np.ndarray]] = {tier: {} for tier in TIER_OF_TITLE.values()}
    # The round after the evaluation date reads the last round's check (the evaluation year's
    # own one when there was no round).
    years = sorted({*config.application_years, config.evaluation_date.year - 1})
    for year in years:
        last = fin[fin["fiscal_year"] == year - 1]
        firm = last["firm"].to_numpy()
        revenue = last["revenue"].to_numpy()
        rd = last["rd_expense"].to_numpy()
        intensity = np.divide(rd, revenue, out=np.zeros_like(rd), where=revenue > 0)
        for tier in result:
            ok = np.zeros(n, dtype=bool)
            ok[firm] = (
                (revenue >= cfg.self_check_revenue_min[tier])
                & (rd >= cfg.self_check_rd_min[tier])
                & (intensity >= cfg.self_check_rd_intensity_min)
            )
            result[tier][year] = ok
    return result


def apply_probabilities(
    world: World,
    config: SynthConfig,
    year: int,
    held: dict[str, np.ndarray],
    rejected_before: np.ndarray,
    self_check: dict[str, dict[int, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """The history's own probability that each firm applies in `year`'s round, per tier
    (before the pool, title and alive conditions, which decide who *can* apply)."""
    cfg = config.applications
    f = world.firms
    today = day_number(config.application_date(year))
    drive = (
        cfg.per_propensity * f["propensity"].to_numpy() + cfg.per_quality * f["quality"].to_numpy()
    )
    drive = drive + cfg.after_rejection * rejected_before
    drive = drive + cfg.yearly_increase * (year - config.first_application_year)
    drive = drive + cfg.after_funding * _funded(world, today)
    lg_p = sigmoid(cfg.little_giant_logit + drive)
    spec_p = sigmoid(cfg.specialized_logit + drive)
    has_base = held["tech_sme"] | held["innovative_sme"]
    spec_p = np.where(has_base, spec_p, spec_p * cfg.without_title_factor)
    check_year = min(year, max(self_check["specialized"]))
    spec_p = np.where(self_check["specialized"][check_year], spec_p, spec_p * cfg.self_check_factor)
    lg_p = np.where(self_check["little_giant"][check_year], lg_p, lg_p * cfg.self_check_factor)
    odds = config.world.apply_propensity
    if odds != 1.0:
        spec_p, lg_p = _scaled_odds(spec_p, odds), _scaled_odds(lg_p, odds)
    return spec_p, lg_p


def _scaled_odds(probability: np.ndarray, factor: float) -> np.ndarray:
    """`probability` with its odds multiplied by `factor` (world apply_propensity)."""
    return factor * probability / (1.0 - probability + factor * probability)


def _empty(columns: Mapping[str, type]) -> pd.DataFrame:
    return pd.DataFrame({name: np.array([], dtype=dtype) for name, dtype in columns.items()})


def run_history(
    world: World, config: SynthConfig, rng: np.random.Generator, evaluate: Evaluator
) -> History:
    """One application and renewal round per year; adds specialized/LG certifications to world."""
    f = world.firms
    pool = f["files_financials"].to_numpy() & f["segment"].isin(["tech", "sme"]).to_numpy()
    applications, renewals, published = [], [], []
    probabilities: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    # Firms rejected in an earlier round try again more often (persistence is part of what
    # propensity means; the applications table shows their earlier attempts).
    rejected_before = np.zeros(len(f), dtype=bool)
    self_check = _self_check(world, config)
    for year in config.application_years:
        decision = config.application_date(year)
        today = day_number(decision)
        alive = (f["established_on"].to_numpy() <= today - 365) & ~(
            (f["status_on"].to_numpy() >= 0) & (f["status_on"].to_numpy() <= today)
        )
        held = _valid_titles(world, today)
        spec_p, lg_p = apply_probabilities(world, config, year, held, rejected_before, self_check)
        probabilities[year] = (spec_p, lg_p)
        draw = rng.random(len(f))
        apply_lg = pool & alive & held["specialized_sme"] & ~held["little_giant"] & (draw < lg_p)
        apply_spec = (
            pool & alive & ~held["specialized_sme"] & ~held["little_giant"] & (draw < spec_p)
        )
        applicants = pd.DataFrame(
            {
                "firm": np.concatenate([np.flatnonzero(apply_spec), np.flatnonzero(apply_lg)]),
                "tier": ["specialized"] * int(apply_spec.sum())
                + ["little_giant"] * int(apply_lg.sum()),
            }
        )
        # Titles expiring on the decision date come up for 复核 (Article 16), highest title only.
        certs = world.tables["certifications"]
        due = certs[
            (certs["expires_on"].to_numpy() == today)
            & certs["title"].isin(list(TIER_OF_TITLE)).to_numpy()
            & ~((certs["revoked_on"].to_numpy() >= 0) & (certs["revoked_on"].to_numpy() <= today))
        ]
        due = due.sort_values(["firm", "title"]).drop_duplicates(
            "firm", keep="first"
        )  # little_giant < specialized_sme
        due = due[alive[due["firm"].to_numpy()]]
        # 附件3（十一）: a little giant renews only that title.
        due = due[
            ~(
                (due["title"] == "specialized_sme").to_numpy()
                & held["little_giant"][due["firm"].to_numpy()]
            )
        ]
        due_frame = pd.DataFrame(
            {"firm": due["firm"].to_numpy(), "tier": due["title"].map(TIER_OF_TITLE).to_numpy()}
        )
        evaluated = np.union1d(applicants["firm"].to_numpy(), due_frame["firm"].to_numpy())
        result = (
            outcomes(evaluate(snapshot(world, decision, evaluated), decision))
            if evaluated.size
            else pd.DataFrame(columns=["credit_code", "tier", "mode", "verdict"])
        )

        decided = decide(applicants, result, world, config, rng).assign(year=year)
        applications.append(decided)
        rejected_before[decided.loc[decided["outcome"] == "rejected", "firm"].to_numpy()] = True
        renewal_verdict = result[result["mode"] == "renewal"].set_index(["credit_code", "tier"])[
            "verdict"
        ]
        engine = renewal_verdict.reindex(
            pd.MultiIndex.from_arrays(
                [world.codes[due_frame["firm"].to_numpy()], due_frame["tier"].to_numpy()]
            )
        ).to_numpy(dtype=object)
        engine = np.where(pd.isna(engine), "not_evaluated", engine)
        renewed = np.isin(engine, ["eligible", "to_verify"]) & (
            rng.random(len(due_frame)) < renewal_pass_probability(config)
        )
        renewals.append(due_frame.assign(year=year, engine_outcome=engine, renewed=renewed))

        approved = decided[decided["outcome"] == "approved"]
        new = pd.concat(
            [approved[["firm", "tier"]], due_frame.loc[renewed, ["firm", "tier"]]],
            ignore_index=True,
        )
        certified = np.full(len(new), today, dtype=np.int64)
        new_certs = pd.DataFrame(
            {
                "firm": new["firm"].to_numpy(),
                "title": new["tier"].map(TITLE_OF_TIER).to_numpy(),
                "certified_on": certified,
                "expires_on": add_years(certified, config.title_validity_years),
            }
        )
        new_certs = _revocations(world, new_certs, config, rng)
        world.tables["certifications"] = pd.concat(
            [world.tables["certifications"], new_certs], ignore_index=True
        )
        # The platform computes the score of every applicant and every titled firm that year.
        scored = np.union1d(
            applicants["firm"].to_numpy(),
            np.flatnonzero(held["specialized_sme"] | held["little_giant"]),
        )
        published.append(pd.DataFrame({"firm": scored, "year": year}))
    if not config.application_years:  # no round: nothing applied, renewed or scored
        applications = [_empty(APPLICATION_COLUMNS)]
        renewals = [_empty(RENEWAL_COLUMNS)]
        published = [_empty({"firm": np.int64, "year": np.int64})]
    return History(
        applications=pd.concat(applications, ignore_index=True),
        renewals=pd.concat(renewals, ignore_index=True),
        published_scores=pd.concat(published, ignore_index=True),
        apply_probability=probabilities,
        rejected_before=rejected_before,
    )


def hidden_champions(
    world: World, history: History, config: SynthConfig, evaluate: Evaluator
) -> pd.DataFrame:
    """Firms that qualify on the evaluation date (engine not ineligible on the truth + hidden
    market position) with the tier they would qualify for, and whether they ever applied."""
    evaluation = config.evaluation_date
    today = day_number(evaluation)
    f = world.firms
    held = _valid_titles(world, today)
    alive = (f["status_on"].to_numpy() < 0) | (f["status_on"].to_numpy() > today)
    pool = f["files_financials"].to_numpy() & f["segment"].isin(["tech", "sme"]).to_numpy() & alive
    fin = world.tables["financials"]
    last = fin[fin["fiscal_year"] == evaluation.year - 1]
    # Cheap necessary conditions keep the engine run small (the engine decides, not this).
    plausible = np.zeros(len(f), dtype=bool)
    plausible[last.loc[(last["rd_expense"] >= 1e6), "firm"].to_numpy()] = True
    firms = np.flatnonzero(pool & plausible & ~held["little_giant"])
    columns = [
        "credit_code",
        "tier",
        "engine_outcome",
        "market_pass",
        "applied_for_tier",
        "never_applied",
    ]
    if firms.size == 0:
        return pd.DataFrame(columns=columns)
    result = outcomes(evaluate(snapshot(world, evaluation, firms), evaluation))
    result = result[result["mode"] == "discovery"]
    codes = world.codes
    index = pd.Index(codes)
    result = result.assign(firm=index.get_indexer(result["credit_code"]))
    result = result[result["verdict"].isin(["eligible", "to_verify"]).to_numpy()]
    market = hidden_market_pass(world, result["firm"].to_numpy(), result["tier"].to_numpy(), config)
    qualified = result[market].rename(columns={"verdict": "engine_outcome"})
    # The highest tier each firm qualifies for.
    qualified = qualified.assign(order=(qualified["tier"] == "little_giant").astype(int))
    qualified = qualified.sort_values(["firm", "order"]).drop_duplicates("firm", keep="last")
    apps = history.applications
    applied = set(zip(apps["firm"].to_numpy(), apps["tier"].to_numpy(), strict=True))
    applied_any = set(apps["firm"].to_numpy().tolist())
    qualified["applied_for_tier"] = [
        (firm, tier) in applied
        for firm, tier in zip(qualified["firm"], qualified["tier"], strict=True)
    ]
    qualified["never_applied"] = [firm not in applied_any for firm in qualified["firm"]]
    qualified["market_pass"] = True
    return qualified[["firm", *columns]].reset_index(drop=True)


def qualification(
    world: World,
    history: History,
    config: SynthConfig,
    evaluate: Evaluator,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Truth for discovery: per firm, tier and evaluation date (each round's decision date and
    the evaluation date), whether the firm WOULD be approved if it applied then — the engine on
    the truth (official score included) is not `ineligible` ∧ the hidden market position ∧ the
    reviewers' decision (the recorded one for that round's applicants, a fresh draw otherwise) —
    with the history's own probability that it applies in the next round, and whether it had
    applied for the tier by the date. Firms without a row are not candidates (never qualify)."""
    f = world.firms
    q = f["quality"].to_numpy()
    pool = f["files_financials"].to_numpy() & f["segment"].isin(["tech", "sme"]).to_numpy()
    fin = world.tables["financials"]
    apps = history.applications
    self_check = _self_check(world, config)
    dates = [config.application_date(y) for y in config.application_years]
    dates.append(config.evaluation_date)
    frames = []
    for day in dates:
        today = day_number(day)
        year = day.year
        alive = (f["established_on"].to_numpy() <= today) & ~(
            (f["status_on"].to_numpy() >= 0) & (f["status_on"].to_numpy() <= today)
        )
        last = fin[fin["fiscal_year"] == year - 1]
        rd, revenue = last["rd_expense"].to_numpy(), last["revenue"].to_numpy()
        # Cheap necessary conditions keep the engine run small (the engine decides, not this).
        plausible = np.zeros(len(f), dtype=bool)
        plausible[last.loc[(rd >= 1e6) | (rd >= 0.03 * np.maximum(revenue, 1)), "firm"]] = True
        firms = np.flatnonzero(pool & alive & plausible)
        if firms.size == 0:
            continue
        result = outcomes(evaluate(snapshot(world, day, firms), day))
        result = result[result["mode"] == "discovery"].reset_index(drop=True)
        firm = pd.Index(world.codes).get_indexer(result["credit_code"])
        tier = result["tier"].to_numpy()
        market = hidden_market_pass(world, firm, tier, config)
        reviewer = rng.random(firm.size) < reviewer_pass_probability(q[firm], config)
        this_round = apps[apps["year"] == year].set_index(["firm", "tier"])["reviewer_pass"]
        recorded = this_round.reindex(pd.MultiIndex.from_arrays([firm, tier])).to_numpy()
        reviewer = np.where(pd.isna(recorded), reviewer, recorded.astype(bool))
        candidate = np.isin(result["verdict"].to_numpy(), ["eligible", "to_verify"])
        # The next round: who can apply for which tier, and the history's own probability.
        held = _valid_titles(world, today)
        following = year + 1
        if following in history.apply_probability:
            spec_p, lg_p = history.apply_probability[following]
        else:
            spec_p, lg_p = apply_probabilities(
                world, config, following, held, history.rejected_before, self_check
            )
        can_spec = pool & alive & ~held["specialized_sme"] & ~held["little_giant"]
        can_lg = pool & alive & held["specialized_sme"] & ~held["little_giant"]
        p_apply = np.where(
            tier == "little_giant",
            np.where(can_lg[firm], lg_p[firm], 0.0),
            np.where(can_spec[firm], spec_p[firm], 0.0),
        )
        before = apps[apps["year"] <= year]
        applied = set(zip(before["firm"].to_numpy(), before["tier"].to_numpy(), strict=True))
        frames.append(
            pd.DataFrame(
                {
                    "as_of": day.isoformat(),
                    "credit_code": result["credit_code"].to_numpy(),
                    "tier": tier,
                    "engine_outcome": result["verdict"].to_numpy(),
                    "market_pass": market,
                    "reviewer_pass": reviewer,
                    "would_qualify": candidate & market & reviewer,
                    "p_apply": np.round(p_apply, 4),
                    "applied_by_date": [(a, b) in applied for a, b in zip(firm, tier, strict=True)],
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(
        ["as_of", "credit_code", "tier"], kind="stable"
    )
