"""Industrial chains: nodes, chain leaders, suppliers with heavy-tailed customer counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth.activity import _nil_units
from synth.config import SynthConfig
from synth.population import year_start


def chain_nodes_table(config: SynthConfig) -> pd.DataFrame:
    rows = [
        {"chain": c.name, "node": n.node, "category": n.category, "is_key_link": n.key_link}
        for c in config.chains
        for n in c.nodes
    ]
    return pd.DataFrame(rows)


def assign_chain_nodes(
    firms: pd.DataFrame, config: SynthConfig, rng: np.random.Generator
) -> pd.DataFrame:
    """The chain node each participating SME supplies (index: firm id) and each chain's leaders."""
    industry_chain = {code: c.name for c in config.chains for code in c.industries}
    chain_of = firms["industry_code"].map(industry_chain)
    seg = firms["segment"].to_numpy()
    participant = (
        chain_of.notna().to_numpy()
        & np.isin(seg, ["tech", "sme"])
        & firms["files_financials"].to_numpy()
        & (rng.random(len(firms)) < config.supply.participation)
    )
    nodes = chain_nodes_table(config)
    firm = firms.index.to_numpy()[participant]
    chain = chain_of.to_numpy()[participant]
    node = np.empty(firm.size, dtype=object)
    category = np.empty(firm.size, dtype=object)
    key_link = np.zeros(firm.size, dtype=bool)
    strength = firms["market_strength"].to_numpy()[firm]
    for name, group in nodes.groupby("chain", sort=True):
        mask = chain == name
        # Strong firms sit on key links more often than weak ones.
        weights = np.where(group["is_key_link"].to_numpy(), 1.0, 1.5)
        base = rng.random((int(mask.sum()), len(group))) * weights
        bonus = np.outer(strength[mask] > 0.5, group["is_key_link"].to_numpy()) * 0.8
        pick = np.argmax(base + bonus, axis=1)
        node[mask] = group["node"].to_numpy()[pick]
        category[mask] = group["category"].to_numpy()[pick]
        key_link[mask] = group["is_key_link"].to_numpy()[pick]
    # Non-substitutable: a key-link supplier with a strong market position (truth only).
    non_substitutable = key_link & (firms["true_rank"].to_numpy()[firm] <= 5)
    return pd.DataFrame(
        {
            "chain": chain,
            "node": node,
            "category": category,
            "is_key_link": key_link,
            "non_substitutable": non_substitutable,
        },
        index=pd.Index(firm, name="firm"),
    )


def chain_leaders(firms: pd.DataFrame, config: SynthConfig) -> dict[str, np.ndarray]:
    """Large firms of each chain's industries; chains without one borrow the largest firms."""
    industry_chain = {code: c.name for c in config.chains for code in c.industries}
    large = firms[firms["segment"] == "large"]
    leaders: dict[str, np.ndarray] = {}
    for c in config.chains:
        own = large.index[large["industry_code"].map(industry_chain) == c.name].to_numpy()
        leaders[c.name] = own if own.size else large.index.to_numpy()[: max(1, min(3, len(large)))]
    return leaders


def build_supply_chain(
    firms: pd.DataFrame,
    nodes: pd.DataFrame,
    financials: pd.DataFrame,
    config: SynthConfig,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """supply_chain in truth form: supplier/customer firm ids (-1 = nil) with nil names."""
    cfg = config.supply
    leaders = chain_leaders(firms, config)
    suppliers = nodes.index.to_numpy()
    k = np.minimum(
        1 + np.floor(rng.pareto(cfg.customers_pareto_shape, suppliers.size)).astype(np.int64),
        cfg.max_customers,
    )
    supplier = np.repeat(suppliers, k)
    chain = np.repeat(nodes["chain"].to_numpy(), k)
    node = np.repeat(nodes["node"].to_numpy(), k)
    non_sub = np.repeat(nodes["non_substitutable"].to_numpy(), k)
    m = supplier.size
    draw = rng.random(m)
    customer = np.full(m, -1, dtype=np.int64)
    is_leader = draw < cfg.customer_is_leader
    for name, ids in leaders.items():
        mask = is_leader & (chain == name)
        if ids.size and mask.any():
            # Bigger leaders buy from more suppliers (preferential attachment by order).
            w = 1.0 / (1.0 + np.arange(ids.size))
            customer[mask] = ids[rng.choice(ids.size, int(mask.sum()), p=w / w.sum())]
    is_sme = (draw >= cfg.customer_is_leader) & (
        draw < cfg.customer_is_leader + cfg.customer_is_sme
    )
    customer[is_sme] = suppliers[rng.integers(0, suppliers.size, int(is_sme.sum()))]
    customer[customer == supplier] = -1
    nil_customer = np.full(m, None, dtype=object)
    nil_mask = customer == -1
    nil_customer[nil_mask] = _nil_units(int(nil_mask.sum()), rng, ("outside", "foreign"))
    relation = pd.DataFrame(
        {
            "supplier": supplier,
            "customer": customer,
            "customer_nil": nil_customer,
            "chain": chain,
            "node": node,
            "non_sub": non_sub,
        }
    )
    relation = relation.drop_duplicates(
        ["supplier", "customer", "customer_nil", "node"]
    ).reset_index(drop=True)

    # Yearly rows while the supplier files accounts; substitutable relations come and go.
    revenue = financials.set_index(["firm", "fiscal_year"])["revenue"]
    per_supplier = relation.groupby("supplier").size()
    rows = []
    for year in config.fiscal_years:
        present = relation["non_sub"].to_numpy() | (
            rng.random(len(relation)) < cfg.substitutable_presence
        )
        sub = relation[present]
        rev = revenue.reindex(
            pd.MultiIndex.from_arrays([sub["supplier"].to_numpy(), np.full(len(sub), year)])
        ).to_numpy()
        ok = ~np.isnan(rev)
        sub = sub[ok]
        share = cfg.supply_share_of_revenue / per_supplier.reindex(sub["supplier"]).to_numpy()
        amount = np.round(rev[ok] * share * np.exp(0.3 * rng.standard_normal(len(sub))), 2)
        rows.append(sub.assign(year=year, amount=amount))
    supply = pd.concat(rows, ignore_index=True)

    # Suppliers outside the data selling to the leaders.
    outside = []
    for name, ids in leaders.items():
        count = cfg.outside_suppliers_per_leader * ids.size
        if count == 0:
            continue
        chain_nodes = [n.node for c in config.chains if c.name == name for n in c.nodes]
        years = rng.choice(config.fiscal_years, count)
        outside.append(
            pd.DataFrame(
                {
                    "supplier": -1,
                    "supplier_nil": _nil_units(count, rng, ("outside", "foreign")),
                    "customer": ids[rng.integers(0, ids.size, count)],
                    "customer_nil": None,
                    "chain": name,
                    "node": np.array(chain_nodes, dtype=object)[
                        rng.integers(0, len(chain_nodes), count)
                    ],
                    "non_sub": False,
                    "year": years,
                    "amount": np.round(np.exp(16 + rng.standard_normal(count)), 2),
                }
            )
        )
    supply["supplier_nil"] = None
    if outside:
        supply = pd.concat([supply, *outside], ignore_index=True)
    supply["year"] = supply["year"].astype(np.int64)
    supply["mention_day"] = year_start(supply["year"].to_numpy()) + 180
    return supply.drop(columns=["non_sub"])
