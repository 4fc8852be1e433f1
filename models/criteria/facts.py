"""Per-firm facts read from the source tables: numpy arrays with one slot per registry firm.

Every table is attributed to firms by its credit-code column (`credit_code`, or the
`*_credit_code` columns the entity-matching stage fills in for name-bearing tables); rows that
name no registry firm are ignored here. Each fact is computed once, vectorised, on first use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.schemas import (
    CATALOGUE_CLASSES,
    CREDIT_EVENT_TYPES,
    NODE_CATEGORIES,
    REVOKE_REASONS,
    TITLES,
)
from features.sources import SourceData
from models.criteria.text import TextPool, to_fen
from models.criteria_config import CriteriaConfig
from models.labels import table_text

# Article 2: the ladder 科技和创新型中小企业 → 专精特新中小企业 → 专精特新"小巨人".
TITLE_RANK = {"tech_sme": 1, "innovative_sme": 1, "specialized_sme": 2, "little_giant": 3}


REFUSED_COLUMNS = ["credit_code", "table", "row", "reason"]

# The column that attributes each table's rows to a registry firm (sources.md).
FIRM_COLUMNS = {
    "financials": "credit_code",
    "certifications": "credit_code",
    "products": "credit_code",
    "credit_events": "credit_code",
    "evaluation_scores": "credit_code",
    "ip_holders": "holder_credit_code",
    "investments": "investee_credit_code",
    "awards": "unit_credit_code",
    "rd_institutions": "unit_credit_code",
    "supply_chain": "supplier_credit_code",
}


# --- column access (optional contract columns may be absent) -------------------------------


def strings_of(df: pd.DataFrame, column: str) -> pa.Array:
    """A text column as a pyarrow string array (all null if the optional column is absent)."""
    if column not in df:
        return pa.nulls(len(df), pa.string())
    values = pa.array(df[column])
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string())


def codes_of(df: pd.DataFrame, column: str, vocabulary: Sequence[str]) -> np.ndarray:
    """Text column as codes into `vocabulary` (-1 for missing or unknown values)."""
    found = pc.index_in(strings_of(df, column), value_set=pa.array(list(vocabulary), pa.string()))
    return np.asarray(pc.fill_null(found, -1)).astype(np.int64)


def is_in(df: pd.DataFrame, column: str, values: Sequence[str]) -> np.ndarray:
    """True where the text column holds one of `values` (missing → False)."""
    found = pc.is_in(strings_of(df, column), value_set=pa.array(list(values), pa.string()))
    return np.asarray(pc.fill_null(found, False), dtype=bool)


def dates_of(df: pd.DataFrame, column: str) -> np.ndarray:
    if column in df:
        return df[column].to_numpy(dtype="datetime64[us]")
    return np.full(len(df), np.datetime64("NaT"), dtype="datetime64[us]")


def floats_of(df: pd.DataFrame, column: str) -> np.ndarray:
    if column in df:
        return df[column].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.full(len(df), np.nan)


def flags_of(df: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(true, missing) masks of a boolean column."""
    values = floats_of(df, column)
    return values == 1.0, np.isnan(values)


def day(value: dt.date) -> np.datetime64:
    return np.datetime64(value, "us")


def years_after(dates: np.ndarray, years: int) -> np.ndarray:
    """The same calendar day `years` later; 29 February → 1 March when that year has none."""
    series = pd.Series(np.asarray(dates, dtype="datetime64[us]"))
    later = series + pd.DateOffset(years=years)
    leap_day = (series.dt.month == 2) & (series.dt.day == 29) & (later.dt.day == 28)
    later[leap_day] += pd.Timedelta(days=1)
    return later.to_numpy(dtype="datetime64[us]")


def last_per_firm(pos: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows with pos ≥ 0: (firm positions, row numbers) of each firm's last row by `keys`."""
    rows = np.flatnonzero(pos >= 0)
    if rows.size == 0:
        return rows, rows
    order = np.lexsort([*(k[rows] for k in reversed(keys)), pos[rows]])
    rows = rows[order]
    firm = pos[rows]
    last = np.ones(rows.size, dtype=bool)
    last[:-1] = firm[:-1] != firm[1:]
    return firm[last], rows[last]


def at(values: np.ndarray, row: np.ndarray, fill: Any) -> np.ndarray:
    """`values[row]`, with `fill` where row < 0 — also when `values` is empty (a province whose
    firms have no row in a table)."""
    values = np.asarray(values)
    if values.size == 0:
        return np.full(row.shape, fill, dtype=values.dtype if values.dtype != bool else bool)
    return np.asarray(np.where(row >= 0, values[np.maximum(row, 0)], fill))


def scatter(n: int, firm: np.ndarray, values: np.ndarray, fill: object) -> np.ndarray:
    out = np.full(n, fill, dtype=np.asarray(values).dtype if values.size else None)
    out[firm] = values
    return out


def row_of_firm(n: int, firm: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return scatter(n, firm, rows.astype(np.int64), -1)


# --- fact bundles -------------------------------------------------------------------------


@dataclass(frozen=True)
class YearFigures:
    """One fiscal year of `financials`, in fen (employees in persons); NaN where unknown."""

    present: np.ndarray
    revenue: np.ndarray
    main_revenue: np.ndarray
    rd: np.ndarray
    assets: np.ndarray
    liabilities: np.ndarray
    employees: np.ndarray
    unaudited: np.ndarray  # the row says audited = false (附件3（一）: audit report figures)


@dataclass(frozen=True)
class Titles:
    valid: dict[str, np.ndarray]  # title → valid on as_of
    expires: dict[str, np.ndarray]  # title → latest expiry among valid records (NaT if none)


@dataclass(frozen=True)
class MainProduct:
    """The main product (主导产品, 附件3（三）) of each firm: row in `products`, -1 if none."""

    row: np.ndarray
    names: pa.Array  # products.product_name, by products row
    niche_since: np.ndarray
    year_only: np.ndarray
    market_share: np.ndarray
    domestic_rank: np.ndarray
    international: np.ndarray
    category: np.ndarray  # code into NODE_CATEGORIES, -1 unknown


@dataclass(frozen=True)
class Catalogue:
    blocked_row: np.ndarray  # a restricted/eliminated product's row, -1 if none
    blocked_class: np.ndarray  # its catalogue class code
    all_allowed: np.ndarray  # ≥ 1 product and every product encouraged/allowed
    names: pa.Array


@dataclass(frozen=True)
class Class1Ip:
    certain: np.ndarray  # class-I IP counted with every condition known to hold
    possible: np.ndarray  # … plus those whose missing fields could still make them count


@dataclass(frozen=True)
class Waiver:
    row: np.ndarray  # the record that grants the waiver (-1: none)
    texts: pa.Array  # its description, by record row


@dataclass(frozen=True)
class Equity:
    qualified: np.ndarray  # fen paid in by qualified investors in the window
    unclear: np.ndarray  # fen paid in by investors whose qualification is unknown


@dataclass(frozen=True)
class Events:
    row: np.ndarray  # the event shown in the evidence (-1: none)
    event_type: np.ndarray  # code into CREDIT_EVENT_TYPES, by event row
    occurred_on: np.ndarray  # by event row


@dataclass(frozen=True)
class Ban:
    row: np.ndarray  # the revocation that bans re-application (-1: none)
    unclear: np.ndarray  # a revocation whose reason or date is missing
    title: np.ndarray  # code into TITLES, by certification row
    reason: np.ndarray  # code into REVOKE_REASONS, by certification row
    revoked_on: np.ndarray
    ends_on: np.ndarray
    lifted_too_early: np.ndarray  # a ban lift dated before its revocation (NaT: none), by row


@dataclass(frozen=True)
class Doubt:
    """Per firm, records that may change a verdict but cannot be used (refused, pending)."""

    row: np.ndarray  # the record shown in the evidence (-1: none)
    count: np.ndarray  # how many such records the firm has
    texts: pa.Array  # description of each shown record, by `row`


@dataclass(frozen=True)
class KeyLink:
    row: np.ndarray  # a supply relation on a key-link chain node (-1: none)
    texts: pa.Array  # "chain / node", by supply row


class Facts:
    """Lazily computed per-firm facts for one evaluation date."""

    def __init__(
        self,
        data: SourceData,
        as_of: dt.date,
        config: CriteriaConfig,
        pool: TextPool,
        refused: pd.DataFrame | None = None,
    ) -> None:
        """`refused`: refused source rows attributed to registry firms (credit_code, table,
        row, reason), from features.unsettled.refused_by_firm."""
        firms = data.tables["firms"]
        codes = strings_of(firms, "credit_code")
        if pc.count_distinct(codes).as_py() != len(codes):  # the loader refuses duplicates
            firms = firms[~firms["credit_code"].duplicated()]
            codes = strings_of(firms, "credit_code")
        self.data, self.as_of, self.config, self.pool = data, as_of, config, pool
        self.firms = firms
        self.codes = codes  # unique credit codes; a firm's position is its index here
        self.n = len(firms)
        self.year = as_of.year - 1  # Y: 上年度 / 上年末
        self.today = day(as_of)
        self._located: dict[tuple[int, str], np.ndarray] = {}
        self._locate_all()
        self.refused = refused if refused is not None else pd.DataFrame(columns=REFUSED_COLUMNS)

    def has(self, *tables: str) -> bool:
        return all(self.data.has(t) for t in tables)

    def table(self, name: str) -> pd.DataFrame:
        return self.data.tables[name]

    def locate(self, df: pd.DataFrame, column: str) -> np.ndarray:
        """Firm position of each row by its credit-code column; -1 where none or unknown."""
        if column not in df:
            return np.full(len(df), -1, dtype=np.int64)
        key = (id(df), column)
        if key not in self._located:
            found = pc.index_in(strings_of(df, column), value_set=self.codes)
            self._located[key] = np.asarray(pc.fill_null(found, -1)).astype(np.int64)
        return self._located[key]

    def _locate_all(self) -> None:
        """Locate every firm-keyed table in one pass (one hash of the registry's codes)."""
        columns = [
            (self.data.tables[t], c)
            for t, c in FIRM_COLUMNS.items()
            if self.data.has(t) and c in self.data.tables[t]
        ]
        if not columns:
            return
        found = pc.index_in(
            pa.chunked_array([strings_of(df, c) for df, c in columns], type=pa.string()),
            value_set=self.codes,
        )
        positions = np.asarray(pc.fill_null(found, -1)).astype(np.int64)
        offsets = np.cumsum([0, *(len(df) for df, _ in columns)])
        for (df, c), start, end in zip(columns, offsets[:-1], offsets[1:], strict=True):
            self._located[(id(df), c)] = positions[start:end]

    def year_start(self, window_years: int) -> dt.date:
        """First day of a window of `window_years` fiscal years ending with Y (近两年, 近三年)."""
        return dt.date(self.year - window_years + 1, 1, 1)

    def year_end(self) -> dt.date:
        """Last day of fiscal year Y (上年末)."""
        return dt.date(self.year, 12, 31)

    # --- rows the data cannot settle (issue 11, item 1) ----------------------------------

    @cached_property
    def refused_positions(self) -> np.ndarray:
        """Firm position of each refused row (-1: a firm outside this registry)."""
        found = pc.index_in(strings_of(self.refused, "credit_code"), value_set=self.codes)
        return np.asarray(pc.fill_null(found, -1)).astype(np.int64)

    def refused_in(self, rows: np.ndarray) -> Doubt:
        """Per firm, the refused rows picked by the mask `rows` (over `self.refused`): the first
        one (by table, row) and how many."""
        row = np.full(self.n, -1, dtype=np.int64)
        pos = self.refused_positions
        picked = rows & (pos >= 0)
        if not picked.any():
            return Doubt(row, np.zeros(self.n, dtype=np.int64), pa.array([], pa.string()))
        refused = self.refused.assign(pos=pos)[picked].sort_values(["pos", "table", "row"])
        count = np.bincount(refused["pos"].to_numpy(), minlength=self.n)
        first = refused.drop_duplicates("pos")
        texts = [
            f"数据表 {table_text(t)}第{r}行被拒收（{reason}）"
            for t, r, reason in zip(first["table"], first["row"], first["reason"], strict=True)
        ]
        row[first["pos"].to_numpy()] = np.arange(len(first))
        return Doubt(row, count, pa.array(texts, pa.string()))

    # --- financials ------------------------------------------------------------------------

    @cached_property
    def _financials(self) -> dict[int, YearFigures]:
        df = self.table("financials")
        pos = self.locate(df, "credit_code")
        fiscal = floats_of(df, "fiscal_year")
        out: dict[int, YearFigures] = {}
        for year in range(self.year - 3, self.year + 1):
            firm, rows = last_per_firm(np.where(fiscal == year, pos, -1))

            def column(
                name: str, fen: bool = True, firm: np.ndarray = firm, rows: np.ndarray = rows
            ) -> np.ndarray:
                values = floats_of(df, name)[rows]
                return scatter(self.n, firm, to_fen(values) if fen else values, np.nan)

            present = np.zeros(self.n, dtype=bool)
            present[firm] = True
            audited_false = floats_of(df, "audited")[rows] == 0.0
            out[year] = YearFigures(
                present=present,
                revenue=column("revenue"),
                main_revenue=column("main_business_revenue"),
                rd=column("rd_expense"),
                assets=column("total_assets"),
                liabilities=column("total_liabilities"),
                employees=column("employees", fen=False),
                unaudited=scatter(self.n, firm, audited_false, False).astype(bool),
            )
        return out

    def financials(self, year: int) -> YearFigures:
        return self._financials[year]

    # --- registry --------------------------------------------------------------------------

    @cached_property
    def industry(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(SME class index or -1, code missing, code too coarse to classify) per firm."""
        classes = list(self.config.sme_size.classes.values())
        code = strings_of(self.firms, "industry_code")
        missing = np.asarray(pc.is_null(code), dtype=bool)
        code = pc.fill_null(code, "")
        section = pc.utf8_slice_codeunits(code, 0, 1)
        digits = pc.utf8_slice_codeunits(code, 1, 5)
        assigned = np.full(self.n, -1, dtype=np.int64)
        best = np.full(self.n, -1, dtype=np.int64)  # length of the matching prefix
        coarse = np.zeros(self.n, dtype=bool)
        for k, cls in enumerate(classes):
            for letter in cls.sections:
                hit = np.asarray(pc.equal(section, letter), dtype=bool) & (best < 0)
                assigned[hit], best[hit] = k, 0
            for prefix in cls.divisions:
                hit = np.asarray(pc.starts_with(digits, prefix), dtype=bool) & (best < len(prefix))
                assigned[hit], best[hit] = k, len(prefix)
                for cut in range(1, len(prefix)):
                    coarse |= np.asarray(pc.equal(digits, prefix[:cut]), dtype=bool)
        fallback = list(self.config.sme_size.classes).index(self.config.sme_size.fallback_class)
        coarse &= assigned < 0
        assigned[(assigned < 0) & ~missing & ~coarse] = fallback
        return assigned, missing, coarse

    # --- certifications --------------------------------------------------------------------

    @cached_property
    def titles(self) -> Titles:
        df = self.table("certifications")
        pos = self.locate(df, "credit_code")
        title = codes_of(df, "title", TITLES)
        status = is_in(df, "status", ["valid"])
        certified, expires = dates_of(df, "certified_on"), dates_of(df, "expires_on")
        revoked_on = dates_of(df, "revoked_on")
        # 有效期内: status valid, as_of within [certified_on, expires_on], and not revoked by
        # as_of — a revocation dated on or before as_of ends the title whatever `status` says.
        valid_row = (
            status
            & ~(certified > self.today)
            & (np.isnat(expires) | (expires >= self.today))
            & ~(revoked_on <= self.today)
        )
        valid, latest = {}, {}
        for k, name in enumerate(TITLES):
            firm, rows = last_per_firm(
                np.where(valid_row & (title == k), pos, -1), expires.view(np.int64)
            )
            valid[name] = np.zeros(self.n, dtype=bool)
            valid[name][firm] = True
            latest[name] = scatter(self.n, firm, expires[rows], np.datetime64("NaT", "us"))
        return Titles(valid, latest)

    @cached_property
    def ban(self) -> Ban:
        cfg = self.config.eligibility
        df = self.table("certifications")
        pos = self.locate(df, "credit_code")
        title = codes_of(df, "title", TITLES)
        status_revoked = is_in(df, "status", ["revoked"])
        reason = codes_of(df, "revoke_reason", REVOKE_REASONS)
        revoked_on = dates_of(df, "revoked_on")
        lifted_on = dates_of(df, "ban_lifted_on")
        ban_titles = np.isin(title, [TITLES.index(t) for t in cfg.ban_titles])
        revoked = ban_titles & (status_revoked | ~np.isnat(revoked_on))
        revoked &= ~(revoked_on > self.today)  # a revocation after as_of has not happened yet
        # 第二十条: only credit repair (失信) or accepted rectification (事故事件) ends the ban
        # early; a data-fraud revocation (or one of unknown reason) runs its full term.
        liftable = np.isin(reason, [REVOKE_REASONS.index(r) for r in cfg.ban_liftable_reasons])
        # A repair can lift the ban only after the revocation (sources.md): one dated before
        # it repaired an earlier listing, not this revocation.
        lift_before = liftable & (lifted_on <= self.today) & (lifted_on < revoked_on)
        lifted = liftable & (lifted_on <= self.today) & (lifted_on >= revoked_on)
        ends_on = years_after(revoked_on, cfg.ban_years)
        in_window = self.today < ends_on  # 第二十条: 三年内不得再次申报 (until the same day)
        banned = revoked & ~lifted & in_window
        banned &= np.isin(reason, [REVOKE_REASONS.index(r) for r in cfg.ban_reasons])
        unclear = revoked & ~lifted & ((reason < 0) | np.isnat(revoked_on))
        unclear &= np.isnat(revoked_on) | in_window
        firm, rows = last_per_firm(np.where(banned, pos, -1), revoked_on.view(np.int64))
        unclear_firm = np.zeros(self.n, dtype=bool)
        unclear_firm[pos[unclear & (pos >= 0)]] = True
        return Ban(
            row_of_firm(self.n, firm, rows),
            unclear_firm,
            title,
            reason,
            revoked_on,
            ends_on,
            np.where(lift_before, lifted_on, np.datetime64("NaT", "us")),
        )

    # --- products --------------------------------------------------------------------------

    @cached_property
    def main_product(self) -> MainProduct:
        df = self.table("products")
        pos = self.locate(df, "credit_code")
        share = floats_of(df, "revenue_share")
        # 附件3（三）: a main product earns more than 50% of revenue; the largest one if several.
        is_main = share > self.config.definitions.main_product_share_above
        firm, rows = last_per_firm(np.where(is_main, pos, -1), share)
        year_only, _ = flags_of(df, "niche_since_year_only")
        international = is_in(df, "market_scope", ["international"])
        return MainProduct(
            row=row_of_firm(self.n, firm, rows),
            names=strings_of(df, "product_name"),
            niche_since=dates_of(df, "niche_since"),
            year_only=year_only,
            market_share=floats_of(df, "market_share"),
            domestic_rank=floats_of(df, "domestic_rank"),
            international=international,
            category=codes_of(df, "category", NODE_CATEGORIES),
        )

    @cached_property
    def catalogue(self) -> Catalogue:
        cfg = self.config.eligibility
        df = self.table("products")
        pos = self.locate(df, "credit_code")
        blocked = is_in(df, "catalogue_class", cfg.blocked_catalogue_classes)
        allowed = is_in(df, "catalogue_class", cfg.allowed_catalogue_classes)
        firm, rows = last_per_firm(np.where(blocked, pos, -1))
        has_product = np.bincount(pos[pos >= 0], minlength=self.n) > 0
        not_allowed = np.bincount(pos[(pos >= 0) & ~allowed], minlength=self.n) > 0
        return Catalogue(
            blocked_row=row_of_firm(self.n, firm, rows),
            blocked_class=codes_of(df, "catalogue_class", CATALOGUE_CLASSES),
            all_allowed=has_product & ~not_allowed,
            names=strings_of(df, "product_name"),
        )

    # --- intellectual property -------------------------------------------------------------

    @cached_property
    def class1_ip(self) -> Class1Ip:
        defs = self.config.definitions
        holders = self.table("ip_holders")
        rights = self.table("ip_rights")
        pos = self.locate(holders, "holder_credit_code")
        keep = pos >= 0
        ip_ids = strings_of(holders, "ip_id")
        found = pc.index_in(ip_ids, value_set=strings_of(rights, "ip_id"))
        right_row = np.asarray(pc.fill_null(found, -1)).astype(np.int64)[keep]
        pos = pos[keep]
        rank = floats_of(holders, "holder_rank")[keep]
        known = right_row >= 0
        take = np.where(known, right_row, -1)
        listed = at(is_in(rights, "ip_type", defs.class1_ip_types), take, False)
        valid = at(is_in(rights, "status", ["valid"]), take, False)
        granted = at(dates_of(rights, "granted_on"), take, np.datetime64("NaT", "us"))
        transferred, transferred_missing = flags_of(rights, "transferred_in")
        transferred = at(transferred, take, False)
        transferred_missing = at(transferred_missing, take, True)
        # 附件3（七）: listed types, valid on as_of, not transferred in, holder ranked top three.
        rank_ok = rank <= defs.ip_holder_rank_max
        type_ok = listed & valid
        certain = (
            known
            & type_ok
            & (granted <= self.today)
            & ~transferred
            & ~transferred_missing
            & rank_ok
        )
        # Could still count once missing fields are known (grant date, transfer flag, the right).
        possible = rank_ok & (~known | (type_ok & ~(granted > self.today) & ~transferred))
        ip_key = np.asarray(pc.dictionary_encode(ip_ids).indices)[keep]

        def count(mask: np.ndarray) -> np.ndarray:
            pairs = pd.DataFrame({"firm": pos[mask], "ip": ip_key[mask]}).drop_duplicates()
            return np.bincount(pairs["firm"].to_numpy(), minlength=self.n)

        return Class1Ip(certain=count(certain), possible=count(possible))

    # --- awards and institutions -----------------------------------------------------------

    def award_waiver(self, levels: Sequence[str]) -> Waiver:
        """Awards in the window (附件1/2（四）「近三年」), ranked top three, of the given levels.

        `level = national` is the contract's definition of the four national awards of
        附件3（五）: the level decides, however the award's name is written.
        """
        defs = self.config.definitions
        df = self.table("awards")
        pos = self.locate(df, "unit_credit_code")
        year = floats_of(df, "year")
        rank = floats_of(df, "unit_rank")
        award_name = strings_of(df, "award_name")
        ok = (
            is_in(df, "level", levels)
            & (year >= self.year - defs.award_window_years + 1)
            & (year <= self.as_of.year)
            & (rank <= defs.award_rank_max)
        )
        firm, rows = last_per_firm(np.where(ok, pos, -1), year, -rank)
        texts = pc.binary_join_element_wise(
            pc.cast(pa.array(np.nan_to_num(year).astype(np.int64)), pa.string()),
            "年",
            pc.fill_null(award_name, ""),
            "（排名第",
            pc.cast(pa.array(np.nan_to_num(rank).astype(np.int64)), pa.string()),
            "）",
            "",
        )
        return Waiver(row_of_firm(self.n, firm, rows), texts)

    @cached_property
    def institution_waiver(self) -> Waiver:
        cfg = self.config.a1
        df = self.table("rd_institutions")
        pos = self.locate(df, "unit_credit_code")
        recognized, valid_until = dates_of(df, "recognized_on"), dates_of(df, "valid_until")
        # 附件1（四）、附件3（六）: provincial-or-higher institution, recognised, valid on as_of.
        ok = (
            is_in(df, "level", cfg.waiver_institution_levels)
            & is_in(df, "kind", cfg.waiver_institution_kinds)
            & (recognized <= self.today)
            & (np.isnat(valid_until) | (valid_until >= self.today))
        )
        firm, rows = last_per_firm(np.where(ok, pos, -1), recognized.view(np.int64))
        return Waiver(row_of_firm(self.n, firm, rows), strings_of(df, "institution_name"))

    # --- equity, credit, scores, supply chain ----------------------------------------------

    @cached_property
    def equity(self) -> Equity:
        df = self.table("investments")
        pos = self.locate(df, "investee_credit_code")
        paid_on = dates_of(df, "paid_in_on")
        # 附件1（二）「近两年新增股权投资」: paid in during fiscal years Y-1 and Y (附件3（一）).
        start = day(self.year_start(self.config.a1.equity_window_years))
        end = min(day(self.year_end()), self.today)
        in_window = (pos >= 0) & (paid_on >= start) & (paid_on <= end)
        qualified, unknown = flags_of(df, "investor_qualified")
        amount = np.nan_to_num(to_fen(floats_of(df, "paid_in_amount")))

        def total(mask: np.ndarray) -> np.ndarray:
            return np.bincount(pos[mask], weights=amount[mask], minlength=self.n)

        return Equity(total(in_window & qualified), total(in_window & unknown))

    def events(self, types: Sequence[str], start: dt.date | None, current: bool) -> Events:
        """Credit events of `types` on or before as_of (from `start`); `current`: not resolved."""
        df = self.table("credit_events")
        pos = self.locate(df, "credit_code")
        event_type = codes_of(df, "event_type", CREDIT_EVENT_TYPES)
        occurred, resolved = dates_of(df, "occurred_on"), dates_of(df, "resolved_on")
        ok = np.isin(event_type, [CREDIT_EVENT_TYPES.index(t) for t in types])
        ok &= occurred <= self.today
        if start is not None:
            ok &= occurred >= day(start)
        if current:
            ok &= np.isnat(resolved) | (resolved > self.today)
        firm, rows = last_per_firm(np.where(ok, pos, -1), occurred.view(np.int64))
        return Events(row_of_firm(self.n, firm, rows), event_type, occurred)

    def scores(self, year: int) -> np.ndarray:
        """Official evaluation score of `year` (highest if several), NaN if none."""
        df = self.table("evaluation_scores")
        pos = self.locate(df, "credit_code")
        score = floats_of(df, "score")
        ok = (floats_of(df, "year") == year) & ~np.isnan(score)
        firm, rows = last_per_firm(np.where(ok, pos, -1), score)
        return scatter(self.n, firm, score[rows], np.nan)

    def key_link(self, category: np.ndarray) -> KeyLink:
        """附件2（六）「位于产业链关键环节」 (sources.md): in fiscal years Y-1..Y the firm supplied
        on a key-link chain node whose field is `category`, its main product's (code into
        NODE_CATEGORIES per firm, -1 unknown)."""
        supply = self.table("supply_chain")
        nodes = self.table("chain_nodes")
        pos = self.locate(supply, "supplier_credit_code")
        year = floats_of(supply, "year")
        in_window = (year >= self.year - self.config.a2.domain_supply_years + 1) & (
            year <= self.year
        )
        key_nodes = nodes[nodes["is_key_link"].fillna(False).to_numpy(dtype=bool)]

        def node_key(df: pd.DataFrame) -> pa.Array:
            return pc.binary_join_element_wise(
                strings_of(df, "chain"), strings_of(df, "node"), "\x1f"
            )

        node_row = np.asarray(
            pc.fill_null(pc.index_in(node_key(supply), value_set=node_key(key_nodes)), -1)
        ).astype(np.int64)
        node_category = at(codes_of(key_nodes, "category", NODE_CATEGORIES), node_row, -1)
        firm_category = at(category, pos, -1)
        same_field = (node_row >= 0) & (node_category >= 0) & (node_category == firm_category)
        firm, rows = last_per_firm(np.where(in_window & same_field, pos, -1), year)
        texts = pc.binary_join_element_wise(
            strings_of(supply, "chain"), "产业链「", strings_of(supply, "node"), "」", ""
        )
        return KeyLink(row_of_firm(self.n, firm, rows), texts)
