"""Identifiers: unified social credit codes (GB 32100-2015) and IP numbers, vectorised."""

from __future__ import annotations

import numpy as np

# facts.md §2: 31-character set, weights 3^i mod 31 over positions 1-17.
CREDIT_CHARSET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
CREDIT_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28])
# Organisation code (positions 9-17): 8 characters, then a check, weights 3 7 9 10 5 8 4 2.
ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


_ALPHABET36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CREDIT_INDEX_OF_36 = np.array(
    ["0123456789ABCDEFGHJKLMNPQRTUWXY".find(c) for c in _ALPHABET36], dtype=np.int64
)
# Newer organisation codes start with a letter (e.g. MA…); a digit-to-letter map keeps codes
# distinct when a leading digit is replaced.
_LEAD_LETTERS = np.array([10 + _ALPHABET36[10:].index(c) for c in "MAJKLNPQRT"])


def _org_values(numbers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """8-character organisation-code bodies (values 0-35) from distinct integers."""
    digits = np.zeros((numbers.size, 8), dtype=np.int64)
    rest = numbers.copy()
    for position in range(7, -1, -1):
        digits[:, position] = rest % 10
        rest //= 10
    lettered = rng.random(numbers.size) < 0.15
    digits[lettered, 0] = _LEAD_LETTERS[digits[lettered, 0]]
    return digits


def distinct_integers(n: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """`n` distinct integers in [0, high), in random order (n much smaller than high)."""
    draws = rng.integers(0, high, size=int(n * 1.1) + 64)
    _, first = np.unique(draws, return_index=True)
    distinct = draws[np.sort(first)]
    if distinct.size < n:  # pragma: no cover - needs n close to high
        raise ValueError(f"cannot draw {n} distinct integers below {high}")
    return distinct[:n]


def credit_codes(region_codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Valid, distinct 18-character credit codes `91` + region + organisation code + check."""
    n = region_codes.size
    numbers = distinct_integers(n, 10**8, rng)
    org = _org_values(numbers, rng)  # values: digits 0-9, letters 10-35
    org_check = (11 - (org * ORG_WEIGHTS).sum(axis=1) % 11) % 11  # 10 -> X, 11 -> 0
    org_check = np.where(org_check == 10, _ALPHABET36.index("X"), org_check % 11)
    region = np.asarray(region_codes, dtype="U6").view(np.uint32).reshape(n, 6) - ord("0")
    values36 = np.concatenate(
        [np.full((n, 1), 9), np.full((n, 1), 1), region, org, org_check[:, None]], axis=1
    ).astype(np.int64)
    values = _CREDIT_INDEX_OF_36[values36]
    check = (31 - (values * CREDIT_WEIGHTS).sum(axis=1) % 31) % 31
    full = np.concatenate([values, check[:, None]], axis=1)
    code_points = np.array([ord(c) for c in CREDIT_CHARSET.tolist()], dtype=np.uint32)[full]
    return np.ascontiguousarray(code_points).view("U18").ravel()


def credit_code_valid(code: str) -> bool:
    """Check character of one code (for tests and assertions)."""
    charset = "".join(CREDIT_CHARSET.tolist())
    if len(code) != 18 or any(c not in charset for c in code):
        return False
    total = sum(charset.index(c) * w for c, w in zip(code[:17], CREDIT_WEIGHTS, strict=True))
    return charset[(31 - total % 31) % 31] == code[17]


# Chinese patent numbers: ZL + year + type (1 invention, 2 utility model, 3 design) + 7-digit
# serial, then "." and a mod-11 check digit over the 12 digits (weights 2..9, 2..5).
SERIALS = range(10**7)  # every 7-digit serial (IP numbers of the other kinds use them too)
_PATENT_WEIGHTS = np.array([2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5])


def patent_numbers(years: np.ndarray, kinds: np.ndarray, serials: np.ndarray) -> np.ndarray:
    """`ZL2023101234567.8`-style application numbers with their check digit."""
    digits12 = years.astype(np.int64) * 10**8 + kinds.astype(np.int64) * 10**7 + serials
    digits = np.zeros((digits12.size, 12), dtype=np.int64)
    rest = digits12.copy()
    for position in range(11, -1, -1):
        digits[:, position] = rest % 10
        rest //= 10
    check = (digits * _PATENT_WEIGHTS).sum(axis=1) % 11
    check_text = np.where(check == 10, "X", check.astype(str))
    body = np.char.zfill(digits12.astype(str), 12)
    return np.char.add(np.char.add(np.char.add("ZL", body), "."), check_text)
