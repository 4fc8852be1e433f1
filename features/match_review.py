"""The review queue as people use it (issue 14): a sheet to fill, candidates side by side, and
the check of a filled sheet before its decisions are recorded.

`review_sheet` keeps every column of `features.matching.review_queue` (others read them) and
adds: mention_key, context, candidate_names, candidate_regions, decision (empty, to fill with a
candidate's credit code or `none`). `review_candidates` is one row per mention and candidate
firm with what a reviewer compares: registered and former names, region, industry,
established date, and the match score in its parts.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from core.run_layout import MATCH_REVIEW
from features.match_config import LINKED_METHODS, MatchingConfig
from features.match_decisions import NO_FIRM, Decision, mention_context, mention_keys
from features.match_registry import Registry
from features.matching import compare_candidates, review_queue
from features.safe_cells import safe_frame
from features.schemas import credit_code_is_valid
from features.sources import SourceData, string_isin

SHEET_COLUMNS: Final = (
    "mention_key",
    "context",
    "candidate_names",
    "candidate_regions",
    "counterpart_region",
    "decision",
)
# A supply relation names two firms: the other side of a pending supplier or customer mention.
COUNTERPARTS: Final = {
    ("supply_chain", "supplier_name"): ("customer_name", "customer_credit_code"),
    ("supply_chain", "customer_name"): ("supplier_name", "supplier_credit_code"),
}
HEADER_FONT: Final = Font(bold=True)
CANDIDATE_COLUMNS: Final = (
    "mention_key",
    "rank",
    "credit_code",
    "name",
    "former_names",
    "region_code",
    "industry_code",
    "established_on",
    "matched_name",
    "probability",
    "score",
    "core_similarity",
    "trade_similarity",
    "region",
    "industry_mismatch",
    "form_mismatch",
    "support",
)
REGION_WORDS: Final = {2: "同市", 1: "同省", -1: "冲突", 0: "无从比较"}
# Per kind of pending supply mention: its positions in the queue, and its counterparts' codes.
Counterparts = list[tuple[np.ndarray, np.ndarray]]


def _firm_table(data: SourceData, codes: Collection[str] | None = None) -> pd.DataFrame:
    """Per credit code: name, region, industry, established date and former names. `codes`:
    only the firms of these codes (and any without a code), the few a review needs rather
    than every firm (issue 25); None: every firm."""
    firms = data.get("firms")
    if firms is None:
        return pd.DataFrame(columns=["name", "region_code", "industry_code", "established_on"])
    if codes is not None:
        code = firms["credit_code"]
        firms = firms[string_isin(code, list(codes)) | code.isna().to_numpy()]
    table = firms.drop_duplicates("credit_code").set_index("credit_code")
    for column in ("name", "region_code", "industry_code", "established_on"):
        if column not in table.columns:
            table[column] = pd.NA
    table = table[["name", "region_code", "industry_code", "established_on"]].copy()
    established = table["established_on"]
    if pd.api.types.is_datetime64_any_dtype(established.dtype):
        table["established_on"] = established.dt.strftime("%Y-%m-%d")
    history = data.get("name_history")
    if history is not None and len(history):
        if codes is not None:
            known = [c for c in table.index if isinstance(c, str)]
            history = history[string_isin(history["credit_code"], known)]
        table["former_names"] = _former_names(history).reindex(table.index).fillna("")
    else:
        table["former_names"] = ""
    return table


def _former_names(history: pd.DataFrame) -> pd.Series:
    """Per credit code of `name_history`: its former names "|"-joined in file order."""
    codes = history["credit_code"].astype("str")
    names = history["former_name"].astype("str")
    present = codes.notna().to_numpy() & names.notna().to_numpy()
    position, distinct = pd.factorize(codes[present])
    order = np.argsort(position, kind="stable")
    values = names[present].to_numpy(dtype=object)[order]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(position, minlength=len(distinct)))])
    joined = ["|".join(values[a:b]) for a, b in itertools.pairwise(bounds)]
    return pd.Series(joined, index=pd.Index(distinct), dtype="str")


def review_sheet(
    links: pd.DataFrame, data: SourceData, firms: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The review queue with what a person needs to decide it offline (`SHEET_COLUMNS`).
    `firms`: `_firm_table(data)`, when the caller already has it."""
    sheet, _ = _sheet_and_firms(review_queue(links), links, data, firms)
    return sheet


def _sheet_and_firms(
    queue: pd.DataFrame, links: pd.DataFrame, data: SourceData, firms: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`review_sheet` of `queue` (`review_queue(links)`), and the firm table it used: `firms`,
    else the firms the queue names (its candidates and counterparts)."""
    counterparts = _counterpart_codes(queue, links, data)
    if firms is None:
        firms = _firm_table(data, _codes_named(queue["candidate_codes"], counterparts))
    sheet = queue.copy()
    sheet["mention_key"] = mention_keys(data, queue).to_numpy() if len(queue) else []
    sheet["context"] = mention_context(data, queue).to_numpy() if len(queue) else []

    sheet["candidate_names"] = _per_candidate(queue["candidate_codes"], firms["name"])
    sheet["candidate_regions"] = _per_candidate(queue["candidate_codes"], firms["region_code"])
    sheet["counterpart_region"] = _regions_of(counterparts, firms, len(queue))
    sheet["decision"] = ""
    return sheet, firms


def _codes_named(candidate_codes: pd.Series, counterparts: Counterparts) -> set[str]:
    """Every credit code a review looks up: each candidate's, and each counterpart's."""
    named = {""}  # what `_per_candidate` looks up for a mention without candidates
    for text in candidate_codes.to_numpy(dtype=object):
        if isinstance(text, str):
            named.update(text.split("|"))
    for _, codes in counterparts:
        named.update(c for c in codes if isinstance(c, str))
    return named


def _counterpart_codes(queue: pd.DataFrame, links: pd.DataFrame, data: SourceData) -> Counterparts:
    """For the pending supplier and customer mentions of `queue`, the credit code of the firm
    on the other side of the relation: its linked firm, else the code the source gave."""
    if queue.empty:
        return []
    sources, columns = (
        queue["source"].to_numpy(dtype=object),
        queue["column"].to_numpy(dtype=object),
    )
    pending = {key: (sources == key[0]) & (columns == key[1]) for key in COUNTERPARTS}
    if not any(these.any() for these in pending.values()):
        return []
    # the links of the pending relations' rows first: a few of the millions (issue 25)
    rows_pending = queue["row"].to_numpy()[np.logical_or.reduce(list(pending.values()))]
    near = links.iloc[np.flatnonzero(links["row"].isin(rows_pending).to_numpy(dtype=bool))]
    use = near["method"].isin(LINKED_METHODS).to_numpy() & near["credit_code"].notna().to_numpy()
    linked = near.loc[use, ["source", "row", "column", "credit_code"]]
    found: Counterparts = []
    for (source, column), (name_column, code_column) in COUNTERPARTS.items():
        these = pending[(source, column)]
        if not these.any():
            continue
        rows = pd.Index(queue["row"].to_numpy()[these].astype(np.int64))
        other = linked[(linked["source"] == source) & (linked["column"] == name_column)]
        other = other.drop_duplicates("row")  # the first link of a mention, as a lookup finds
        code = pd.Series(
            other["credit_code"].to_numpy(dtype=object),
            index=pd.Index(other["row"].to_numpy().astype(np.int64)),
        ).reindex(rows)
        frame = data.get(source)
        if frame is not None and code_column in frame:
            given = frame[code_column]
            if not given.index.is_unique:
                given = given[~given.index.duplicated(keep=False)]  # one cell per row, or none
            code = code.where(code.notna(), given.reindex(rows).to_numpy(dtype=object))
        found.append((np.flatnonzero(these), code.to_numpy(dtype=object)))
    return found


def _regions_of(counterparts: Counterparts, firms: pd.DataFrame, size: int) -> list[str]:
    """Per row of a queue of `size` rows, the region of its counterpart's firm (""; none)."""
    regions = np.full(size, "", dtype=object)
    if not counterparts:
        return regions.tolist()
    region_of = firms["region_code"]
    region_of = region_of[~region_of.index.duplicated(keep=False)]
    for positions, codes in counterparts:
        is_code = np.fromiter((isinstance(c, str) for c in codes), dtype=bool, count=len(codes))
        looked_up = codes.copy()
        looked_up[~is_code] = None
        found = region_of.reindex(looked_up).to_numpy(dtype=object)
        regions[positions] = ["" if pd.isna(r) else str(r) for r in found]
    return regions.tolist()


def _per_candidate(codes: pd.Series, values: pd.Series) -> list[str]:
    """For each "A|B|…" list of candidate codes, their `values` joined the same way ("" for a
    firm without one); one lookup for the whole queue, not one per mention."""
    each = [c.split("|") if _is_text(c) else [""] for c in codes.to_numpy(dtype=object)]
    found = values.reindex(np.array(list(itertools.chain.from_iterable(each)), dtype=object))
    shown = iter(["" if pd.isna(v) else str(v) for v in found.to_numpy(dtype=object)])
    return ["|".join(itertools.islice(shown, len(codes_of))) for codes_of in each]


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def review_candidates(
    sheet: pd.DataFrame,
    links: pd.DataFrame,
    data: SourceData,
    config: MatchingConfig | None = None,
    registry: Registry | None = None,
    firms: pd.DataFrame | None = None,
    compared: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per pending mention and candidate firm (`CANDIDATE_COLUMNS`), best first.
    `registry` (`Registry.from_sources(data)`) and `firms` (`_firm_table(data)`): when the
    caller already has them; `compared`: the candidates `compare_candidates` gives, when they
    were compared elsewhere (features.match_partitions)."""
    if sheet.empty:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in CANDIDATE_COLUMNS})
    if compared is None:
        registry = Registry.from_sources(data) if registry is None else registry
        compared = compare_candidates(sheet, registry, config, named_only=True, all_links=links)
    named = sheet[["mention_key", "raw_name", "candidate_codes"]].dropna()
    named = named.assign(credit_code=named["candidate_codes"].str.split("|")).explode("credit_code")
    rows = named.merge(compared, on=["raw_name", "credit_code"], how="left")
    rows = rows.rename(columns={"name": "matched_name"})
    if firms is None:
        firms = _firm_table(data, {c for c in rows["credit_code"] if isinstance(c, str)})
    firms = firms.reindex(rows["credit_code"].to_numpy())
    for column in ("name", "former_names", "region_code", "industry_code", "established_on"):
        rows[column] = firms[column].to_numpy()
    status = np.select(
        [rows["region_city"] == 1, rows["region_province"] == 1, rows["region_conflict"] == 1],
        [2, 1, -1],
        default=0,
    )
    rows["region"] = [REGION_WORDS[int(v)] for v in status]
    rows = rows.sort_values(
        ["mention_key", "probability", "score"], ascending=[True, False, False], kind="stable"
    )
    rows["rank"] = rows.groupby("mention_key", sort=False).cumcount() + 1
    return rows[list(CANDIDATE_COLUMNS)].reset_index(drop=True)


def province_of_mention(
    candidate_regions: pd.Series, counterpart_regions: pd.Series | None = None
) -> pd.Series:
    """The province (2 digits) every candidate lies in, else NA: the ministry decides those —
    as it decides a supply relation whose other side lies in another province (the decision
    changes both provinces' chain features)."""

    def one(regions: object, counterpart: object) -> object:
        if not isinstance(regions, str) or not regions:
            return pd.NA
        provinces = {r[:2] for r in regions.split("|")}
        if isinstance(counterpart, str) and counterpart:
            provinces.add(counterpart[:2])
        if len(provinces) != 1:
            return pd.NA
        (province,) = provinces
        return province if len(province) == 2 and province.isdigit() else pd.NA

    others = (
        counterpart_regions
        if counterpart_regions is not None
        else pd.Series("", index=candidate_regions.index)
    )
    provinces = [one(r, c) for r, c in zip(candidate_regions, others, strict=True)]
    return pd.Series(provinces, index=candidate_regions.index, dtype="object").astype("str")


def sheet_province(sheet: pd.DataFrame) -> pd.Series:
    """The province that decides each row of a review sheet (NA: the ministry)."""
    counterpart = sheet.get("counterpart_region")
    return province_of_mention(sheet["candidate_regions"], counterpart)


def write_review_xlsx(safe: pd.DataFrame, path: Path) -> None:
    """The review sheet as Excel, with the `decision` column to fill in; its cells already made
    safe (features.safe_cells.safe_frame), as for the CSV beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # write-only: rows streamed to the file, not a workbook of cell objects in memory (issue 25)
    book = Workbook(write_only=True)
    out = book.create_sheet("match_review")
    header = [WriteOnlyCell(out, value=str(name)) for name in safe.columns]
    for cell in header:
        cell.font = HEADER_FONT
    out.append(header)
    values = [safe[name].astype(object).where(safe[name].notna(), None).tolist() for name in safe]
    for row in zip(*values, strict=True):
        out.append(row)
    book.save(path)


@dataclass(frozen=True)
class ReviewTables:
    """What the review files show: the sheet (`review_sheet`) and its candidates
    (`review_candidates`)."""

    sheet: pd.DataFrame
    candidates: pd.DataFrame


def review_tables(
    links: pd.DataFrame,
    data: SourceData,
    registry: Registry | None = None,
    compared: pd.DataFrame | None = None,
) -> ReviewTables:
    """The sheet and its candidates for the pending mentions of `links`. `registry`:
    `Registry.from_sources(data)`, when the caller already has it (`link_mentions` built it);
    `compared`: as `review_candidates` takes it."""
    sheet, firms = _sheet_and_firms(review_queue(links), links, data, None)
    candidates = review_candidates(
        sheet, links, data, registry=registry, firms=firms, compared=compared
    )
    return ReviewTables(sheet, candidates)


def write_review_tables(review: ReviewTables, folder: Path, stem: str = MATCH_REVIEW) -> None:
    """Write `<stem>.csv` and `.xlsx` (the sheet), `<stem>_candidates.csv`, and a sheet per
    province beside the national one (the rows that province decides)."""
    folder.mkdir(parents=True, exist_ok=True)
    sheet = review.sheet
    # with a BOM like the lists (Excel reads the Chinese right), every text cell made safe
    safe = safe_frame(sheet)
    safe.to_csv(folder / f"{stem}.csv", index=False, encoding="utf-8-sig")
    write_review_xlsx(safe, folder / f"{stem}.xlsx")
    safe_frame(review.candidates).to_csv(
        folder / f"{stem}_candidates.csv", index=False, encoding="utf-8-sig"
    )
    provinces = sheet_province(sheet) if len(sheet) else pd.Series(dtype="str")
    for province in sorted(p for p in set(provinces.dropna()) if p != "<NA>"):
        own = safe[(provinces == province).to_numpy()]
        target = folder / MATCH_REVIEW  # match_review/<province>.csv/.xlsx beside the national
        target.mkdir(exist_ok=True)
        own.to_csv(target / f"{province}.csv", index=False, encoding="utf-8-sig")
        write_review_xlsx(own, target / f"{province}.xlsx")


def write_review_files(
    links: pd.DataFrame,
    data: SourceData,
    folder: Path,
    stem: str = MATCH_REVIEW,
    registry: Registry | None = None,
) -> pd.DataFrame:
    """`review_tables` written by `write_review_tables`; returns the sheet."""
    review = review_tables(links, data, registry)
    write_review_tables(review, folder, stem)
    return review.sheet


# ---------------------------------------------------------------------------------------------
# Importing a filled sheet


@dataclass(frozen=True)
class ImportResult:
    """Decisions to record, and the refused rows of the file (row = 0-based data row)."""

    decisions: list[Decision]
    refused: pd.DataFrame  # row, mention_key, decision, reason
    blank: int  # rows left without a decision


def read_filled_sheet(path: Path) -> pd.DataFrame:
    """A filled review sheet (.csv or .xlsx), every value as text."""
    if path.suffix.lower() == ".xlsx":
        frame = pd.read_excel(path, dtype=str, keep_default_na=False)
    else:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = {"mention_key", "decision", "raw_name"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path}: not a review sheet, missing column(s) {', '.join(sorted(missing))}"
        )
    return frame


def check_filled_sheet(
    filled: pd.DataFrame,
    pending: pd.DataFrame,
    decided: pd.DataFrame,
    decided_by: str,
    note: str = "",
) -> ImportResult:
    """Check each filled row against the pending queue (`review_sheet` of the latest run) and
    the decisions already recorded. A row is refused, with its reason, when its decision is not
    `none` or one of its candidates' codes (unknown code), or when it is stale: the mention is
    not pending any more (decided since, or the data changed) or its name differs.
    """
    by_key = pending.drop_duplicates("mention_key").set_index("mention_key")
    already = decided.drop_duplicates("mention_key", keep="last").set_index("mention_key")
    answers = filled["decision"].astype(str).str.strip()
    keys = filled["mention_key"].astype(str).str.strip()
    filled_in = answers.ne("")
    answers_per_key = answers[filled_in].str.upper().groupby(keys[filled_in]).nunique()
    conflicting = set(answers_per_key[answers_per_key > 1].index)
    decisions: list[Decision] = []
    refused: list[dict[str, object]] = []
    blank = 0
    for row, (key, answer) in enumerate(zip(keys, answers, strict=True)):
        if not answer:
            blank += 1
            continue
        code = answer.upper() if answer.lower() != NO_FIRM else NO_FIRM

        def refuse(reason: str, key: str = key, answer: str = answer, row: int = row) -> None:
            refused.append({"row": row, "mention_key": key, "decision": answer, "reason": reason})

        if key in conflicting:
            refuse("conflicting decisions for the same mention in this file")
        elif key in already.index:
            earlier = already.loc[key]
            refuse(
                f"stale: already decided ({earlier['credit_code']}) by {earlier['decided_by']} "
                f"at {earlier['decided_at']}"
            )
        elif key not in by_key.index:
            refuse("stale: the mention is not in the current review queue (data changed or linked)")
        elif str(filled["raw_name"].iloc[row]).strip() != str(by_key.loc[key, "raw_name"]).strip():
            refuse("stale: the name differs from the current review queue")
        elif code != NO_FIRM and not bool(
            credit_code_is_valid(pd.Series([code], dtype="str")).iloc[0]
        ):
            refuse(f"unknown code: {answer} is not a valid credit code (write a code or `none`)")
        elif code != NO_FIRM and code not in str(by_key.loc[key, "candidate_codes"]).split("|"):
            refuse(f"unknown code: {code} is not one of this mention's candidates")
        else:
            pending_row = by_key.loc[key]
            decisions.append(
                Decision(
                    mention_key=key,
                    source=str(pending_row["source"]),
                    column=str(pending_row["column"]),
                    raw_name=str(pending_row["raw_name"]),
                    credit_code=code,
                    decided_by=decided_by,
                    note=note,
                    channel="import",
                )
            )
    # a mention filled twice with the same answer is recorded once
    unique = list({d.mention_key: d for d in decisions}.values())
    frame = pd.DataFrame(refused, columns=["row", "mention_key", "decision", "reason"])
    return ImportResult(decisions=unique, refused=frame, blank=blank)
