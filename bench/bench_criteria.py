"""Benchmark of the criteria engine: N firms × 2 tiers (default 1M), synthetic tables in memory.

    .venv/bin/python -m bench.bench_criteria [--firms 1000000] [--seed 0]

Prints firms, rows out, seconds, rows/s and peak memory (resident set, from getrusage). The
tables are simple random data in the loader's dtypes (no dependence on the synth/ package);
every firm has three years of accounts, so most evidence texts carry figures (worst case).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import time

import numpy as np
import pandas as pd

from features.sources import SourceData
from models.criteria import cultivation_list, evaluate_criteria
from models.criteria_config import load_criteria_config

AS_OF = dt.date(2026, 6, 30)


def _codes(n: int) -> np.ndarray:
    return np.char.add("91", np.char.zfill(np.arange(n).astype(str), 16)).astype(object)


def _text(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def _dates(rng: np.random.Generator, n: int, start: str, end: str) -> np.ndarray:
    lo, hi = np.datetime64(start, "D").astype(int), np.datetime64(end, "D").astype(int)
    return rng.integers(lo, hi, n).astype("datetime64[D]").astype("datetime64[us]")


def _pick(
    rng: np.random.Generator, options: list[str], n: int, p: list[float] | None = None
) -> pd.Series:
    return _text(np.asarray(options, dtype=object)[rng.choice(len(options), n, p=p)])


def synthetic_sources(n: int, seed: int = 0) -> SourceData:
    rng = np.random.default_rng(seed)
    codes = _codes(n)
    y = AS_OF.year - 1
    industries = [
        "C3976",
        "C2614",
        "I6513",
        "F5123",
        "F5212",
        "G5411",
        "E4710",
        "K7010",
        "M7320",
        "K70",
    ]
    firms = pd.DataFrame(
        {
            "credit_code": _text(codes),
            "name": _text(np.char.add("企业", np.arange(n).astype(str)).astype(object)),
            "established_on": _dates(rng, n, "1995-01-01", "2025-12-31"),
            "region_code": _text(np.full(n, "110108", dtype=object)),
            "industry_code": _pick(rng, industries, n),
            "status": _pick(
                rng, ["operating", "revoked", "cancelled", "moved_out"], n, [0.94, 0.02, 0.02, 0.02]
            ),
        }
    )
    years = np.repeat(np.arange(y - 2, y + 1), n)
    firm = np.tile(np.arange(n), 3)
    revenue = np.round(rng.lognormal(16.5, 1.2, 3 * n), 2)
    financials = pd.DataFrame(
        {
            "credit_code": _text(codes[firm]),
            "fiscal_year": pd.array(years, dtype="Int64"),
            "revenue": revenue,
            "main_business_revenue": np.round(revenue * rng.uniform(0.6, 1.0, 3 * n), 2),
            "rd_expense": np.round(revenue * rng.uniform(0.0, 0.08, 3 * n), 2),
            "total_assets": np.round(revenue * rng.uniform(0.8, 2.0, 3 * n), 2),
            "total_liabilities": np.round(revenue * rng.uniform(0.2, 1.6, 3 * n), 2),
            "employees": pd.array(rng.integers(5, 2000, 3 * n), dtype="Int64"),
        }
    )
    k = n // 5
    holder = rng.integers(0, n, k)
    certifications = pd.DataFrame(
        {
            "credit_code": _text(codes[holder]),
            "title": _pick(
                rng,
                ["tech_sme", "innovative_sme", "specialized_sme", "little_giant"],
                k,
                [0.45, 0.3, 0.2, 0.05],
            ),
            "certified_on": _dates(rng, k, "2021-01-01", "2026-06-30"),
            "expires_on": _dates(rng, k, "2025-01-01", "2029-06-30"),
            "status": _pick(rng, ["valid", "expired", "revoked"], k, [0.8, 0.15, 0.05]),
            "revoked_on": _dates(rng, k, "2021-01-01", "2026-06-30"),
            "revoke_reason": _pick(
                rng, ["incident", "dishonesty", "data_fraud", "not_updated", "other"], k
            ),
            "ban_lifted_on": pd.Series(np.full(k, np.datetime64("NaT"), dtype="datetime64[us]")),
        }
    )
    e = n // 20
    credit_events = pd.DataFrame(
        {
            "credit_code": _text(codes[rng.integers(0, n, e)]),
            "event_type": _pick(
                rng,
                [
                    "abnormal_operation",
                    "serious_dishonesty",
                    "major_safety_accident",
                    "serious_quality_issue",
                    "data_fraud",
                ],
                e,
            ),
            "occurred_on": _dates(rng, e, "2018-01-01", "2026-06-30"),
            "resolved_on": pd.Series(np.full(e, np.datetime64("NaT"), dtype="datetime64[us]")),
        }
    )
    p = n // 2
    categories = ["core_components", "key_materials", "key_software", "emerging_industry", "other"]
    products = pd.DataFrame(
        {
            "credit_code": _text(codes[rng.choice(n, p, replace=False)]),
            "product_name": _text(np.char.add("产品", np.arange(p).astype(str)).astype(object)),
            "revenue_share": rng.uniform(0.3, 1.0, p),
            "niche_since": _dates(rng, p, "2005-01-01", "2025-06-30"),
            "market_scope": _pick(rng, ["domestic", "international"], p),
            "market_share": rng.uniform(0.0, 0.3, p),
            "domestic_rank": pd.array(rng.integers(1, 50, p), dtype="Int64"),
            "category": _pick(rng, categories, p),
            "catalogue_class": _pick(
                rng,
                ["encouraged", "allowed", "restricted", "eliminated"],
                p,
                [0.5, 0.45, 0.04, 0.01],
            ),
        }
    )
    m = n
    ip_ids = _text(np.char.add("ZL", np.arange(m).astype(str)).astype(object))
    ip_rights = pd.DataFrame(
        {
            "ip_id": ip_ids,
            "ip_type": _pick(
                rng,
                ["invention_patent", "utility_model", "design", "software_copyright", "ic_layout"],
                m,
            ),
            "title": _text(np.full(m, "一种装置", dtype=object)),
            "granted_on": _dates(rng, m, "2010-01-01", "2026-06-30"),
            "status": _pick(rng, ["valid", "expired", "invalid"], m, [0.8, 0.15, 0.05]),
            "transferred_in": pd.array(rng.random(m) < 0.1, dtype="boolean"),
        }
    )
    h = 3 * m // 2
    ip_holders = pd.DataFrame(
        {
            "ip_id": ip_ids.iloc[rng.integers(0, m, h)].reset_index(drop=True),
            "holder_name": _text(np.full(h, "某公司", dtype=object)),
            "holder_rank": pd.array(rng.integers(1, 5, h), dtype="Int64"),
            "holder_credit_code": _text(codes[rng.integers(0, n, h)]),
        }
    )
    i = n // 10
    investments = pd.DataFrame(
        {
            "investee_name": _text(np.full(i, "某公司", dtype=object)),
            "investee_credit_code": _text(codes[rng.integers(0, n, i)]),
            "investor_name": _text(np.full(i, "某基金", dtype=object)),
            "investor_qualified": pd.array(rng.random(i) < 0.7, dtype="boolean"),
            "paid_in_amount": np.round(rng.lognormal(16, 1.5, i), 2),
            "paid_in_on": _dates(rng, i, "2022-01-01", "2026-06-30"),
        }
    )
    a = n // 50
    awards = pd.DataFrame(
        {
            "award_name": _pick(
                rng, ["国家科学技术进步奖", "广东省科学技术奖", "北京市科学技术奖"], a
            ),
            "level": _pick(rng, ["national", "provincial", "municipal"], a),
            "year": pd.array(rng.integers(2018, 2027, a), dtype="Int64"),
            "unit_name": _text(np.full(a, "某公司", dtype=object)),
            "unit_rank": pd.array(rng.integers(1, 6, a), dtype="Int64"),
            "unit_credit_code": _text(codes[rng.integers(0, n, a)]),
        }
    )
    rd_institutions = pd.DataFrame(
        {
            "unit_name": _text(np.full(a, "某公司", dtype=object)),
            "unit_credit_code": _text(codes[rng.integers(0, n, a)]),
            "institution_name": _text(np.full(a, "省级企业技术中心", dtype=object)),
            "kind": _pick(rng, ["tech_center", "engineering_center", "key_lab"], a),
            "level": _pick(rng, ["national", "provincial", "municipal"], a),
            "recognized_on": _dates(rng, a, "2015-01-01", "2026-06-30"),
            "valid_until": pd.Series(np.full(a, np.datetime64("NaT"), dtype="datetime64[us]")),
        }
    )
    nodes = [f"节点{j}" for j in range(200)]
    chain_nodes = pd.DataFrame(
        {
            "chain": _text(np.full(200, "集成电路", dtype=object)),
            "node": _text(np.asarray(nodes, dtype=object)),
            "category": _pick(rng, categories, 200),
            "is_key_link": pd.array(rng.random(200) < 0.3, dtype="boolean"),
        }
    )
    s = n // 3
    supply_chain = pd.DataFrame(
        {
            "supplier_name": _text(np.full(s, "某公司", dtype=object)),
            "supplier_credit_code": _text(codes[rng.integers(0, n, s)]),
            "customer_name": _text(np.full(s, "链主公司", dtype=object)),
            "chain": _text(np.full(s, "集成电路", dtype=object)),
            "node": _pick(rng, nodes, s),
            "year": pd.array(rng.integers(2021, 2026, s), dtype="Int64"),
            "amount": np.round(rng.lognormal(14, 1, s), 2),
        }
    )
    v = n // 5
    evaluation_scores = pd.DataFrame(
        {
            "credit_code": _text(codes[rng.integers(0, n, v)]),
            "year": pd.array(rng.integers(AS_OF.year - 1, AS_OF.year + 1, v), dtype="Int64"),
            "score": np.round(rng.uniform(30, 90, v), 1),
        }
    )
    return SourceData(
        {
            "firms": firms,
            "financials": financials,
            "certifications": certifications,
            "credit_events": credit_events,
            "products": products,
            "ip_rights": ip_rights,
            "ip_holders": ip_holders,
            "investments": investments,
            "awards": awards,
            "rd_institutions": rd_institutions,
            "chain_nodes": chain_nodes,
            "supply_chain": supply_chain,
            "evaluation_scores": evaluation_scores,
        }
    )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = load_criteria_config()
    start = time.perf_counter()
    data = synthetic_sources(args.firms, args.seed)
    built = time.perf_counter() - start
    rss_before = _peak_rss_mib()
    start, cpu_start = time.perf_counter(), time.process_time()
    out = evaluate_criteria(data, AS_OF, config)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    start = time.perf_counter()
    near = cultivation_list(out, config)
    cultivation_seconds = time.perf_counter() - start
    rows = len(out)
    print(f"synthetic tables built in {built:.1f} s (peak RSS {rss_before:,.0f} MiB)")
    print(
        f"{'firms':>10} {'rows out':>12} {'seconds':>8} {'CPU s':>7} {'rows/s':>12} "
        f"{'peak RSS MiB':>13}"
    )
    print(
        f"{args.firms:>10,} {rows:>12,} {seconds:>8.1f} {cpu_seconds:>7.1f} "
        f"{rows / seconds:>12,.0f} {_peak_rss_mib():>13,.0f}"
    )
    load = os.getloadavg()[0]
    print(f"load average during the run: {load:.1f} (machine has {os.cpu_count()} cores)")
    print(
        f"output memory {out.memory_usage(deep=False).sum() / 2**20:,.0f} MiB "
        f"(+ {len(out['evidence'].cat.categories):,} distinct evidence texts)"
    )
    print(f"cultivation_list: {len(near):,} near misses in {cultivation_seconds:.1f} s")
    counts = out[out["criterion"] == "outcome"].groupby(["tier", "mode"], observed=True)["verdict"]
    print(counts.value_counts().unstack(fill_value=0).to_string())


if __name__ == "__main__":
    main()
