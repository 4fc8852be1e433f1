"""The two tiers of the measures (第二条): their ids and how officials name them."""

from __future__ import annotations

TIER_LABELS = {"specialized": "专精特新中小企业", "little_giant": "专精特新“小巨人”企业"}
TIER_SHEETS = {"specialized": "专精特新中小企业", "little_giant": "专精特新小巨人"}  # Excel: no “”
