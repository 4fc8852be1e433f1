"""Verdicts the loaded data cannot settle: a verdict never rests on a row it could not use.

Three doubts overturn a verdict to `unknown`, keeping what it rested on in the evidence:
- a refused source row that names the firm (by a valid code, or by a name the matcher links):
  a pass it could have overturned, or a fail resting on the absence of a row like it;
- a mention pending review whose candidates include the firm: a fail it would lift;
- accounts marked `audited = false` (附件3（一）): a pass resting on them.
Such an `unknown` blocks `eligible` even for a criterion the firm states itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import NODE_CATEGORIES
from features.sources import SourceData
from features.unsettled import PENDING_COLUMN
from models.criteria.facts import FIRM_COLUMNS, Doubt, Facts, at, day, strings_of
from models.criteria.rules.both_annexes import accepted_titles, audit_note
from models.criteria.text import FAIL, PASS, UNKNOWN, Pick, Prior, Verdicts
from models.criteria_config import CriteriaConfig
from models.labels import table_text

WORSEN, LIFT = "worsen", "lift"


@dataclass(frozen=True)
class RefusedRowDoubt:
    """A refused row of `table` that could change `criterion`, by what it could do:

    WORSEN — it could have failed the criterion (records that count against the firm, or the
             figures a pass rests on), so a pass becomes `unknown`;
    LIFT   — it could have met the criterion (a title, an IP right, an award, an institution,
             an investment, a key-link supply, a score), so a fail resting on its absence
             becomes `unknown`.

    Only rows whose content could fall in the criterion count (issue 23): `window` names the
    years or dates the criterion reads (a row whose parsed year or date is outside them does not
    doubt it; an unparsed one does), `kinds` the titles or event types it reads, and `part` the
    half of the criterion the table decides (附件2（六）: the main product's field, or the
    key-link supply).
    """

    criterion: str
    table: str
    effect: str
    window: str = "any"
    kinds: str | None = None
    part: str | None = None


_FINANCIAL = (
    "art11_sme_size",
    "a1_2_scale",
    "a1_2_main_business",
    "a1_2_debt_ratio",
    "a1_3_rd",
    "a2_2_revenue",
    "a2_2_main_business",
    "a2_2_growth",
    "a2_2_debt_ratio",
    "a2_3_rd",
)
D = RefusedRowDoubt
REFUSED_ROW_DOUBTS: tuple[RefusedRowDoubt, ...] = (
    *(D(c, "financials", WORSEN, "fiscal_years") for c in _FINANCIAL),
    D("art11_credit_lists", "credit_events", WORSEN, "to_as_of", "credit_list_events"),
    D("art11_incidents", "credit_events", WORSEN, "incident_window", "incident_events"),
    D("art11_products_allowed", "products", WORSEN),
    D("art20_ban", "certifications", WORSEN, kinds="ban_titles"),
    D("a1_1_niche_years", "products", WORSEN),
    D("a2_1_niche_years", "products", WORSEN),
    D("a2_6_domain", "products", WORSEN, part="field"),
    D("a1_1_title", "certifications", LIFT, kinds="a1_titles"),
    D("a2_1_title", "certifications", LIFT, kinds="a2_titles"),
    D("a1_2_scale", "investments", LIFT, "equity_window"),
    D("a1_4_ip", "ip_rights", LIFT, "to_as_of"),
    D("a1_4_ip", "ip_holders", LIFT),
    D("a1_4_ip", "awards", LIFT, "award_window"),
    D("a1_4_ip", "rd_institutions", LIFT, "to_as_of"),
    D("a2_4_ip", "ip_rights", LIFT, "to_as_of"),
    D("a2_4_ip", "ip_holders", LIFT),
    D("a2_4_ip", "awards", LIFT, "award_window"),
    D("a1_5_market", "products", LIFT),
    D("a2_5_market", "products", LIFT),
    D("a2_6_domain", "products", LIFT, part="field"),
    D("a2_6_domain", "supply_chain", LIFT, "key_link_years", part="key_link"),
    D("a1_6_evaluation", "evaluation_scores", LIFT, "score_years"),
    D("a2_7_evaluation", "evaluation_scores", LIFT, "score_years"),
)
del D


@dataclass(frozen=True)
class Span:
    """Years (a set) or days (first..last, None = open) a criterion reads."""

    years: frozenset[int] | None = None
    first: dt.date | None = None
    last: dt.date | None = None


def _window(
    as_of: dt.date, config: CriteriaConfig, name: str, criterion: str, renewal: bool
) -> Span | None:
    """The span a named window covers for `criterion` on `as_of` (None: any row)."""
    year = as_of.year - 1  # Y: 上年度 / 上年末

    def years_from(span: int) -> dt.date:
        return dt.date(year - span + 1, 1, 1)

    if name == "fiscal_years":
        return Span(years=frozenset(financial_years(config, year, criterion) or [year]))
    if name == "to_as_of":
        return Span(last=as_of)
    if name == "incident_window":
        return Span(first=years_from(config.eligibility.incident_window_years), last=as_of)
    if name == "equity_window":
        return Span(first=years_from(config.a1.equity_window_years), last=dt.date(year, 12, 31))
    if name == "award_window":
        return Span(first=years_from(config.definitions.award_window_years), last=as_of)
    if name == "key_link_years":
        return Span(years=frozenset(range(year - config.a2.domain_supply_years + 1, year + 1)))
    if name == "score_years":
        tier = config.a1 if criterion == "a1_6_evaluation" else config.a2
        span = tier.evaluation_renewal_years if renewal else 1
        return Span(years=frozenset(range(as_of.year - span + 1, as_of.year + 1)))
    return None


def _kinds(config: CriteriaConfig, name: str) -> list[str]:
    return {
        "credit_list_events": list(config.eligibility.credit_list_events),
        "incident_events": [*config.eligibility.incident_events, *config.review.incident_events],
        "ban_titles": list(config.eligibility.ban_titles),
        "a1_titles": accepted_titles(config.a1.titles),
        "a2_titles": accepted_titles(config.a2.titles),
    }[name]


def _part(f: Facts, name: str) -> np.ndarray:
    """Per firm: its verdict rests on this half of the criterion."""
    if name == "key_link":  # 附件2（六）: the field is in the list, the key link decides
        if not f.has("products"):
            return np.zeros(f.n, dtype=bool)
        fields = [NODE_CATEGORIES.index(c) for c in f.config.a2.domain_fields]
        return np.isin(at(f.main_product.category, f.main_product.row, -1), fields)
    return np.ones(f.n, dtype=bool)


def could_change(
    refused: pd.DataFrame,
    doubt: RefusedRowDoubt,
    as_of: dt.date,
    config: CriteriaConfig,
    renewal: bool = False,
) -> np.ndarray:
    """Mask over `refused` (features.unsettled.refused_by_firm): the rows of the doubt's table
    whose content could fall in its window and kinds (its `part` is the caller's to apply)."""
    rows = (refused["table"] == doubt.table).to_numpy(dtype=bool, copy=True)
    span = _window(as_of, config, doubt.window, doubt.criterion, renewal)
    if span is not None:
        year = _column(refused, "year", "float64", np.nan)
        on = _column(refused, "on", "datetime64[us]", np.datetime64("NaT", "us"))
        dated = ~np.isnat(on)
        year[dated] = on[dated].astype("datetime64[Y]").astype(np.int64) + 1970
        if span.years is not None:
            inside = np.isin(year, sorted(span.years))
        else:
            inside = np.ones(len(refused), dtype=bool)
            if span.first is not None:
                inside &= np.where(dated, on >= day(span.first), year >= span.first.year)
            if span.last is not None:
                inside &= np.where(dated, on <= day(span.last), year <= span.last.year)
        rows &= inside | np.isnan(year)  # an unparsed year or date could be any
    if doubt.kinds is not None:
        kind = _column(refused, "kind", "object", None)
        rows &= np.isin(kind, _kinds(config, doubt.kinds)) | pd.isna(kind)
    return rows


def could_fail(refused: pd.DataFrame, as_of: dt.date, config: CriteriaConfig) -> pd.DataFrame:
    """The refused rows and the criteria each could have failed (WORSEN): credit_code, table,
    row, criterion — what invitations.check_invitations holds the lists to."""
    parts = [refused.iloc[:0][["credit_code", "table", "row"]].assign(criterion="")]
    for doubt in REFUSED_ROW_DOUBTS:
        if doubt.effect == WORSEN:
            rows = refused[could_change(refused, doubt, as_of, config)]
            parts.append(rows[["credit_code", "table", "row"]].assign(criterion=doubt.criterion))
    return pd.concat(parts, ignore_index=True)


def _column(frame: pd.DataFrame, name: str, dtype: str, fill: object) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), fill, dtype=dtype)
    return frame[name].to_numpy(dtype=dtype, na_value=fill, copy=True)


# Criteria a pending mention can lift: those reading a name-bearing table.
PENDING_LIFT = ("a1_2_scale", "a1_4_ip", "a2_4_ip", "a2_6_domain")

CHECK = "需核实（第十条：核实申请材料和数据的真实性、准确性、完整性）"


def financial_years(config: CriteriaConfig, year: int, criterion: str) -> list[int]:
    """Fiscal years whose accounts a criterion's pass rests on (a1_2_scale handles its own);
    `year` is Y (上年度)."""
    if criterion in ("a1_3_rd", "a2_3_rd"):
        span = (config.a1 if criterion == "a1_3_rd" else config.a2).rd_years
        return list(range(year - span + 1, year + 1))
    if criterion == "a2_2_growth":
        return [year - config.a2.growth_years, year]
    if criterion in _FINANCIAL and criterion != "a1_2_scale":
        return [year]
    return []


def _described(doubt: Doubt, suffix: str) -> tuple[Pick, np.ndarray]:
    """The first record per firm, with "等N行" when there are several."""
    texts = doubt.texts
    if len(texts):
        counts = np.zeros(len(texts), dtype=np.int64)
        firms = np.flatnonzero(doubt.row >= 0)
        counts[doubt.row[firms]] = doubt.count[firms]
        more = pa.array([f"等{c}{suffix}" if c > 1 else "" for c in counts], pa.string())
        texts = pc.binary_join_element_wise(texts, more, "")
    return Pick(doubt.row, texts), doubt.row >= 0


def settle(f: Facts, criterion: str, v: Verdicts, renewal: bool = False) -> Verdicts:
    """Turn the verdicts of `criterion` that rest on unusable data into `unknown`."""
    if renewal and criterion == "a2_2_growth":
        return v  # 附件2（二）: not examined for a renewal; it rests on no data
    # 附件3（一）: figures are those of the audit report; unaudited accounts cannot make a pass.
    years = financial_years(f.config, f.year, criterion) if f.has("financials") else []
    if years:
        pattern = np.zeros(f.n, dtype=np.int64)  # bit i: year i's accounts are unaudited
        for i, year in enumerate(years):
            pattern |= f.financials(year).unaudited.astype(np.int64) << i
        prior = Prior(v.evidence.copy(), f.pool)
        passed = v.verdict == PASS
        for bits in np.unique(pattern[passed & (pattern > 0)]):
            flagged = [y for i, y in enumerate(years) if bits >> i & 1]
            v.revise(passed & (pattern == bits), UNKNOWN, prior, "；但", audit_note(flagged))
    doubts = [d for d in REFUSED_ROW_DOUBTS if d.criterion == criterion]
    if f.refused.empty or not doubts:
        return v
    none = np.zeros(len(f.refused), dtype=bool)
    worsen, lift = none.copy(), none.copy()
    for doubt in doubts:
        rows = could_change(f.refused, doubt, f.as_of, f.config, renewal)
        if doubt.part is not None:
            rows &= at(_part(f, doubt.part), f.refused_positions, False)
        if doubt.effect == WORSEN:
            worsen |= rows
        else:
            lift |= rows
    if worsen.any():
        # An `unknown` is revised too: the row is named, and it blocks `eligible`.
        shown, has = _described(f.refused_in(worsen), "行")
        v.revise(
            (v.verdict != FAIL) & has,
            UNKNOWN,
            Prior(v.evidence.copy(), f.pool),
            "；但",
            shown,
            "，该行可能使本项不符合，不能以其缺失为据：",
            CHECK,
        )
    if lift.any():
        shown, has = _described(f.refused_in(lift), "行")
        v.revise(
            (v.verdict == FAIL) & has,
            UNKNOWN,
            Prior(v.evidence.copy(), f.pool),
            "；但",
            shown,
            "，该行可能满足本项，不能以其缺失为据：",
            CHECK,
        )
    return v


def pending_doubt(shadow: Facts, tables: tuple[str, ...]) -> Doubt:
    """Per firm of `shadow`: the pending mentions in `tables` that name it as a candidate."""
    row = np.full(shadow.n, -1, dtype=np.int64)
    count = np.zeros(shadow.n, dtype=np.int64)
    texts: list[str] = []
    for table in tables:
        if not shadow.has(table) or PENDING_COLUMN not in shadow.table(table):
            continue
        df = shadow.table(table)
        pos = shadow.locate(df, FIRM_COLUMNS[table])
        described = strings_of(df, PENDING_COLUMN)
        pending = np.flatnonzero((pos >= 0) & np.asarray(pc.is_valid(described)))
        if pending.size == 0:
            continue
        firms = pos[pending]
        count += np.bincount(firms, minlength=shadow.n)
        first_of = pd.Series(pending).groupby(firms).first()
        new = first_of[row[first_of.index.to_numpy()] < 0]
        row[new.index.to_numpy()] = np.arange(len(texts), len(texts) + len(new))
        texts += [
            table_text(table) + text
            for text in described.take(pa.array(new.to_numpy())).to_pylist()
        ]
    return Doubt(row, count, pa.array(texts, pa.string()))


def settle_pending(
    f: Facts, shadow: Facts, criterion: str, v: Verdicts, lifted: Verdicts
) -> Verdicts:
    """Item 11: a fail that the pending mentions naming the firm would lift is `unknown`.

    `lifted`: the criterion's verdicts with every pending mention counted for each candidate.
    """
    tables = tuple(
        d.table
        for d in REFUSED_ROW_DOUBTS
        if d.criterion == criterion and d.effect == LIFT and d.table in _MENTION_TABLES
    )
    shown, has = _described(pending_doubt(shadow, tables), "条")
    v.revise(
        (v.verdict == FAIL) & (lifted.verdict != FAIL) & has,
        UNKNOWN,
        Prior(v.evidence.copy(), f.pool),
        "；但名称匹配待人工核对的记录 ",
        shown,
        " 的候选企业含本企业，若确认属本企业可满足本项，不能以其缺失为据：需核实（第九条）",
    )
    return v


_MENTION_TABLES = ("ip_holders", "investments", "awards", "rd_institutions", "supply_chain")


def with_pending(data: SourceData, pending: SourceData) -> SourceData:
    """`data` with every pending mention row added once per candidate firm."""
    tables = dict(data.tables)
    for table, rows in pending.tables.items():
        if table in tables and len(rows):
            tables[table] = pd.concat([tables[table], rows])
    return SourceData(tables=tables, rejects=data.rejects, coverage=data.coverage)
