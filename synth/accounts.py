"""Annual accounts: noisy consequences of latent quality and growth (truth = every filing)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.config import SynthConfig
from synth.population import SEGMENTS, day_number


def _per_segment(config: SynthConfig, field: str, segment: np.ndarray) -> np.ndarray:
    values = {s: getattr(config.segments[s], field) for s in SEGMENTS}
    return pd.Series(segment).map(values).to_numpy(dtype=float)


def build_financials(
    firms: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per filing firm and fiscal year it existed (closed firms stop filing)."""
    filers = firms.index[firms["files_financials"].to_numpy()].to_numpy()
    f = firms.loc[filers]
    n = filers.size
    seg = f["segment"].to_numpy()
    q = f["quality"].to_numpy()
    growth = f["growth"].to_numpy()
    est_year = (
        f["established_on"]
        .to_numpy()
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype(np.int64)
        + 1970
    )
    status_on = f["status_on"].to_numpy()
    end_year = np.where(
        status_on >= 0,
        status_on.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 - 1,
        config.last_fiscal_year,
    )
    start_year = np.maximum(est_year, config.first_fiscal_year)
    end_year = np.minimum(end_year, config.last_fiscal_year)
    years_count = np.maximum(end_year - start_year + 1, 0)

    # Firm-level draws.
    log_rev_last = (
        _per_segment(config, "log_revenue_mean", seg)
        + _per_segment(config, "revenue_per_quality", seg) * q
        + _per_segment(config, "log_revenue_sd", seg) * rng.standard_normal(n)
    )
    large = seg == "large"
    log_rev_last = np.where(large, np.maximum(log_rev_last, np.log(1.5e9)), log_rev_last)
    main_share = np.clip(
        _per_segment(config, "main_business_mean", seg) + 0.03 * q + 0.06 * rng.standard_normal(n),
        0.3,
        1.0,
    )
    rd_ratio = _per_segment(config, "rd_ratio_median", seg) * np.exp(
        _per_segment(config, "rd_ratio_per_quality", seg) * q + 0.45 * rng.standard_normal(n)
    )
    per_capita = _per_segment(config, "revenue_per_employee", seg) * np.exp(
        0.4 * rng.standard_normal(n)
    )
    asset_turn = np.exp(np.log(0.9) + 0.35 * rng.standard_normal(n))
    debt = np.clip(
        _per_segment(config, "debt_ratio_mean", seg) - 0.03 * q + 0.15 * rng.standard_normal(n),
        0.05,
        1.1,
    )
    staff_share = np.clip(rd_ratio * 3 + 0.05 * rng.standard_normal(n), 0.0, 0.8)
    margin = 0.04 + 0.02 * q + 0.06 * rng.standard_normal(n)
    audited = rng.random(n) < _per_segment(config, "audited", seg)

    # Firm-year grid.
    row_firm = np.repeat(np.arange(n), years_count)
    offsets = np.arange(row_firm.size) - np.repeat(
        np.cumsum(years_count) - years_count, years_count
    )
    year = start_year[row_firm] + offsets
    m = row_firm.size
    age = year - est_year[row_firm]
    ramp = -0.4 * np.maximum(0, 3 - age)
    log_rev = (
        log_rev_last[row_firm]
        - growth[row_firm] * (config.last_fiscal_year - year)
        + ramp
        + 0.07 * rng.standard_normal(m)
    )
    revenue = np.round(np.exp(log_rev), 2)
    main_rev = np.round(
        revenue * np.clip(main_share[row_firm] + 0.02 * rng.standard_normal(m), 0.2, 1.0), 2
    )
    rd = np.round(
        revenue * np.clip(rd_ratio[row_firm] * np.exp(0.15 * rng.standard_normal(m)), 0, 0.6), 2
    )
    employees = np.maximum(1, np.rint(revenue / per_capita[row_firm])).astype(np.int64)
    employees = np.where(large[row_firm], np.maximum(employees, 1200), employees)
    assets = np.round(revenue * asset_turn[row_firm] * np.exp(0.05 * rng.standard_normal(m)), 2)
    liabilities = np.round(
        assets * np.clip(debt[row_firm] + 0.03 * rng.standard_normal(m), 0.01, 1.2), 2
    )
    rd_staff = np.minimum(employees, np.rint(employees * staff_share[row_firm]).astype(np.int64))
    net_profit = np.round(revenue * (margin[row_firm] + 0.03 * rng.standard_normal(m)), 2)
    return pd.DataFrame(
        {
            "firm": filers[row_firm],
            "fiscal_year": year.astype(np.int64),
            "revenue": revenue,
            "main_business_revenue": main_rev,
            "rd_expense": rd,
            "total_assets": assets,
            "total_liabilities": liabilities,
            "employees": employees,
            "rd_staff": rd_staff,
            "net_profit": net_profit,
            "audited": audited[row_firm],
        }
    )


def evaluation_day(config: SynthConfig) -> int:
    return day_number(config.evaluation_date)
