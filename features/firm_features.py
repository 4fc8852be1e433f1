"""Point-in-time firm features for ranking: one numeric row per registry firm as of a date.

Only data dated before `as_of` is read: fiscal years up to Y = as_of.year - 1, award, talent,
application and score years up to Y, and dated rows (grants, payments, recognitions,
certifications, events) strictly before `as_of`. Columns describing a record's *current* state
(IP `status`, certification `status`) are not used: they are a snapshot and may postdate as_of.
Name-bearing tables are attributed through their `*_credit_code` columns, which entity
matching fills before this runs.

Features are named in domain words; FEATURE_LABELS gives the Chinese label used in reasons.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.feature_config import EvaluationEstimate, FeatureConfig
from features.sources import SourceData
from features.supply_graph import build_supply_features

# Ordinal levels (higher = more senior), used for the 2022 R&D institution line.
INSTITUTION_LEVEL_RANK = {"other": 1.0, "municipal": 2.0, "provincial": 3.0, "national": 4.0}
# ip_level for the 2022 IP line: 3 self-developed class I, 2 other class I held, 1 class II only.
IP_LEVEL_SELF_DEVELOPED, IP_LEVEL_CLASS1_HELD, IP_LEVEL_CLASS2 = 3.0, 2.0, 1.0

FEATURE_LABELS: dict[str, str] = {
    "revenue": "上年度营业收入",
    "revenue_growth_1y": "上年度营业收入增长率",
    "revenue_cagr_2y": "近两年营业收入复合增长率",
    "main_business_share": "主营业务收入占比",
    "main_business_growth_2y": "近两年主营业务收入平均增长率",
    "debt_ratio": "资产负债率",
    "net_margin": "净利润率",
    "total_assets": "资产总额",
    "employees": "从业人员",
    "rd_expense": "上年度研发费用",
    "rd_expense_2y": "近两年研发费用合计",
    "rd_intensity": "研发投入强度",
    "rd_intensity_min_2y": "近两年最低研发投入强度",
    "rd_staff_share": "研发人员占比",
    "accounts_years": "已报财务年度数",
    "accounts_lag_years": "财务数据滞后年数",
    "audited": "财务报表经审计",
    "class1_ip_count": "I类知识产权数量（自主、前三权利人）",
    "class1_ip_first_holder_count": "I类知识产权数量（第一权利人）",
    "class1_ip_new_2y": "近两年新增I类知识产权",
    "class1_ip_held_count": "持有I类知识产权数量（含转入）",
    "class2_ip_count": "II类知识产权数量",
    "ip_level": "知识产权等级",
    "national_awards_3y": "近三年国家级科技奖励",
    "provincial_awards_3y": "近三年省部级科技奖励",
    "municipal_awards_3y": "近三年市级科技奖励",
    "national_rd_institutions": "国家级研发机构",
    "provincial_rd_institutions": "省部级研发机构",
    "municipal_rd_institutions": "市级研发机构",
    "rd_institution_level": "研发机构最高级别",
    "qualified_equity_2y": "近两年合格机构投资者实缴股权投资",
    "equity_rounds_2y": "近两年股权融资次数",
    "national_talent_3y": "近三年国家级人才计划人数",
    "provincial_talent_3y": "近三年省级人才计划人数",
    "municipal_talent_3y": "近三年市级人才计划人数",
    "holds_tech_sme": "持有科技型中小企业称号",
    "holds_innovative_sme": "持有创新型中小企业称号",
    "holds_specialized_sme": "持有专精特新中小企业称号",
    "specialized_sme_years": "获专精特新中小企业称号年数",
    "past_revocations": "曾被撤销称号次数",
    "past_applications": "历年申报次数",
    "past_rejections": "历年申报未通过次数",
    "years_since_last_application": "距上次申报年数",
    "applied_this_round": "本年度已申报",
    "credit_events_3y": "近三年信用与合规事件",
    "last_evaluation_score": "上年度发展评价得分",
    "niche_years": "从事细分市场年限",
    "main_product_share": "主导产品收入占比",
    "market_share": "细分市场占有率",
    "firm_age_years": "成立年限",
    "customer_count": "客户数",
    "supplier_count": "供应商数",
    "supply_sales": "产业链供货额",
    "sales_to_chain_leaders": "向链主企业供货额",
    "chain_leader_customers": "链主客户数",
    "supply_pagerank": "供应链网络重要性（PageRank）",
    "key_link_nodes_supplied": "供应产业链关键环节数",
    "six_foundation_nodes_supplied": "供应工业六基环节数",
    "substitute_suppliers_mean": "同环节可替代供应商平均数",
    "sole_source_share": "独家供货比例",
    "domain_level": "主导产品领域等级",
    "est_evaluation_score": "估算发展评价得分（2022年标准）",
    "tier_little_giant": "申报层级为小巨人",
    "unknown_criteria_count": "待核实条件数",
}

# How each feature's value is written in a reason (see describe_value).
_AMOUNTS = {
    "revenue",
    "total_assets",
    "rd_expense",
    "rd_expense_2y",
    "qualified_equity_2y",
    "supply_sales",
    "sales_to_chain_leaders",
}
_RATIOS = {
    "revenue_growth_1y",
    "revenue_cagr_2y",
    "main_business_share",
    "main_business_growth_2y",
    "debt_ratio",
    "net_margin",
    "rd_intensity",
    "rd_intensity_min_2y",
    "rd_staff_share",
    "main_product_share",
    "market_share",
    "sole_source_share",
}
_YUAN_PER_WAN = 10_000


def feature_label(feature: str) -> str:
    """The Chinese label of a feature (industry/province one-hots are labelled by code)."""
    if feature in FEATURE_LABELS:
        return FEATURE_LABELS[feature]
    if feature.startswith("industry_"):
        return f"行业门类{feature.removeprefix('industry_')}"
    if feature.startswith("province_"):
        return f"省份{feature.removeprefix('province_')}"
    return feature


def describe_value(feature: str, value: float) -> str:
    """A value as a person reads it: 万元 for amounts, % for ratios, 缺失 for missing."""
    if value is None or not np.isfinite(value):
        return "缺失"
    if feature in _AMOUNTS:
        return f"{value / _YUAN_PER_WAN:,.0f}万元"
    if feature in _RATIOS:
        return f"{value:.1%}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}"


def build_features(data: SourceData, as_of: date, config: FeatureConfig) -> pd.DataFrame:
    """Numeric features of every firm in `firms` (index credit_code), from data before as_of."""
    firms = data.tables["firms"]
    index = pd.Index(firms["credit_code"], name="credit_code")
    last_year = as_of.year - 1
    parts = [
        _financial_features(data, last_year, index),
        _ip_features(data, as_of, last_year, config, index),
        _award_features(data, last_year, config, index),
        _institution_features(data, as_of, index),
        _equity_features(data, as_of, last_year, config, index),
        _talent_features(data, last_year, config, index),
        _certification_features(data, as_of, config, index),
        _application_features(data, as_of, index),
        _credit_features(data, as_of, last_year, config, index),
        _score_features(data, as_of, index),
        _firm_profile(firms, as_of, config, index),
    ]
    if config.use_declared_products:
        parts.append(_product_features(data, as_of, last_year, config, index))
    revenue = parts[0]["revenue"]
    parts.append(build_supply_features(data, as_of, config, firm_revenue=revenue))
    features = pd.concat(parts, axis=1)
    del parts, revenue  # a million firms' features are half a GiB: one copy at a time
    features["est_evaluation_score"] = estimate_evaluation_score(
        features, config.evaluation_estimate
    )
    values = features.to_numpy(dtype="float64")  # one block of floats, infinities missing
    values[np.isinf(values)] = np.nan
    return pd.DataFrame(values, index=features.index, columns=features.columns, copy=False)


def estimate_evaluation_score(features: pd.DataFrame, estimate: EvaluationEstimate) -> pd.Series:
    """The 2022 public table's points the data can show (facts.md §4). Ranking only."""
    points = evaluation_points(features, estimate)
    return estimate.constant_points + points.fillna(0.0).sum(axis=1)


def evaluation_points(features: pd.DataFrame, estimate: EvaluationEstimate) -> pd.DataFrame:
    """Per indicator of the 2022 table: the points the data shows, NaN where no band's input is
    known (the indicator is unobserved for this firm). Ranking only, never a criterion."""
    columns = {}
    for name, indicator in estimate.indicators.items():
        best = pd.Series(0.0, index=features.index)
        observed = pd.Series(False, index=features.index)
        for band in indicator.bands:
            if band.feature not in features:
                continue  # e.g. niche_years without declared products: unobserved
            values = features[band.feature].astype("float64")
            observed |= values.notna()
            for threshold, earned in band.steps:
                reached = values >= threshold if band.higher_is_better else values < threshold
                best = np.maximum(best, reached.fillna(False).astype("float64") * earned)
        columns[name] = np.minimum(best, indicator.max_points).where(observed)
    return pd.DataFrame(columns, index=features.index, dtype="float64")


def evaluation_score_bounds(
    features: pd.DataFrame, estimate: EvaluationEstimate
) -> tuple[pd.Series, pd.Series]:
    """(low, high) of the estimated evaluation score: the points the data shows, and those plus
    the most every unobserved indicator could add (facts.md §4: an estimate, never a verdict)."""
    points = evaluation_points(features, estimate)
    low = estimate.constant_points + points.fillna(0.0).sum(axis=1)
    maxima = pd.Series({n: i.max_points for n, i in estimate.indicators.items()}, dtype="float64")
    missing = points.isna().astype("float64").mul(maxima, axis=1).sum(axis=1)
    high = (low + missing + estimate.unobserved_max_points).clip(upper=100.0)
    return low, high


# --- financials -----------------------------------------------------------------------------


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    num = numerator.astype("float64")
    den = denominator.astype("float64")
    return (num / den).where(den > 0)


def _financial_features(data: SourceData, last_year: int, index: pd.Index) -> pd.DataFrame:
    columns = [
        "revenue",
        "revenue_growth_1y",
        "revenue_cagr_2y",
        "main_business_share",
        "main_business_growth_2y",
        "debt_ratio",
        "net_margin",
        "total_assets",
        "employees",
        "rd_expense",
        "rd_expense_2y",
        "rd_intensity",
        "rd_intensity_min_2y",
        "rd_staff_share",
        "accounts_years",
        "accounts_lag_years",
        "audited",
    ]
    result = pd.DataFrame(index=index, columns=columns, dtype="float64")
    financials = data.get("financials")
    if financials is None:
        return result
    known = financials[financials["fiscal_year"].astype("float64") <= last_year]
    # each row's firm found once (a hash of the codes), every year's accounts then by position
    firm = pd.Categorical(known["credit_code"], categories=index).codes
    fiscal_year = known["fiscal_year"].to_numpy(dtype="float64", na_value=np.nan)
    amounts = {
        name: known[name].to_numpy(dtype="float64", na_value=np.nan)
        for name in known.columns
        if name != "credit_code"
    }

    def year(offset: int) -> pd.DataFrame:
        rows = np.flatnonzero((fiscal_year == last_year - offset) & (firm >= 0))
        _, first = np.unique(firm[rows], return_index=True)  # a firm's first row of the year
        rows = rows[first]
        return pd.DataFrame(
            {name: _placed(values[rows], firm[rows], index) for name, values in amounts.items()}
        )

    # Filing lag: a firm whose accounts of Y are not filed yet is read from Y-1 (and so on back).
    years = [year(offset) for offset in range(4)]
    filed = years[0]["fiscal_year"].notna()
    current, previous, before = (years[i].where(filed, years[i + 1], axis=0) for i in range(3))

    def column(frame: pd.DataFrame, name: str) -> pd.Series:
        if name not in frame:
            return pd.Series(np.nan, index=index)
        return frame[name].astype("float64")

    revenue = column(current, "revenue")
    result["revenue"] = revenue
    result["revenue_growth_1y"] = _ratio(revenue, column(previous, "revenue")) - 1
    result["revenue_cagr_2y"] = _ratio(revenue, column(before, "revenue")) ** 0.5 - 1
    main = [column(frame, "main_business_revenue") for frame in (current, previous, before)]
    result["main_business_share"] = _ratio(main[0], revenue)
    growth = pd.concat([_ratio(main[0], main[1]) - 1, _ratio(main[1], main[2]) - 1], axis=1)
    result["main_business_growth_2y"] = growth.mean(axis=1, skipna=True)
    result["debt_ratio"] = _ratio(
        column(current, "total_liabilities"), column(current, "total_assets")
    )
    result["net_margin"] = _ratio(column(current, "net_profit"), revenue)
    result["total_assets"] = column(current, "total_assets")
    result["employees"] = column(current, "employees")
    rd_now, rd_before = column(current, "rd_expense"), column(previous, "rd_expense")
    result["rd_expense"] = rd_now
    result["rd_expense_2y"] = rd_now + rd_before
    result["rd_intensity"] = _ratio(rd_now, revenue)
    result["rd_intensity_min_2y"] = pd.concat(
        [result["rd_intensity"], _ratio(rd_before, column(previous, "revenue"))], axis=1
    ).min(axis=1, skipna=False)
    result["rd_staff_share"] = _ratio(column(current, "rd_staff"), column(current, "employees"))
    filed_years = pd.Series(fiscal_year[firm >= 0]).groupby(firm[firm >= 0])
    years_filed = filed_years.nunique()
    result["accounts_years"] = _placed(
        years_filed.to_numpy("float64"), years_filed.index.to_numpy(), index, 0.0
    )
    latest = filed_years.max()
    result["accounts_lag_years"] = last_year - _placed(
        latest.to_numpy("float64"), latest.index.to_numpy(), index
    )
    # The 2022 table's growth reads the firm's own latest two years (filing lag included).
    result["audited"] = column(current, "audited")
    return result


def _placed(
    values: np.ndarray, positions: np.ndarray, index: pd.Index, missing: float = np.nan
) -> pd.Series:
    """`values` at their firms' `positions` in `index`, `missing` elsewhere."""
    placed = np.full(len(index), missing, dtype="float64")
    placed[positions] = values
    return pd.Series(placed, index=index)


# --- intellectual property, awards, institutions, equity, talent ---------------------------


def _ip_features(
    data: SourceData, as_of: date, last_year: int, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    columns = [
        "class1_ip_count",
        "class1_ip_first_holder_count",
        "class1_ip_new_2y",
        "class1_ip_held_count",
        "class2_ip_count",
        "ip_level",
    ]
    rights, holders = data.get("ip_rights"), data.get("ip_holders")
    if rights is None or holders is None:
        return pd.DataFrame(index=index, columns=columns, dtype="float64")
    granted = rights[rights["granted_on"] < pd.Timestamp(as_of)]
    held = holders.dropna(subset=["holder_credit_code"]).merge(granted, on="ip_id", how="inner")
    # A firm written twice on one certificate (a matching slip) holds the right once.
    held = held.sort_values("holder_rank").drop_duplicates(["ip_id", "holder_credit_code"])
    transferred = held["transferred_in"].fillna(False).astype(bool)
    class1 = held["ip_type"].isin(config.class1_ip_types)
    # 附件3（七）: self-developed (not transferred in) and among the first holders.
    self_developed = class1 & ~transferred & (held["holder_rank"] <= config.ip_holder_rank_max)
    new_since = pd.Timestamp(date(last_year - config.new_ip_window_years + 1, 1, 1))

    # each holder's firm found once (a hash of the codes), then every count is a bincount
    firm = pd.Categorical(held["holder_credit_code"], categories=index).codes
    known = firm >= 0

    def count(mask: pd.Series) -> pd.Series:
        chosen = mask.fillna(False).to_numpy(dtype=bool) & known
        counts = np.bincount(firm[chosen], minlength=len(index))
        return pd.Series(counts.astype("float64"), index=index)

    result = pd.DataFrame(index=index)
    result["class1_ip_count"] = count(self_developed)
    result["class1_ip_first_holder_count"] = count(self_developed & (held["holder_rank"] == 1))
    result["class1_ip_new_2y"] = count(self_developed & (held["granted_on"] >= new_since))
    result["class1_ip_held_count"] = count(class1)
    result["class2_ip_count"] = count(held["ip_type"].isin(config.class2_ip_types))
    level = pd.Series(0.0, index=index)
    level[result["class2_ip_count"] > 0] = IP_LEVEL_CLASS2
    level[result["class1_ip_held_count"] > 0] = IP_LEVEL_CLASS1_HELD
    level[result["class1_ip_count"] > 0] = IP_LEVEL_SELF_DEVELOPED
    result["ip_level"] = level
    return result


def _counts_by_level(
    rows: pd.DataFrame, code: str, levels: dict[str, str], index: pd.Index, weight: str | None
) -> pd.DataFrame:
    """One column per level (name → level value): number of rows (or sum of `weight`)."""
    result = pd.DataFrame(index=index)
    for name, level in levels.items():
        subset = rows[rows["level"] == level]
        grouped = subset.groupby(code)
        values = grouped[weight].sum() if weight else grouped.size()
        result[name] = values.reindex(index).fillna(0).astype("float64")
    return result


def _award_features(
    data: SourceData, last_year: int, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    levels = {
        "national_awards_3y": "national",
        "provincial_awards_3y": "provincial",
        "municipal_awards_3y": "municipal",
    }
    awards = data.get("awards")
    if awards is None:
        return pd.DataFrame(index=index, columns=list(levels), dtype="float64")
    year = awards["year"].astype("float64")
    first_year = last_year - config.award_window_years + 1
    rows = awards[
        (year >= first_year)
        & (year <= last_year)
        & (awards["unit_rank"].astype("float64") <= config.award_rank_max)
    ]
    return _counts_by_level(rows, "unit_credit_code", levels, index, None)


def _institution_features(data: SourceData, as_of: date, index: pd.Index) -> pd.DataFrame:
    levels = {
        "national_rd_institutions": "national",
        "provincial_rd_institutions": "provincial",
        "municipal_rd_institutions": "municipal",
    }
    institutions = data.get("rd_institutions")
    if institutions is None:
        return pd.DataFrame(index=index, columns=[*levels, "rd_institution_level"], dtype="float64")
    day = pd.Timestamp(as_of)
    valid_until = (
        institutions["valid_until"]
        if "valid_until" in institutions
        else pd.Series(pd.NaT, index=institutions.index)
    )
    valid = institutions[
        (institutions["recognized_on"] < day) & (valid_until.isna() | (valid_until >= day))
    ]
    result = _counts_by_level(valid, "unit_credit_code", levels, index, None)
    rank = valid["level"].map(INSTITUTION_LEVEL_RANK).astype("float64")
    best = rank.groupby(valid["unit_credit_code"]).max()
    result["rd_institution_level"] = best.reindex(index).fillna(0).astype("float64")
    return result


def _equity_features(
    data: SourceData, as_of: date, last_year: int, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    columns = ["qualified_equity_2y", "equity_rounds_2y"]
    investments = data.get("investments")
    if investments is None:
        return pd.DataFrame(index=index, columns=columns, dtype="float64")
    start = pd.Timestamp(date(last_year - config.equity_window_years + 1, 1, 1))
    paid = investments["paid_in_on"]
    window = investments[(paid >= start) & (paid < pd.Timestamp(as_of))]
    qualified = window[window["investor_qualified"].fillna(False).astype(bool)]
    result = pd.DataFrame(index=index)
    result["qualified_equity_2y"] = (
        qualified.groupby("investee_credit_code")["paid_in_amount"].sum().reindex(index).fillna(0)
    )
    result["equity_rounds_2y"] = (
        window.groupby("investee_credit_code").size().reindex(index).fillna(0).astype("float64")
    )
    return result


def _talent_features(
    data: SourceData, last_year: int, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    levels = {
        "national_talent_3y": "national",
        "provincial_talent_3y": "provincial",
        "municipal_talent_3y": "municipal",
    }
    talent = data.get("talent")
    if talent is None:
        return pd.DataFrame(index=index, columns=list(levels), dtype="float64")
    year = talent["year"].astype("float64")
    rows = talent[(year >= last_year - config.talent_window_years + 1) & (year <= last_year)]
    rows = rows.assign(headcount=rows["headcount"].astype("float64").fillna(0))
    return _counts_by_level(rows, "unit_credit_code", levels, index, "headcount")


# --- titles, applications, credit, official scores, products, profile -----------------------


def _certification_features(
    data: SourceData, as_of: date, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    columns = [
        "holds_tech_sme",
        "holds_innovative_sme",
        "holds_specialized_sme",
        "specialized_sme_years",
        "past_revocations",
    ]
    certifications = data.get("certifications")
    if certifications is None:
        return pd.DataFrame(index=index, columns=columns, dtype="float64")
    day = pd.Timestamp(as_of)
    known = certifications[certifications["certified_on"] < day]
    revoked_on = (
        known["revoked_on"]
        if "revoked_on" in known
        else pd.Series(pd.NaT, index=known.index, dtype="datetime64[us]")
    )
    valid = known[(known["expires_on"] >= day) & (revoked_on.isna() | (revoked_on >= day))]
    result = pd.DataFrame(index=index)
    for title in ("tech_sme", "innovative_sme", "specialized_sme"):
        holders = set(valid.loc[valid["title"] == title, "credit_code"])
        result[f"holds_{title}"] = index.isin(holders).astype("float64")
    specialized_since = (
        known[known["title"] == "specialized_sme"].groupby("credit_code")["certified_on"].min()
    )
    years = (day - specialized_since).dt.days / config.days_per_year
    result["specialized_sme_years"] = years.reindex(index).fillna(0).astype("float64")
    revocations = known[revoked_on.notna() & (revoked_on < day)].groupby("credit_code").size()
    result["past_revocations"] = revocations.reindex(index).fillna(0).astype("float64")
    return result


def _application_features(data: SourceData, as_of: date, index: pd.Index) -> pd.DataFrame:
    columns = [
        "past_applications",
        "past_rejections",
        "years_since_last_application",
        "applied_this_round",
    ]
    applications = data.get("applications")
    if applications is None:
        return pd.DataFrame(index=index, columns=columns, dtype="float64")
    year = applications["year"].astype("float64")
    # This year's round: submitted before as_of (the province has them), not yet decided.
    current = set(applications.loc[year == as_of.year, "credit_code"])
    past = applications[year < as_of.year]
    per_firm = past.groupby("credit_code")
    result = pd.DataFrame(index=index)
    result["past_applications"] = per_firm.size().reindex(index).fillna(0).astype("float64")
    rejected = past[past["outcome"] == "rejected"].groupby("credit_code").size()
    result["past_rejections"] = rejected.reindex(index).fillna(0).astype("float64")
    last = per_firm["year"].max().astype("float64")
    result["years_since_last_application"] = (as_of.year - last).reindex(index)
    result["applied_this_round"] = index.isin(current).astype("float64")
    return result


def _credit_features(
    data: SourceData, as_of: date, last_year: int, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    events = data.get("credit_events")
    if events is None:
        return pd.DataFrame(index=index, columns=["credit_events_3y"], dtype="float64")
    start = pd.Timestamp(date(last_year - config.credit_event_window_years + 1, 1, 1))
    occurred = events["occurred_on"]
    recent = events[(occurred >= start) & (occurred < pd.Timestamp(as_of))]
    counts = recent.groupby("credit_code").size().reindex(index).fillna(0)
    return pd.DataFrame({"credit_events_3y": counts.astype("float64")}, index=index)


def _score_features(data: SourceData, as_of: date, index: pd.Index) -> pd.DataFrame:
    scores = data.get("evaluation_scores")
    if scores is None:
        return pd.DataFrame(index=index, columns=["last_evaluation_score"], dtype="float64")
    # Only years before as_of's: the current year's score is not dated within the year.
    past = scores[scores["year"].astype("float64") < as_of.year]
    latest = past.sort_values("year").drop_duplicates("credit_code", keep="last")
    values = latest.set_index("credit_code")["score"].reindex(index).astype("float64")
    return pd.DataFrame({"last_evaluation_score": values}, index=index)


def _product_features(
    data: SourceData, as_of: date, last_year: int, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    columns = ["niche_years", "main_product_share", "market_share"]
    products = data.get("products")
    if products is None:
        return pd.DataFrame(index=index, columns=columns, dtype="float64")
    known = products[products["niche_since"] < pd.Timestamp(as_of)]
    main = known.sort_values("revenue_share", ascending=False).drop_duplicates("credit_code")
    main = main.set_index("credit_code").reindex(index)
    end_of_year = pd.Timestamp(date(last_year, 12, 31))
    result = pd.DataFrame(index=index)
    result["niche_years"] = (end_of_year - main["niche_since"]).dt.days / config.days_per_year
    result["main_product_share"] = main["revenue_share"].astype("float64")
    share = main["market_share"] if "market_share" in main else pd.Series(np.nan, index=index)
    result["market_share"] = share.astype("float64")
    return result


def _firm_profile(
    firms: pd.DataFrame, as_of: date, config: FeatureConfig, index: pd.Index
) -> pd.DataFrame:
    frame = firms.set_index("credit_code").reindex(index)
    result = pd.DataFrame(index=index)
    age = (pd.Timestamp(as_of) - frame["established_on"]).dt.days / config.days_per_year
    result["firm_age_years"] = age.where(age >= 0).astype("float64")
    section = frame["industry_code"].astype("str").str[:1]
    for letter in config.industry_sections:
        result[f"industry_{letter}"] = (section == letter).fillna(False).astype("float64")
    known = section.notna()
    result["industry_other"] = (known & ~section.isin(config.industry_sections)).astype("float64")
    if config.include_region:
        province = frame["region_code"].astype("str").str[:2]
        for code in sorted(province.dropna().unique()):
            result[f"province_{code}"] = (province == code).fillna(False).astype("float64")
    return result
