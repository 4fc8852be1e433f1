"""From the truth to the published data: hide, delay, drop and misspell (the mess).

Every name-bearing row gets its mention text here, with the truth kept beside it in
`_truth_code` / `_truth_variant` columns that the writer moves into `truth/mentions.csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth import names as naming
from synth.config import SynthConfig
from synth.population import day_number
from synth.regions import Regions
from synth.titles import History
from synth.world import NAME_COLUMNS, Guests, World, certifications_on, typed

MENTION_TABLES = (*NAME_COLUMNS, "supply_chain")


def _former_name_at(history: pd.DataFrame, firm: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The firm's registered name on `day` when that was a former name, else None."""
    out = np.full(firm.size, None, dtype=object)
    if history.empty:
        return out
    rows = pd.DataFrame({"row": np.arange(firm.size), "firm": firm, "day": day})
    rows = rows[np.isin(firm, history["firm"].to_numpy())]
    merged = rows.merge(history, on="firm")
    merged = merged[merged["changed_on"].to_numpy() > merged["day"].to_numpy()]
    merged = merged.sort_values(["row", "changed_on"]).drop_duplicates("row")
    out[merged["row"].to_numpy()] = merged["former_name"].to_numpy()
    return out


def _written_names(
    parts: naming.NameParts,
    province: np.ndarray,
    former: np.ndarray,
    table: str,
    regions: Regions,
    config: SynthConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How `table` writes these registry firms: (text, variant, credit code filled)."""
    cfg = config.mentions
    use_former = (former != None) & (rng.random(province.size) < cfg.former_name_when_before_rename)  # noqa: E711
    names = list(cfg.variant_rates)
    rates = np.array([cfg.variant_rates[v] for v in names])
    drawn = np.array(names, dtype=object)[
        rng.choice(len(names), province.size, p=rates / rates.sum())
    ]
    drawn = np.where(use_former, "former_name", drawn)
    branch_district = regions.sample(province, rng)
    district_names = (
        regions.districts.set_index("code").loc[branch_district, "name"].to_numpy(dtype=object)
    )
    rendered = naming.render_variants(parts, drawn, naming.branch_place(district_names), rng)
    rendered = np.where(use_former, former, rendered)
    # A name without any character that has a traditional form stays as registered.
    unchanged = (drawn == "traditional") & (rendered == parts.full())
    drawn[unchanged] = "exact"
    filled = rng.random(province.size) < cfg.credit_code_filled.get(table, 0.0)
    return rendered, drawn, filled


def render_mentions(
    world: World,
    regions: Regions,
    table: str,
    firm: np.ndarray,
    nil_name: np.ndarray,
    mention_day: np.ndarray,
    config: SynthConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mention text, published credit code or None, true credit code or None, variant)."""
    firm = np.asarray(firm, dtype=np.int64)
    n = firm.size
    reg_idx = np.flatnonzero(firm >= 0)
    reg_firm = firm[reg_idx]
    text = np.asarray(nil_name, dtype=object).copy()
    variant = np.full(n, "nil", dtype=object)
    true_code = np.full(n, None, dtype=object)
    true_code[reg_idx] = world.codes[reg_firm]
    former = _former_name_at(world.name_history, reg_firm, np.asarray(mention_day)[reg_idx])
    rendered, drawn, filled = _written_names(
        world.parts.take(reg_firm),
        world.firms["province"].to_numpy()[reg_firm],
        former,
        table,
        regions,
        config,
        rng,
    )
    text[reg_idx] = rendered
    variant[reg_idx] = drawn
    published = np.full(n, None, dtype=object)
    published[reg_idx[filled]] = true_code[reg_idx[filled]]
    return text, published, true_code, variant


Mentions = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # text, published, code, variant


@dataclass(frozen=True)
class GuestMentions:
    """Writes the mentions of firms of other provinces (national runs): rows whose guest
    column holds a guest id (else -1) name that firm, with the usual variants and codes. Its
    own random stream leaves every other draw of the province as it is."""

    guests: Guests
    regions: Regions  # districts of every generated province (a guest's branch lies in its own)
    config: SynthConfig
    rng: np.random.Generator

    def write_over(
        self, table: str, guest: np.ndarray, mention_day: np.ndarray, mentions: Mentions
    ) -> None:
        """Replace the guest rows of `mentions` (text, published, true code, variant)."""
        rows = np.flatnonzero(np.asarray(guest) >= 0)
        if rows.size == 0:
            return
        ids = np.asarray(guest, dtype=np.int64)[rows]
        former = _former_name_at(
            self.guests.name_history, ids, np.asarray(mention_day, dtype=np.int64)[rows]
        )
        rendered, drawn, filled = _written_names(
            self.guests.parts.take(ids),
            self.guests.province[ids],
            former,
            table,
            self.regions,
            self.config,
            self.rng,
        )
        text, published, true_code, variant = mentions
        code = self.guests.codes[ids].astype(object)
        text[rows], variant[rows], true_code[rows] = rendered, drawn, code
        published[rows] = np.where(filled, code, np.array(None, dtype=object))


def _drop_by_province(
    df: pd.DataFrame, world: World, table: str, firm_column: str, config: SynthConfig
) -> pd.DataFrame:
    hidden = [p for p, tables in config.missing_tables_by_province.items() if table in tables]
    if not hidden or df.empty:
        return df
    firm = df[firm_column].to_numpy()
    province = np.where(firm >= 0, world.firms["province"].to_numpy()[np.maximum(firm, 0)], "")
    return df[~np.isin(province, hidden)]


def publish(
    world: World,
    history: History,
    regions: Regions,
    config: SynthConfig,
    rng: np.random.Generator,
    guests: GuestMentions | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """The published tables (contract dtypes; mention tables carry _truth_* columns) and the
    withheld filings (credit_code, fiscal_year, reason). With `guests` (national runs), rows
    whose `guest` / `customer_guest` column names a firm of another province mention it."""
    evaluation = day_number(config.evaluation_date)
    f = world.firms
    codes = world.codes
    n = len(f)
    out: dict[str, pd.DataFrame] = {}
    reg = config.registry

    def blank(values: np.ndarray, rate: float, fill: object) -> np.ndarray:
        values = values.astype(object).copy()
        values[rng.random(values.size) < rate] = fill
        return values

    out["firms"] = typed(
        "firms",
        {
            "credit_code": codes,
            "name": f["name"].to_numpy(),
            "established_on": blank(
                f["established_on"].to_numpy(), reg.established_missing, -1
            ).astype(np.int64),
            "region_code": blank(f["region_code"].to_numpy(), reg.region_missing, None),
            "industry_code": blank(f["industry_code"].to_numpy(), reg.industry_missing, None),
            "status": f["status"].to_numpy(),
        },
    )
    nh = world.name_history
    out["name_history"] = typed(
        "name_history",
        {
            "credit_code": codes[nh["firm"].to_numpy()],
            "former_name": nh["former_name"].to_numpy(),
            "changed_on": nh["changed_on"].to_numpy(),
        },
    )

    # Financials: some years never filed, the last year often not yet filed, optional gaps.
    fin = world.tables["financials"]
    fcfg = config.filings
    missing = rng.random(len(fin)) < fcfg.missing_year
    late_firm = rng.random(n) < fcfg.late_last_year
    late = (fin["fiscal_year"].to_numpy() == config.last_fiscal_year) & late_firm[
        fin["firm"].to_numpy()
    ]
    withheld = fin[missing | late]
    withheld_frame = pd.DataFrame(
        {
            "credit_code": codes[withheld["firm"].to_numpy()],
            "fiscal_year": withheld["fiscal_year"].to_numpy(),
            "reason": np.where(late[missing | late], "late", "missing"),
        }
    )
    fin = fin[~(missing | late)]
    m = len(fin)
    out["financials"] = typed(
        "financials",
        {
            "credit_code": codes[fin["firm"].to_numpy()],
            **{
                c: fin[c].to_numpy()
                for c in (
                    "fiscal_year",
                    "revenue",
                    "main_business_revenue",
                    "rd_expense",
                    "total_assets",
                    "total_liabilities",
                    "employees",
                )
            },
            "rd_staff": np.where(
                rng.random(m) < fcfg.rd_staff_missing,
                None,
                fin["rd_staff"].to_numpy().astype(object),
            ),
            "net_profit": np.where(
                rng.random(m) < fcfg.net_profit_missing, np.nan, fin["net_profit"].to_numpy()
            ),
            "audited": np.where(
                rng.random(m) < fcfg.audited_missing, None, fin["audited"].to_numpy().astype(object)
            ),
        },
    )

    rights = world.tables["ip_rights"]
    status_on = rights["status_on"].to_numpy()
    out["ip_rights"] = typed(
        "ip_rights",
        {
            "ip_id": rights["ip_id"].to_numpy(),
            "ip_type": rights["ip_type"].to_numpy(),
            "title": rights["title"].to_numpy(),
            "granted_on": rights["granted_on"].to_numpy(),
            "status": np.where(
                (status_on >= 0) & (status_on < evaluation),
                rights["status_after"].to_numpy(),
                "valid",
            ),
            "transferred_in": rights["transferred_in"].to_numpy(),
        },
    )

    for table, (name_col, code_col) in NAME_COLUMNS.items():
        df = world.tables[table]
        df = _drop_by_province(df, world, table, "firm", config)
        text, published, true_code, variant = render_mentions(
            world,
            regions,
            table,
            df["firm"].to_numpy(),
            df["nil_name"].to_numpy(),
            df["mention_day"].to_numpy(),
            config,
            rng,
        )
        if guests is not None and "guest" in df:
            guests.write_over(
                table,
                df["guest"].to_numpy(),
                df["mention_day"].to_numpy(),
                (text, published, true_code, variant),
            )
        cols = {c: df[c].to_numpy() for c in df.columns}
        cols[name_col], cols[code_col] = text, published
        frame = typed(table, cols)
        frame[f"_truth_code:{name_col}"] = true_code
        frame[f"_truth_variant:{name_col}"] = variant
        out[table] = frame

    sc = _drop_by_province(world.tables["supply_chain"], world, "supply_chain", "supplier", config)
    cols = {c: sc[c].to_numpy() for c in ("chain", "node", "year", "amount")}
    truth = {}
    for role, nil_col in (("supplier", "supplier_nil"), ("customer", "customer_nil")):
        text, published, true_code, variant = render_mentions(
            world,
            regions,
            "supply_chain",
            sc[role].to_numpy(),
            sc[nil_col].to_numpy(),
            sc["mention_day"].to_numpy(),
            config,
            rng,
        )
        if guests is not None and f"{role}_guest" in sc:
            guests.write_over(
                "supply_chain",
                sc[f"{role}_guest"].to_numpy(),
                sc["mention_day"].to_numpy(),
                (text, published, true_code, variant),
            )
        cols[f"{role}_name"], cols[f"{role}_credit_code"] = text, published
        truth[f"_truth_code:{role}_name"] = true_code
        truth[f"_truth_variant:{role}_name"] = variant
    frame = typed("supply_chain", cols)
    for key, values in truth.items():
        frame[key] = values
    out["supply_chain"] = frame
    out["chain_nodes"] = typed(
        "chain_nodes", {c: world.chain_nodes[c].to_numpy() for c in world.chain_nodes}
    )

    # Products: self-declared, mostly by firms that applied; many fields left out.
    icfg = config.innovation
    pr = _drop_by_province(world.tables["products"], world, "products", "firm", config)
    applied = np.zeros(n, dtype=bool)
    applied[history.applications["firm"].to_numpy()] = True
    p_declared = np.where(
        applied[pr["firm"].to_numpy()], icfg.products_declared_applicant, icfg.products_declared
    ) * (1.0 - config.world.no_products_share)  # world: declarations withheld on top
    pr = pr[rng.random(len(pr)) < p_declared]
    k = len(pr)
    year_only = rng.random(k) < icfg.niche_year_only
    niche = pr["niche_since"].to_numpy()
    niche_year = (
        niche.astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    out["products"] = typed(
        "products",
        {
            "credit_code": codes[pr["firm"].to_numpy()],
            "product_name": pr["product_name"].to_numpy(),
            "revenue_share": pr["revenue_share"].to_numpy(),
            "niche_since": np.where(year_only, niche_year, niche),
            "niche_since_year_only": year_only,
            "market_scope": pr["market_scope"].to_numpy(),
            "market_share": np.where(
                rng.random(k) < icfg.market_share_declared, pr["market_share"].to_numpy(), np.nan
            ),
            "domestic_rank": np.where(
                rng.random(k) < icfg.domestic_rank_declared,
                pr["domestic_rank"].to_numpy().astype(object),
                None,
            ),
            "category": np.where(rng.random(k) < 0.2, None, pr["category"].to_numpy()),
            "catalogue_class": np.where(
                rng.random(k) < icfg.catalogue_missing, None, pr["catalogue_class"].to_numpy()
            ),
        },
    )

    out["certifications"] = certifications_on(world, evaluation)
    ev = world.tables["credit_events"]
    resolved = ev["resolved_on"].to_numpy()
    out["credit_events"] = typed(
        "credit_events",
        {
            "credit_code": codes[ev["firm"].to_numpy()],
            "event_type": ev["event_type"].to_numpy(),
            "occurred_on": ev["occurred_on"].to_numpy(),
            "resolved_on": np.where(resolved < evaluation, resolved, -1),
        },
    )
    scores = world.tables["evaluation_scores"]
    key = pd.MultiIndex.from_frame(history.published_scores[["firm", "year"]])
    shown = pd.MultiIndex.from_arrays([scores["firm"].to_numpy(), scores["year"].to_numpy()]).isin(
        key
    )
    scores = scores[shown]
    out["evaluation_scores"] = typed(
        "evaluation_scores",
        {
            "credit_code": codes[scores["firm"].to_numpy()],
            "year": scores["year"].to_numpy(),
            "score": scores["score"].to_numpy(),
        },
    )
    apps = history.applications
    columns = {
        "credit_code": codes[apps["firm"].to_numpy(dtype=np.int64)],
        "year": apps["year"].to_numpy(dtype=np.int64),
        "title": apps["tier"]
        .map({"specialized": "specialized_sme", "little_giant": "little_giant"})
        .to_numpy(dtype=object),
        "outcome": apps["outcome"].to_numpy(dtype=object),
    }
    if config.world.submitted_on:
        columns["submitted_on"] = apps["submitted_on"].to_numpy(dtype=np.int64)
    out["applications"] = typed("applications", columns)
    return out, withheld_frame
