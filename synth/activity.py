"""Innovation, market and compliance records: noisy consequences of the latent world.

Name-bearing tables are built in truth form: `firm` (registry firm id, -1 for a unit that
is no registry firm), `nil_name` (that unit's name) and `mention_day` (when the record was
written, which decides whether a former name is used).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.schemas import NODE_CATEGORIES
from synth import vocab
from synth.codes import SERIALS, distinct_integers, patent_numbers
from synth.config import SynthConfig
from synth.population import day_number, random_days, shifted_probability, sigmoid, year_start
from synth.regions import Regions, short_name

CLASS1_BY_INDUSTRY = {
    "C27": "new_drug",
    "I652": "ic_layout",
    "C397": "ic_layout",
    "A01": "plant_variety",
}


def _segment_value(mapping: dict[str, float], segment: np.ndarray) -> np.ndarray:
    return pd.Series(segment).map(mapping).to_numpy(dtype=float)


def _years_alive(firms: pd.DataFrame, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Firm-year grid (firm ids, years) of the years in [first, last] each firm existed."""
    est = firms["established_on"].to_numpy().astype("datetime64[D]").astype("datetime64[Y]")
    start = np.maximum(est.astype(np.int64) + 1970, first)
    status_on = firms["status_on"].to_numpy()
    end_alive = np.where(
        status_on >= 0,
        status_on.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970,
        last,
    )
    end = np.minimum(end_alive, last)
    count = np.maximum(end - start + 1, 0)
    ids = firms.index.to_numpy()
    row = np.repeat(np.arange(ids.size), count)
    offset = np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
    return ids[row], start[row] + offset


def _nil_units(n: int, rng: np.random.Generator, kinds: tuple[str, ...]) -> np.ndarray:
    """Names of units that are no registry firm: universities, institutes, foreign, outside."""
    pools = {
        "university": np.array(vocab.UNIVERSITIES, dtype=object),
        "institute": np.array(vocab.INSTITUTES, dtype=object),
        "foreign": np.array(vocab.FOREIGN_FIRMS, dtype=object),
    }
    kind = np.array(kinds, dtype=object)[rng.integers(0, len(kinds), n)]
    out = np.empty(n, dtype=object)
    for key, pool in pools.items():
        mask = kind == key
        out[mask] = pool[rng.integers(0, pool.size, int(mask.sum()))]
    mask = kind == "outside"
    out[mask] = outside_firm_names(int(mask.sum()), rng)
    return out


def outside_firm_names(n: int, rng: np.random.Generator) -> np.ndarray:
    """Firms registered outside the generated provinces (same naming style, no registry row)."""
    from synth.names import trade_names

    region = np.array(vocab.OUTSIDE_REGIONS, dtype=object)[
        rng.integers(0, len(vocab.OUTSIDE_REGIONS), n)
    ]
    words = np.array(["科技", "电子", "精密机械", "新材料", "信息技术", "生物科技"], dtype=object)
    word = words[rng.integers(0, words.size, n)]
    return region + trade_names(n, rng) + word + "有限公司"


def add_nil_rows(
    table: pd.DataFrame, share: float, rng: np.random.Generator, kinds: tuple[str, ...]
) -> pd.DataFrame:
    """Append copies of random rows naming no registry firm, so `share` of rows are nil."""
    registry_rows = int((table["firm"] >= 0).sum())
    extra = round(registry_rows * share / (1.0 - share)) if share < 1 else 0
    if extra == 0 or table.empty:
        return table
    copies = table.iloc[rng.integers(0, len(table), extra)].copy()
    copies["firm"] = -1
    copies["nil_name"] = _nil_units(extra, rng, kinds)
    return pd.concat([table, copies], ignore_index=True)


# --------------------------------------------------------------------------- IP
def build_ip(
    firms: pd.DataFrame,
    config: SynthConfig,
    rng: np.random.Generator,
    serials: range = SERIALS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ip_rights (with status_on: the day it stopped being valid) and ip_holders (truth).

    IP numbers use distinct serials of `serials` (a national run gives each province its own
    block, so numbers stay distinct nationally)."""
    cfg = config.innovation
    seg = firms["segment"].to_numpy()
    q = firms["quality"].to_numpy()
    n_inv = rng.poisson(
        np.exp(_segment_value(cfg.invention_log_rate, seg) + cfg.invention_per_quality * q)
    )
    n_other = rng.poisson(np.exp(_segment_value(cfg.other_ip_log_rate, seg) + 0.5 * q))
    owner = np.concatenate(
        [np.repeat(firms.index.to_numpy(), n_inv), np.repeat(firms.index.to_numpy(), n_other)]
    )
    class1 = np.concatenate([np.ones(n_inv.sum(), bool), np.zeros(n_other.sum(), bool)])
    m = owner.size
    industry = firms["industry_code"].to_numpy()[owner]
    segment = seg[owner]
    ip_type = np.full(m, "invention_patent", dtype=object)
    special = rng.random(m) < 0.2
    for prefix, kind in CLASS1_BY_INDUSTRY.items():
        mask = class1 & special & pd.Series(industry).str.startswith(prefix).to_numpy()
        ip_type[mask] = kind
    defence = class1 & (rng.random(m) < 0.01) & pd.Series(industry).str.startswith("C34").to_numpy()
    ip_type[defence] = "defense_patent"
    draw = rng.random(m)
    software = pd.Series(industry).str.startswith("I").to_numpy()
    other = np.where(
        segment == "micro",
        np.where(draw < 0.8, "trademark", "design"),
        np.where(
            software,
            np.where(
                draw < 0.7,
                "software_copyright",
                np.where(draw < 0.85, "trademark", "utility_model"),
            ),
            np.where(
                draw < 0.55,
                "utility_model",
                np.where(
                    draw < 0.7, "design", np.where(draw < 0.85, "software_copyright", "trademark")
                ),
            ),
        ),
    )
    ip_type = np.where(class1, ip_type, other).astype(object)

    evaluation = day_number(config.evaluation_date)
    est = firms["established_on"].to_numpy()[owner]
    low = np.maximum(est + 200, day_number(dt.date(2008, 1, 1)))
    granted = random_days(low, np.full(m, evaluation - 1), rng)
    keep = granted < evaluation
    owner, ip_type, granted = owner[keep], ip_type[keep], granted[keep]
    m = owner.size
    grant_year = granted.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    serial = serials.start + distinct_integers(m, len(serials), rng)
    apply_year = grant_year - rng.integers(0, 3, m)
    patent_kind = np.select(
        [
            np.isin(ip_type, ["invention_patent", "defense_patent"]),
            ip_type == "utility_model",
            ip_type == "design",
        ],
        [1, 2, 3],
        0,
    )
    ip_id = np.empty(m, dtype=object)
    patents = patent_kind > 0
    ip_id[patents] = patent_numbers(apply_year[patents], patent_kind[patents], serial[patents])
    texts = {
        "software_copyright": lambda y, s: f"{y}SR{s:07d}",
        "trademark": lambda y, s: f"TM{y % 100:02d}{s:07d}",
        "ic_layout": lambda y, s: f"BS.{y}{s:07d}",
        "new_drug": lambda y, s: f"国药准字H{y}{s:07d}",
        "plant_variety": lambda y, s: f"CNA{y}{s:07d}",
    }
    for kind, fmt in texts.items():
        idx = np.flatnonzero(ip_type == kind)
        ip_id[idx] = [
            fmt(int(y), int(s)) for y, s in zip(apply_year[idx], serial[idx], strict=True)
        ]
    # Terms: utility models and designs lapse after 10 years; some rights are invalidated.
    term_end = np.where(np.isin(ip_type, ["utility_model", "design"]), granted + 3650, -1)
    invalid_on = np.where(
        rng.random(m) < cfg.invalid_ip,
        random_days(granted + 1, np.full(m, evaluation - 1), rng),
        -1,
    )
    status_on = np.where(invalid_on >= 0, invalid_on, term_end)
    status_kind = np.where(invalid_on >= 0, "invalid", "expired")
    qual = np.array(vocab.TITLE_QUALIFIERS, dtype=object)[
        rng.integers(0, len(vocab.TITLE_QUALIFIERS), m)
    ]
    obj = np.array(vocab.TITLE_OBJECTS, dtype=object)[rng.integers(0, len(vocab.TITLE_OBJECTS), m)]
    title = np.where(class1_like(ip_type), "一种" + qual + obj, qual + obj)
    rights = pd.DataFrame(
        {
            "ip_id": ip_id,
            "ip_type": ip_type,
            "title": title,
            "granted_on": granted,
            "status_on": status_on,
            "status_after": status_kind,
            "transferred_in": rng.random(m) < cfg.transferred_in,
        }
    )

    # Holders: the firm first; sometimes co-holders; sometimes the firm listed fourth.
    co = rng.random(m) < cfg.co_holder
    co_count = np.where(co, 1 + (rng.random(m) < 0.3), 0)
    low_rank = (rng.random(m) < cfg.low_rank_holder) & ~co
    nil_share = config.mentions.nil_share.get("ip_holders", 0.0)
    expected_co = float(co_count.mean() + 3 * low_rank.mean())
    p_nil = min(1.0, nil_share * (1 + expected_co) / max(expected_co, 1e-9))
    firm_rank = np.where(low_rank, 4, 1)
    holders = [pd.DataFrame({"ip": np.arange(m), "firm": owner, "holder_rank": firm_rank})]
    for k in (1, 2):
        idx = np.flatnonzero(co_count >= k)
        holders.append(pd.DataFrame({"ip": idx, "firm": -2, "holder_rank": 1 + k}))
    for k in (1, 2, 3):
        idx = np.flatnonzero(low_rank)
        holders.append(pd.DataFrame({"ip": idx, "firm": -2, "holder_rank": k}))
    holders_df = pd.concat(holders, ignore_index=True)
    others = holders_df["firm"].to_numpy() == -2
    is_nil = others & (rng.random(len(holders_df)) < p_nil)
    candidates = firms.index[firms["segment"].isin(["tech", "large", "sme"])].to_numpy()
    other_firm = candidates[rng.integers(0, candidates.size, len(holders_df))]
    holder_firm = np.where(is_nil, -1, np.where(others, other_firm, holders_df["firm"].to_numpy()))
    # A co-holder firm equal to the owner becomes a nil co-holder instead.
    owner_of_row = owner[holders_df["ip"].to_numpy()]
    clash = others & (holder_firm == owner_of_row)
    holder_firm[clash] = -1
    nil_name = np.full(len(holders_df), None, dtype=object)
    nil_rows = holder_firm == -1
    nil_name[nil_rows] = _nil_units(
        int(nil_rows.sum()), rng, ("university", "institute", "foreign", "outside")
    )
    ip_holders = pd.DataFrame(
        {
            "ip": holders_df["ip"].to_numpy(),
            "ip_id": ip_id[holders_df["ip"].to_numpy()],
            "holder_rank": holders_df["holder_rank"].to_numpy(),
            "firm": holder_firm,
            "nil_name": nil_name,
            "mention_day": granted[holders_df["ip"].to_numpy()],
        }
    )
    return rights, ip_holders


def class1_like(ip_type: np.ndarray) -> np.ndarray:
    return np.isin(ip_type, ["invention_patent", "defense_patent", "utility_model"])


# --------------------------------------------------------------------------- awards etc.
def _candidates(firms: pd.DataFrame) -> pd.DataFrame:
    return firms[
        firms["files_financials"].to_numpy()
        & firms["segment"].isin(["sme", "tech", "large"]).to_numpy()
    ]


def build_awards(
    firms: pd.DataFrame, config: SynthConfig, regions: Regions, rng: np.random.Generator
) -> pd.DataFrame:
    cfg = config.innovation
    pool = _candidates(firms)
    ids, years = _years_alive(pool, config.first_fiscal_year, config.last_fiscal_year)
    q = firms["quality"].to_numpy()[ids]
    seg_shift = np.where(firms["segment"].to_numpy()[ids] == "sme", -2.0, 0.0)
    base = cfg.award_per_quality * q + seg_shift
    levels = {
        "national": cfg.national_award_logit + 0.5 * base,
        "provincial": cfg.provincial_award_logit + base,
        "municipal": cfg.provincial_award_logit + 1.0 + base,
        "other": cfg.provincial_award_logit + 0.5 + base,
    }
    tables = []
    district = regions.districts.set_index("code")
    for level, logit in levels.items():
        won = rng.random(ids.size) < sigmoid(logit)
        firm, year = ids[won], years[won]
        region = firms["region_code"].to_numpy()[firm]
        if level == "national":
            name = np.array(vocab.NATIONAL_AWARDS, dtype=object)[rng.integers(0, 3, firm.size)]
        elif level == "provincial":
            name = district.loc[region, "province_name"].to_numpy(dtype=object) + "科学技术奖"
        elif level == "municipal":
            name = district.loc[region, "city_name"].to_numpy(dtype=object) + "科学技术奖"
        else:
            name = np.array(vocab.OTHER_AWARDS, dtype=object)[rng.integers(0, 3, firm.size)]
        rank = np.select(
            [rng.random(firm.size) < 0.5, rng.random(firm.size) < 0.5, rng.random(firm.size) < 0.5],
            [1, 2, 3],
            4 + rng.integers(0, 3, firm.size),
        )
        tables.append(
            pd.DataFrame(
                {
                    "award_name": name,
                    "level": level,
                    "year": year.astype(np.int64),
                    "unit_rank": rank,
                    "firm": firm,
                    "nil_name": None,
                    "mention_day": year_start(year) + 330,
                }
            )
        )
    awards = pd.concat(tables, ignore_index=True)
    awards = add_nil_rows(
        awards, config.mentions.nil_share.get("awards", 0.0), rng, ("university", "institute")
    )
    nil = awards["firm"].to_numpy() < 0
    awards.loc[nil, "unit_rank"] = np.where(awards.loc[nil, "unit_rank"].to_numpy() == 1, 2, 1)
    return awards


def build_institutions(
    firms: pd.DataFrame, config: SynthConfig, regions: Regions, parts, rng: np.random.Generator
) -> pd.DataFrame:
    cfg = config.innovation
    pool = _candidates(firms)
    q = pool["quality"].to_numpy()
    propensity = pool["propensity"].to_numpy()
    shift = np.where(pool["segment"].to_numpy() == "sme", -2.0, 0.0)
    has = rng.random(len(pool)) < sigmoid(
        cfg.institution_logit
        + cfg.institution_per_quality * q
        + cfg.institution_per_propensity * propensity
        + shift
    )
    firm = pool.index.to_numpy()[has]
    n = firm.size
    evaluation = day_number(config.evaluation_date)
    est = firms["established_on"].to_numpy()[firm]
    recognized = random_days(
        np.maximum(est + 730, day_number(dt.date(2010, 1, 1))), np.full(n, evaluation - 1), rng
    )
    ok = recognized < evaluation
    firm, recognized = firm[ok], recognized[ok]
    n = firm.size
    level = np.where(
        rng.random(n) < cfg.national_institution,
        "national",
        np.where(rng.random(n) < 0.6, "provincial", "municipal"),
    )
    kinds = np.array(list(vocab.INSTITUTION_KINDS), dtype=object)
    kind = kinds[rng.integers(0, kinds.size, n)]
    label = pd.Series(kind).map(vocab.INSTITUTION_KINDS).to_numpy(dtype=object)
    region = firms["region_code"].to_numpy()[firm]
    district = regions.districts.set_index("code")
    place = np.where(
        level == "national",
        "国家",
        np.where(
            level == "provincial",
            district.loc[region, "province_name"].to_numpy(dtype=object),
            district.loc[region, "city_name"].to_numpy(dtype=object),
        ),
    )
    institution_name = place + parts.trade[firm] + parts.word[firm] + label
    expired = rng.random(n) < cfg.institution_expired
    valid_until = np.where(
        expired, random_days(recognized + 365, np.full(n, evaluation - 1), rng), -1
    )
    table = pd.DataFrame(
        {
            "institution_name": institution_name,
            "kind": kind,
            "level": level,
            "recognized_on": recognized,
            "valid_until": valid_until,
            "firm": firm,
            "nil_name": None,
            "mention_day": recognized,
        }
    )
    return add_nil_rows(
        table,
        config.mentions.nil_share.get("rd_institutions", 0.0),
        rng,
        ("university", "institute"),
    )


def build_talent(
    firms: pd.DataFrame, config: SynthConfig, regions: Regions, rng: np.random.Generator
) -> pd.DataFrame:
    cfg = config.innovation
    pool = _candidates(firms)
    ids, years = _years_alive(pool, config.first_fiscal_year, config.last_fiscal_year)
    q = firms["quality"].to_numpy()[ids]
    propensity = firms["propensity"].to_numpy()[ids]
    won = rng.random(ids.size) < sigmoid(
        cfg.talent_logit + cfg.talent_per_quality * q + cfg.talent_per_propensity * propensity
    )
    firm, year = ids[won], years[won]
    n = firm.size
    draw = rng.random(n)
    level = np.where(draw < 0.1, "national", np.where(draw < 0.5, "provincial", "municipal"))
    region = firms["region_code"].to_numpy()[firm]
    district = regions.districts.set_index("code")
    province = [short_name(p) for p in district.loc[region, "province_name"]]
    city = [short_name(c) for c in district.loc[region, "city_name"]]
    pick = rng.integers(0, 2, n)
    programme = [
        vocab.TALENT_PROGRAMMES[lv][k].format(province=p, city=c)
        for lv, k, p, c in zip(level, pick, province, city, strict=True)
    ]
    table = pd.DataFrame(
        {
            "programme": np.array(programme, dtype=object),
            "level": level,
            "year": year.astype(np.int64),
            "headcount": 1 + rng.poisson(0.6, n),
            "firm": firm,
            "nil_name": None,
            "mention_day": year_start(year) + 180,
        }
    )
    return add_nil_rows(
        table, config.mentions.nil_share.get("talent", 0.0), rng, ("university", "institute")
    )


def build_investments(
    firms: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    cfg = config.innovation
    pool = _candidates(firms)
    pool = pool[pool["segment"].isin(["tech", "sme"])]
    evaluation = config.evaluation_date
    ids, years = _years_alive(pool, config.first_fiscal_year, evaluation.year)
    q = firms["quality"].to_numpy()[ids]
    g = firms["growth"].to_numpy()[ids]
    shift = np.where(firms["segment"].to_numpy()[ids] == "sme", -2.0, 0.0)
    rate = np.exp(
        cfg.investment_log_rate
        + cfg.investment_per_quality * q
        + cfg.investment_per_growth * (g - 0.1)
        + cfg.investment_per_propensity * firms["propensity"].to_numpy()[ids]
        + shift
    )
    rounds = rng.poisson(rate)
    firm = np.repeat(ids, rounds)
    year = np.repeat(years, rounds)
    n = firm.size
    day = random_days(year_start(year), year_start(year + 1) - 1, rng)
    ok = day < day_number(evaluation)
    firm, day = firm[ok], day[ok]
    n = firm.size
    amount = np.round(np.exp(cfg.investment_log_amount_mean + 0.9 * rng.standard_normal(n)), -4)
    words = np.array(vocab.INVESTOR_WORDS, dtype=object)
    suffixes = np.array(vocab.INVESTOR_SUFFIXES, dtype=object)
    regions_out = np.array(
        ["深圳", "苏州", "杭州", "广州", "南京", "宁波", *vocab.OUTSIDE_REGIONS], dtype=object
    )
    investor = (
        regions_out[rng.integers(0, regions_out.size, n)]
        + words[rng.integers(0, words.size, n)]
        + suffixes[rng.integers(0, suffixes.size, n)]
    )
    table = pd.DataFrame(
        {
            "investor_name": investor,
            "investor_qualified": rng.random(n) < cfg.investor_qualified,
            "paid_in_amount": np.maximum(amount, 10000.0),
            "paid_in_on": day,
            "firm": firm,
            "nil_name": None,
            "mention_day": day,
        }
    )
    return add_nil_rows(table, config.mentions.nil_share.get("investments", 0.0), rng, ("outside",))


# --------------------------------------------------------------------------- products, scores
def build_products(
    firms: pd.DataFrame, chain_node: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """Each candidate firm's true main product and niche (the published table is a subset)."""
    cfg = config.innovation
    pool = _candidates(firms)
    pool = pool[pool["segment"].isin(["tech", "sme"])]
    firm = pool.index.to_numpy()
    n = firm.size
    est = pool["established_on"].to_numpy()
    evaluation = day_number(config.evaluation_date)
    niche = random_days(est, np.minimum(est + 4 * 365, evaluation - 1), rng)
    node = chain_node.reindex(firm)
    objects = np.array(vocab.TITLE_OBJECTS, dtype=object)[
        rng.integers(0, len(vocab.TITLE_OBJECTS), n)
    ]
    qual = np.array(vocab.TITLE_QUALIFIERS, dtype=object)[
        rng.integers(0, len(vocab.TITLE_QUALIFIERS), n)
    ]
    product = np.where(
        node["node"].notna().to_numpy(), node["node"].to_numpy(dtype=object), qual + objects
    )
    category_guess = np.array(NODE_CATEGORIES, dtype=object)[
        rng.integers(0, len(NODE_CATEGORIES), n)
    ]
    category = np.where(
        node["category"].notna().to_numpy(),
        node["category"].to_numpy(dtype=object),
        np.where(rng.random(n) < 0.6, "other", category_guess),
    )
    share = np.where(rng.random(n) < 0.9, rng.uniform(0.55, 0.95, n), rng.uniform(0.2, 0.5, n))
    draw = rng.random(n)
    catalogue = np.where(
        draw < cfg.catalogue_eliminated,
        "eliminated",
        np.where(
            draw < cfg.catalogue_eliminated + cfg.catalogue_restricted,
            "restricted",
            np.where(draw < 0.5, "encouraged", "allowed"),
        ),
    )
    return pd.DataFrame(
        {
            "firm": firm,
            "product_name": product.astype(object),
            "revenue_share": np.round(share, 4),
            "niche_since": niche,
            "market_scope": np.where(rng.random(n) < 0.8, "domestic", "international"),
            "market_share": np.round(pool["true_share"].to_numpy(), 4),
            "domestic_rank": pool["true_rank"].to_numpy().astype(np.int64),
            "category": category,
            "catalogue_class": catalogue,
        }
    )


# --------------------------------------------------------------------------- credit events
def build_credit_events(
    firms: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    cfg = config.credit_events
    evaluation = day_number(config.evaluation_date)
    first = config.first_fiscal_year
    tables = []
    est = firms["established_on"].to_numpy()
    start = np.maximum(est, year_start(np.array([first]))[0])
    status_on = firms["status_on"].to_numpy()
    end = np.where(status_on >= 0, status_on, evaluation - 1)
    exposure_years = np.maximum(end - start, 0) / 365.25
    filing = firms["files_financials"].to_numpy()
    for event, rate in cfg.yearly_rate.items():
        r = np.where(
            filing, rate, cfg.micro_abnormal_rate if event == "abnormal_operation" else rate * 0.2
        )
        count = rng.poisson(r * exposure_years)
        firm = np.repeat(firms.index.to_numpy(), count)
        day = random_days(start[firm], end[firm], rng)
        resolved_p = cfg.resolved.get(event, 0.0)
        resolved = np.where(
            rng.random(firm.size) < resolved_p, day + rng.integers(30, 720, firm.size), -1
        )
        tables.append(
            pd.DataFrame(
                {"firm": firm, "event_type": event, "occurred_on": day, "resolved_on": resolved}
            )
        )
    events = pd.concat(tables, ignore_index=True)
    return events[events["occurred_on"] < evaluation].reset_index(drop=True)


# --------------------------------------------------------------------------- tech titles
def build_tech_titles(
    firms: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """科技型 (yearly) and 创新型 (three-year) SME titles, the prerequisite of Annex 1 (一)."""
    cfg = config.innovation
    probability = pd.Series(firms["segment"]).map(
        {s: config.segments[s].innovative_title for s in config.segments}
    )
    # Firms that engage with programmes (latent propensity) register for titles more often.
    propensity = firms["propensity"].to_numpy()
    shift = cfg.title_per_propensity * propensity
    holder = firms.index[
        (rng.random(len(firms)) < shifted_probability(probability.to_numpy(), shift))
        & firms["files_financials"].to_numpy()
    ].to_numpy()
    shift = shift[holder]
    est_year = (
        firms["established_on"]
        .to_numpy()[holder]
        .astype("datetime64[D]")
        .astype("datetime64[Y]")
        .astype(np.int64)
        + 1970
    )
    first = np.maximum(est_year + 1, config.first_fiscal_year - 1) + rng.integers(0, 4, holder.size)
    last_year = config.evaluation_date.year
    status_on = firms["status_on"].to_numpy()[holder]
    end_year = np.where(
        status_on >= 0,
        status_on.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970 - 1,
        last_year,
    )
    rows = []
    # 科技型中小企业: registered each spring, valid for a year.
    for year in range(config.first_fiscal_year - 1, last_year + 1):
        active = (
            (first <= year)
            & (end_year >= year)
            & (rng.random(holder.size) < shifted_probability(cfg.tech_sme_yearly, shift))
        )
        firm = holder[active]
        certified = np.full(firm.size, day_number(dt.date(year, 4, 30)))
        rows.append(
            pd.DataFrame(
                {
                    "firm": firm,
                    "title": "tech_sme",
                    "certified_on": certified,
                    "expires_on": certified + 364,
                }
            )
        )
    # 创新型中小企业: three years, usually renewed.
    innovative = rng.random(holder.size) < 0.7
    for start_offset in range(0, 12, 3):
        year = first + start_offset
        active = (
            innovative
            & (year <= last_year)
            & (end_year >= year)
            & (
                rng.random(holder.size)
                < (1.0 if start_offset == 0 else shifted_probability(cfg.innovative_renewal, shift))
            )
        )
        innovative &= active | (year > last_year)
        firm = holder[active]
        certified = np.array(
            [day_number(dt.date(int(y), 9, 30)) for y in year[active]], dtype=np.int64
        )
        keep = certified < day_number(config.evaluation_date)
        rows.append(
            pd.DataFrame(
                {
                    "firm": firm[keep],
                    "title": "innovative_sme",
                    "certified_on": certified[keep],
                    "expires_on": certified[keep] + 3 * 365,
                }
            )
        )
    titles = pd.concat(rows, ignore_index=True)
    return titles[titles["certified_on"] < day_number(config.evaluation_date)].reset_index(
        drop=True
    )
