"""Real administrative divisions (features/data/admin_divisions.csv) for codes and names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ADMIN_DIVISIONS = Path(__file__).resolve().parents[1] / "features" / "data" / "admin_divisions.csv"

# Short forms used in firm names (广东华芯…, 华芯（深圳）…).
_PROVINCE_SHORT_SUFFIXES = ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市")


def short_name(name: str) -> str:
    """深圳市 → 深圳, 广东省 → 广东; district names keep their suffix."""
    for suffix in _PROVINCE_SHORT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class Regions:
    """Districts of the generated provinces with their city and province names."""

    districts: pd.DataFrame  # code, name, city_code, city_name, province, province_name, weight

    def sample(self, provinces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A district code for each firm, given its 2-digit province code."""
        out = np.empty(provinces.size, dtype="U6")
        for province, group in self.districts.groupby("province", sort=True):
            mask = provinces == province
            weights = group["weight"].to_numpy()
            picks = rng.choice(group.index.size, size=int(mask.sum()), p=weights / weights.sum())
            out[mask] = group["code"].to_numpy()[picks]
        return out


def load_regions(province_codes: list[str], rng: np.random.Generator) -> Regions:
    """Districts of the given provinces; each gets a heavy-tailed share of registrations."""
    table = pd.read_csv(ADMIN_DIVISIONS, dtype=str)
    names = dict(zip(table["code"], table["name"], strict=True))
    districts = table[
        (table["level"] == "district") & table["code"].str[:2].isin(province_codes)
    ].copy()
    missing = sorted(set(province_codes) - set(districts["code"].str[:2]))
    if missing:
        raise ValueError(f"no districts for province codes {missing} in {ADMIN_DIVISIONS}")
    districts["province"] = districts["code"].str[:2]
    districts["province_name"] = districts["province"].map(lambda p: names[p + "0000"])
    city_code = districts["code"].str[:4] + "00"
    # Municipal districts of a direct-administered city (e.g. 1101xx) have no city row.
    districts["city_code"] = city_code
    districts["city_name"] = [names.get(c, names[c[:2] + "0000"]) for c in city_code]
    districts = districts.sort_values("code").reset_index(drop=True)
    # Zipf-like weights in a seeded order: a few districts hold most registrations.
    order = rng.permutation(len(districts))
    districts["weight"] = 1.0 / (1.0 + order) ** 0.8
    return Regions(
        districts=districts[
            ["code", "name", "city_code", "city_name", "province", "province_name", "weight"]
        ]
    )
