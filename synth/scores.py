"""The official development-evaluation score (发展评价得分) the platform computes for a firm.

The official weights are not public (facts.md §4); the generator scores every candidate firm and
year with the public 2022 table, applied to the firm's *true* records (accounts of the year
before, IP, R&D institutions, niche, chain position), plus the indicators no data shows —
特色化 (provincial, 15 points), 数字化 (5) and 质量管理 (5), drawn from latent quality with
their own noise — plus a firm effect and yearly noise (the platform's indicators are richer than
the 2022 table). So the published score is tied to what data shows, but not a function of it.

The band table is the generator's own copy of the public 2022 table: it does not import the
estimate that the ranking computes (features/firm_features.py), which it is used to evaluate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.config import SynthConfig
from synth.population import day_number, sigmoid

CLASS1 = (
    "invention_patent",
    "defense_patent",
    "plant_variety",
    "crop_variety",
    "new_drug",
    "tcm_protected_class1",
    "ic_layout",
)
CLASS2 = ("utility_model", "design", "software_copyright")
SIX_FOUNDATION = (
    "core_components",
    "core_electronic_components",
    "key_software",
    "advanced_process",
    "key_materials",
    "industrial_tech_base",
)
INSTITUTION_POINTS = {"national": 10.0, "provincial": 8.0, "municipal": 4.0, "other": 2.0}


def _bands(values: np.ndarray, steps: list[tuple[float, float]]) -> np.ndarray:
    """Points of the best step reached (values ≥ threshold); NaN earns nothing."""
    out = np.zeros(values.shape, dtype="float64")
    for threshold, points in steps:
        out = np.maximum(out, np.where(np.nan_to_num(values, nan=-np.inf) >= threshold, points, 0))
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.full(num.shape, np.nan), where=den > 0)


def build_scores(
    world_tables: dict[str, pd.DataFrame],
    firms: pd.DataFrame,
    firm_nodes: pd.DataFrame,
    chain_nodes: pd.DataFrame,
    config: SynthConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """firm, year, score (0-100, one decimal) for every candidate firm and year."""
    cfg = config.scores
    pool = firms[
        firms["files_financials"].to_numpy()
        & firms["segment"].isin(["sme", "tech", "large"]).to_numpy()
    ]
    years = np.arange(config.first_application_year, config.evaluation_date.year + 1)
    n_firms = len(firms)
    q = firms["quality"].to_numpy()
    # Hidden indicators: per firm, stable over years (a firm's local profile and practices).
    local = 15.0 * sigmoid(
        cfg.local_logit + cfg.local_per_quality * q + rng.standard_normal(n_firms)
    )
    digital = np.select(
        [
            rng.random(n_firms) < sigmoid(cfg.digital_logit + cfg.digital_per_quality * q),
            rng.random(n_firms) < 0.5,
        ],
        [5.0, 3.0],
        0.0,
    )
    quality_items = rng.binomial(2, sigmoid(cfg.quality_logit + cfg.quality_per_quality * q))
    quality_mgmt = np.minimum(3.0 * quality_items, 5.0)
    firm_effect = cfg.firm_noise * firms["score_effect"].to_numpy()
    high_value = rng.random(n_firms) < cfg.high_value_ip_share

    fin = world_tables["financials"].set_index(["firm", "fiscal_year"])
    rights = world_tables["ip_rights"]
    holders = world_tables["ip_holders"]
    held = holders[holders["firm"].to_numpy() >= 0].merge(
        rights[["ip_type", "granted_on", "transferred_in"]],
        left_on="ip",
        right_index=True,
    )
    institutions = world_tables["rd_institutions"]
    institutions = institutions[institutions["firm"].to_numpy() >= 0]
    products = world_tables["products"]
    niche_since = products.drop_duplicates("firm").set_index("firm")["niche_since"]
    nodes = firm_nodes.merge(
        chain_nodes[["chain", "node", "category"]].rename(columns={"category": "node_category"}),
        on=["chain", "node"],
        how="left",
    ).set_index(firm_nodes.index)
    domain = np.zeros(n_firms)
    if len(nodes):
        key = nodes["is_key_link"].fillna(False).astype(bool).to_numpy()
        six = nodes["node_category"].isin(SIX_FOUNDATION).to_numpy()
        idx = nodes.index.to_numpy()
        domain[idx] = np.where(key, 5.0, np.where(six, 3.0, 3.0 * (rng.random(idx.size) < 0.5)))

    frames = []
    ids = pool.index.to_numpy()
    for year in (int(v) for v in years):
        y = year - 1
        cut = day_number(config.application_date(year))

        def accounts(fiscal: int, column: str) -> np.ndarray:
            key = pd.MultiIndex.from_arrays([ids, np.full(ids.size, fiscal)])
            return fin[column].reindex(key).to_numpy(dtype="float64")

        revenue, main = accounts(y, "revenue"), accounts(y, "main_business_revenue")
        main_1, main_2 = (
            accounts(y - 1, "main_business_revenue"),
            accounts(y - 2, "main_business_revenue"),
        )
        pair = np.column_stack([_ratio(main, main_1) - 1, _ratio(main_1, main_2) - 1])
        known = np.isfinite(pair).sum(axis=1)
        growth = np.where(known > 0, np.nansum(pair, axis=1) / np.maximum(known, 1), np.nan)
        rd = accounts(y, "rd_expense")
        points = (
            _bands(_ratio(main, revenue), [(0.6, 1), (0.7, 3), (0.8, 5)])
            + np.where(
                np.isnan(growth),
                0.0,
                np.maximum(
                    _bands(growth, [(0.0, 2), (0.04, 4), (0.06, 6), (0.08, 8), (0.10, 10)]), 0
                ),
            )
            + _bands(
                _ratio(accounts(y, "net_profit"), revenue),
                [(0.02, 2), (0.04, 4), (0.06, 6), (0.08, 8), (0.10, 10)],
            )
            + _bands(
                -_ratio(accounts(y, "total_liabilities"), accounts(y, "total_assets")),
                [(-0.7, 1), (-0.6, 3), (-0.5, 5)],
            )
            + np.maximum(
                _bands(rd, [(1e6, 2), (2e6, 4), (3e6, 6), (4e6, 8), (5e6, 10)]),
                _bands(
                    _ratio(rd, revenue), [(0.03, 2), (0.04, 4), (0.06, 6), (0.08, 8), (0.10, 10)]
                ),
            )
            + _bands(
                _ratio(accounts(y, "rd_staff"), accounts(y, "employees")),
                [(0.05, 1), (0.10, 3), (0.20, 5)],
            )
        )
        # 创新能力: IP related to the main product (granted before the round).
        granted = held[held["granted_on"].to_numpy() < cut]
        class1 = granted["ip_type"].isin(CLASS1).to_numpy()
        own = (
            class1
            & ~granted["transferred_in"].to_numpy()
            & (granted["holder_rank"].to_numpy() <= 3)
        )
        ip = np.zeros(n_firms)
        ip[granted.loc[granted["ip_type"].isin(CLASS2).to_numpy(), "firm"].to_numpy()] = 2.0
        ip[granted.loc[class1, "firm"].to_numpy()] = 6.0
        ip[granted.loc[own, "firm"].to_numpy()] = 8.0
        ip = np.where((ip == 8.0) & high_value, 10.0, ip)
        valid = institutions[
            (institutions["recognized_on"].to_numpy() < cut)
            & (
                (institutions["valid_until"].to_numpy() < 0)
                | (institutions["valid_until"].to_numpy() >= cut)
            )
        ]
        inst = np.zeros(n_firms)
        level_points = valid["level"].map(INSTITUTION_POINTS).fillna(0).to_numpy(dtype="float64")
        np.maximum.at(inst, valid["firm"].to_numpy(), level_points)
        # 专业化: years in the niche (1 point per full two years to the end of Y), domain.
        since = niche_since.reindex(ids).to_numpy(dtype="float64")
        end_y = day_number(config.application_date(year).replace(month=1, day=1)) - 1
        niche = np.where(
            np.isnan(since), 0.0, np.clip(np.floor((end_y - since) / 365.25 / 2), 0, 5)
        )
        total = (
            points
            + niche
            + domain[ids]
            + ip[ids]
            + inst[ids]
            + local[ids]
            + digital[ids]
            + quality_mgmt[ids]
            + firm_effect[ids]
            + cfg.year_noise * rng.standard_normal(ids.size)
        )
        frames.append(
            pd.DataFrame(
                {
                    "firm": ids,
                    "year": np.full(ids.size, year, dtype=np.int64),
                    "score": np.round(np.clip(total, 0, 100), 1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["firm", "year"], kind="stable")
