"""Verdicts the loaded data cannot settle: a verdict never rests on a row it could not use.

Three doubts overturn a verdict to `unknown`, keeping what it rested on in the evidence:
- a refused source row that names the firm (by a valid code, or by a name the matcher links):
  a pass it could have overturned, or a fail resting on the absence of a row like it;
- a mention pending review whose candidates include the firm: a fail it would lift;
- accounts marked `audited = false` (附件3（一）): a pass resting on them.
Such an `unknown` blocks `eligible` even for a criterion the firm states itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.sources import SourceData
from features.unsettled import PENDING_COLUMN
from models.criteria.facts import FIRM_COLUMNS, Doubt, Facts, strings_of
from models.criteria.rules import audit_note
from models.criteria.text import FAIL, PASS, UNKNOWN, Pick, Prior, Verdicts

# Which source tables a criterion reads, by what a row missing from them could do:
# WORSEN — it could have failed the criterion (records that count against the firm, or the
#          figures a pass rests on), so a pass becomes `unknown`;
# LIFT   — it could have met the criterion (a title, an IP right, an award, an institution, an
#          investment, a key-link supply, a score), so a fail resting on its absence becomes
#          `unknown`.
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
WORSEN: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(_FINANCIAL, ("financials",)),
    "art11_credit_lists": ("credit_events",),
    "art11_incidents": ("credit_events",),
    "art11_products_allowed": ("products",),
    "art20_ban": ("certifications",),
    "a1_1_niche_years": ("products",),
    "a2_1_niche_years": ("products",),
    "a2_6_domain": ("products",),
}
LIFT: dict[str, tuple[str, ...]] = {
    "a1_1_title": ("certifications",),
    "a2_1_title": ("certifications",),
    "a1_2_scale": ("investments",),
    "a1_4_ip": ("ip_rights", "ip_holders", "awards", "rd_institutions"),
    "a2_4_ip": ("ip_rights", "ip_holders", "awards"),
    "a1_5_market": ("products",),
    "a2_5_market": ("products",),
    "a2_6_domain": ("supply_chain",),
    "a1_6_evaluation": ("evaluation_scores",),
    "a2_7_evaluation": ("evaluation_scores",),
}
# Criteria a pending mention can lift: those reading a name-bearing table.
PENDING_LIFT = ("a1_2_scale", "a1_4_ip", "a2_4_ip", "a2_6_domain")

CHECK = "需核实（第十条：核实申请材料和数据的真实性、准确性、完整性）"


def financial_years(f: Facts, criterion: str) -> list[int]:
    """Fiscal years whose accounts a criterion's pass rests on (a1_2_scale handles its own)."""
    cfg = f.config
    if criterion in ("a1_3_rd", "a2_3_rd"):
        span = (cfg.a1 if criterion == "a1_3_rd" else cfg.a2).rd_years
        return list(range(f.year - span + 1, f.year + 1))
    if criterion == "a2_2_growth":
        return [f.year - cfg.a2.growth_years, f.year]
    if criterion in _FINANCIAL and criterion != "a1_2_scale":
        return [f.year]
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
    years = financial_years(f, criterion) if f.has("financials") else []
    if years:
        pattern = np.zeros(f.n, dtype=np.int64)  # bit i: year i's accounts are unaudited
        for i, year in enumerate(years):
            pattern |= f.financials(year).unaudited.astype(np.int64) << i
        prior = Prior(v.evidence.copy(), f.pool)
        passed = v.verdict == PASS
        for bits in np.unique(pattern[passed & (pattern > 0)]):
            flagged = [y for i, y in enumerate(years) if bits >> i & 1]
            v.revise(passed & (pattern == bits), UNKNOWN, prior, "；但", audit_note(flagged))
    worsen = WORSEN.get(criterion, ())
    if worsen:
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
    lift = LIFT.get(criterion, ())
    if lift:
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
        texts += described.take(pa.array(new.to_numpy())).to_pylist()
    return Doubt(row, count, pa.array(texts, pa.string()))


def settle_pending(
    f: Facts, shadow: Facts, criterion: str, v: Verdicts, lifted: Verdicts
) -> Verdicts:
    """Item 11: a fail that the pending mentions naming the firm would lift is `unknown`.

    `lifted`: the criterion's verdicts with every pending mention counted for each candidate.
    """
    tables = tuple(t for t in LIFT.get(criterion, ()) if t in _MENTION_TABLES)
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
