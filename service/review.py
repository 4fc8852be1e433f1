"""The match review page (issue 14): pending mentions of the latest run, candidates side by
side, confirm or "none of these". Decisions go to the decisions store (features.match_decisions)
and the audit log; the next run applies them before any automatic matching stage.

Who sees what (Articles 7-8 属地原则): a province official sees the mentions whose candidates
all lie in their province; a mention whose candidates span provinces (or have no region) is the
ministry's. Anything else answers 404, as elsewhere in the service.

Decision lifecycle (issue 28): each decision records the token id, role, province and the run
whose queue it answers. A decision that links a mention to a firm is recorded only after a
second, confirming post (`confirm=1`, enforced here, not in the browser). Decisions in force
that the user may change (the ministry: all; a province: its own) are listed with who decided
and when, and can be undone (the mention returns to the queue) or superseded. The audit line
is written inside the store's transaction, first: if it cannot be written nothing is recorded
(503). A decision the store refuses (already decided by someone else, not allowed to change)
answers 409 with one line — a notice on the review page, or JSON `detail` for a client that
asks for JSON; an unusable store answers 503.
"""

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from core.run_layout import MATCH_REVIEW_CANDIDATES, MATCH_REVIEW_CSV
from features.match_decisions import (
    NO_FIRM,
    Decision,
    DecisionConflict,
    DecisionStore,
    DecisionStoreError,
    acting_for,
    audit_entry,
    may_change,
)
from features.match_review import sheet_province
from models.labels import (
    MENTION_COLUMN_LABELS,
    MENTION_SOURCE_LABELS,
    context_text,
    label,
    with_code,
)
from service.audit import AUDIT_STATE_KEY, AuditLog, AuditLogError
from service.run_store import RunStore
from service.tokens import Principal

PAGE_SIZE = 20
DECIDED_SHOWN = 100  # decisions in force listed for undo, newest first
MentionKey = Annotated[
    str, PathParam(pattern=r"^[a-z_]{2,32}:[0-9a-f]{24}$", description="mention key")
]
ALREADY_DECIDED = "该记录已有复核结论（可能刚由他人作出），本次结论未记录；如需更改，请撤销或改选。"
CHANGED_MEANWHILE = "该结论已被撤销或更改，或您无权更改（仅部级或作出结论的省份可以），本次未记录。"
NOT_YOURS = "仅部级或作出该结论的省份可以撤销或更改此结论。"
STORE_DOWN = "复核库暂时无法读写，本次未记录，请稍后重试。"
AUDIT_DOWN = "审计日志无法写入，本次未记录。"
DONE = {
    "decided": "已记录复核结论，该记录已移出待复核队列。",
    "undone": "已撤销该结论，该记录重新进入待复核队列。",
    "superseded": "已改为新的复核结论。",
}
EMPTY_QUEUE = pd.DataFrame(columns=["mention_key", "province", "candidate_codes"])


class Refused(Exception):
    """A decision, undo or supersession not recorded: the status and one line to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_PARSED: OrderedDict[tuple[Callable[[Path], Any], str, int, int], Any] = OrderedDict()
_PARSED_LOCK = threading.Lock()  # guards _PARSED
_PARSING = threading.Lock()  # one parse at a time: 50 first views parse a queue once, not 50x
_PARSED_FILES = 4  # a published run's files never change: a few parsed ones are kept
T = TypeVar("T")


def _file_version(path: Path) -> tuple[str, int, int]:
    """Which version of a file this is: path, modification time and size."""
    stat = path.stat()
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _parsed(path: Path, read: Callable[[Path], T]) -> T:
    """`read(path)`, parsed once per file version (path, modification time, size) rather than
    on every page view (a 50,000-mention queue takes about a second to parse and group)."""
    key = (read, *_file_version(path))
    with _PARSED_LOCK:
        if key in _PARSED:
            _PARSED.move_to_end(key)
            return cast(T, _PARSED[key])
    with _PARSING:
        with _PARSED_LOCK:  # parsed by another thread while this one waited
            if key in _PARSED:
                return cast(T, _PARSED[key])
        parsed = read(path)
        with _PARSED_LOCK:
            _PARSED[key] = parsed
            while len(_PARSED) > _PARSED_FILES:
                _PARSED.popitem(last=False)
    return parsed


def _read_queue(path: Path) -> pd.DataFrame:
    queue = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "mention_key" not in queue.columns:  # a run from before issue 14
        return EMPTY_QUEUE.copy()
    queue["province"] = sheet_province(queue).fillna("").to_numpy()  # as the import scopes it
    return queue.reset_index(drop=True)


def _queue_file(runs: RunStore) -> tuple[str | None, Path | None]:
    """The latest run and its review queue file (None when it has none)."""
    run_id = runs.latest_id()
    folder = runs.resolve(run_id) if run_id else None
    path = folder / MATCH_REVIEW_CSV if folder else None
    return run_id, path if path is not None and path.is_file() else None


def _queue(runs: RunStore) -> tuple[str | None, pd.DataFrame]:
    """The latest run's whole review queue (decided mentions included), with their province."""
    run_id, path = _queue_file(runs)
    if path is None:
        return run_id, EMPTY_QUEUE.copy()
    return run_id, _parsed(path, _read_queue)


PAGES_KEPT = 256  # pages (role, scope, number) kept per version of the queue and decisions


@dataclass(frozen=True)
class _Page:
    """One page of the queue as every user of one scope sees it: the keys of the mentions and
    decisions shown (for the audit line) and their HTML, review_rows.html rendered once
    (issue 28: rendering was nine tenths of a page view). Nothing of the user in it."""

    mentions: tuple[str, ...]
    decided: tuple[str, ...]
    html: str


class _Review:
    """What the page derives from one version of the queue file and one version of the
    decisions store: the pending mentions (queue less decided), the decisions in force, and —
    filled on first use — the part of each that one scope (the ministry, a province) sees."""

    def __init__(self, run_id: str | None, queue: pd.DataFrame, decided: pd.DataFrame) -> None:
        self.run_id = run_id
        self.decided = decided
        pending = ~queue["mention_key"].isin(decided["mention_key"])
        self.pending = queue[pending.to_numpy()].reset_index(drop=True)
        self._visible: dict[str, pd.DataFrame] = {}
        self._changeable: dict[str | None, pd.DataFrame] = {}
        self._pages: OrderedDict[tuple[str, str, int], _Page] = OrderedDict()
        self._pages_lock = threading.Lock()

    def page(self, user: Principal, number: int, build: Callable[[], _Page]) -> _Page:
        """One page as `build` makes it, once per role, scope and page of this version (the
        most recent PAGES_KEPT kept): shared by the users of that scope, never across scopes."""
        key = (user.role, _scope(user), number)
        with self._pages_lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
                return found
        made = build()
        with self._pages_lock:
            self._pages[key] = made
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        return made

    def visible(self, user: Principal) -> pd.DataFrame:
        scope = _scope(user)
        found = self._visible.get(scope)
        if found is None:
            found = self._visible[scope] = _visible(self.pending, user)
        return found

    def changeable(self, user: Principal) -> pd.DataFrame:
        scope = "*" if user.role == "ministry" else user.province
        found = self._changeable.get(scope)
        if found is None:
            found = self._changeable[scope] = _changeable(self.decided, user)
        return found


class _ReviewCache:
    """The `_Review` of the latest run, kept while neither the queue file nor the decisions
    change: key (run, queue file version, `DecisionStore.version()`). The decisions' version
    is read first, so a decision recorded meanwhile (here or by another process) can only make
    the next key differ — what is kept is never older than its key says."""

    def __init__(self, runs: RunStore, store: DecisionStore, keep: int = 2) -> None:
        self.runs = runs
        self.store = store
        self.keep = keep
        self._kept: OrderedDict[tuple[object, ...], _Review] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()

    def get(self) -> _Review:
        decisions = self.store.version()
        run_id, path = _queue_file(self.runs)
        queue_version = _file_version(path) if path is not None else None
        key = (run_id, queue_version, str(self.store.path), decisions)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        with self._building:  # many views after a decision: derived once
            with self._lock:
                if key in self._kept:
                    return self._kept[key]
            queue = EMPTY_QUEUE if path is None else _parsed(path, _read_queue)
            review = _Review(run_id, queue, self.store.current())
            with self._lock:
                self._kept[key] = review
                while len(self._kept) > self.keep:
                    self._kept.popitem(last=False)
        return review


class _Candidates:
    """A run's candidates file, with the rows of each mention found without a scan."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        keys = frame["mention_key"] if "mention_key" in frame.columns else pd.Series(dtype=str)
        codes, distinct = pd.factorize(keys, use_na_sentinel=False)
        # the rows mention by mention (file order kept within one), and each mention's span
        self._order = np.argsort(codes, kind="stable")
        ends = np.cumsum(np.bincount(codes, minlength=len(distinct))).tolist()
        starts = [0, *ends][:-1]
        self._spans = {str(k): (a, b) for k, a, b in zip(distinct, starts, ends, strict=True)}

    def of(self, mention_keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The candidate rows of each of these mentions that has any, in file order: one
        take from the frame for them all (a take per column costs the same for 1 row or 60)."""
        spans = [self._spans[key] for key in dict.fromkeys(mention_keys) if key in self._spans]
        if not spans:
            return {}
        rows = self.frame.iloc[np.concatenate([self._order[a:b] for a, b in spans])]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in _records(rows):
            grouped.setdefault(str(row["mention_key"]), []).append(row)
        return grouped


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """`frame.to_dict(orient="records")`, the same values, in a fifth of the time (a column
    at a time rather than a cell at a time: it runs on every page view)."""
    names = [str(column) for column in frame.columns]
    columns = [frame[column].tolist() for column in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


NO_CANDIDATES = _Candidates(pd.DataFrame(columns=["mention_key", "credit_code", "name"]))


def _candidates(runs: RunStore, run_id: str | None) -> _Candidates:
    folder = runs.resolve(run_id) if run_id else None
    path = folder / MATCH_REVIEW_CANDIDATES if folder else None
    if path is None or not path.is_file():
        return NO_CANDIDATES
    return _parsed(path, _read_candidates)


def _read_candidates(path: Path) -> _Candidates:
    frame = pd.read_csv(
        path,
        dtype={"credit_code": str, "region_code": str},
        keep_default_na=False,
        encoding="utf-8-sig",
    )
    return _Candidates(_one_chunk(frame))


def _one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each Arrow-backed column in one chunk: the CSV reader leaves several,
    and taking rows from a chunked column costs about ten times more, on every page view."""
    for column in frame.columns:
        values = frame[column].array
        if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
            continue
        chunked = values.__arrow_array__()  # the column's own Arrow data, not a copy
        if isinstance(chunked, pa.ChunkedArray) and chunked.num_chunks > 1:
            combined = pd.array(chunked.combine_chunks(), dtype=values.dtype)
            frame[column] = pd.Series(combined, index=frame.index, name=column)
    return frame


def _visible(queue: pd.DataFrame, user: Principal) -> pd.DataFrame:
    if user.role == "ministry":
        return queue
    return queue[queue["province"] == (user.province or "-")]


def _scope(user: Principal) -> str:
    return "" if user.role == "ministry" else (user.province or "-")


def _changeable(decided: pd.DataFrame, user: Principal) -> pd.DataFrame:
    """The decisions in force this user may undo or supersede (the ministry: all)."""
    if user.role == "ministry":
        return decided
    pairs = zip(decided["role"], decided["province"], strict=True)
    mine = [acting_for(role, province) == user.province for role, province in pairs]
    return decided[pd.Series(mine, index=decided.index, dtype=bool)]


def _same_origin(request: Request) -> bool:
    """A form post from this site only (CSRF): Sec-Fetch-Site, else Origin, must say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.headers.get("host")


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _firm_name(rows: list[dict[str, Any]] | None, code: str) -> str:
    """The name of candidate `code` among one mention's candidate rows ("" if not there)."""
    found = [row for row in rows or () if row.get("credit_code") == code]
    return str(found[0].get("name", "")) if found else ""


def nearby_pages(page: int, pages: int, span: int = 3) -> list[int | None]:
    """The page numbers the pager shows: the first, the last and those within `span` of this
    one, None where it skips some (a ministry queue of 50,000 mentions has 2,500 pages)."""
    shown = sorted({1, pages, *range(max(1, page - span), min(pages, page + span) + 1)})
    links: list[int | None] = []
    for number in shown:
        if links and number - (links[-1] or 0) > 1:
            links.append(None)
        links.append(number)
    return links


def mention_fields(
    mention_key: str, mention: Mapping[str, Any] | pd.Series, credit_code: str, note: str
) -> dict[str, str]:
    """What a decision records of its mention (a queue row or the decision in force)."""
    return {
        "mention_key": mention_key,
        "source": str(mention["source"]),
        "column": str(mention["column"]),
        "raw_name": str(mention["raw_name"]),
        "credit_code": credit_code,
        "note": note.strip(),
    }


def review_router(
    runs: RunStore,
    store: DecisionStore,
    audit: AuditLog,
    page_principal: Callable[..., Principal | Awaitable[Principal]],
    templates: Jinja2Templates,
) -> APIRouter:
    """Pages `/review` (the queue and the decisions in force), `POST /review/{mention_key}`
    (a decision), `POST /review/{mention_key}/undo` and `POST /review/{mention_key}/supersede`."""
    router = APIRouter(tags=["pages"])
    reviews = _ReviewCache(runs, store)
    PageUser = Annotated[Principal, Depends(page_principal)]

    def render_page(
        request: Request, user: Principal, number: int, notice: str = "", status: int = 200
    ) -> HTMLResponse:
        review = reviews.get()
        run_id = review.run_id
        visible = review.visible(user)
        pages = max(1, -(-len(visible) // PAGE_SIZE))
        number = min(max(number, 1), pages)
        changeable = review.changeable(user)

        def rendered_page() -> _Page:
            shown = visible.iloc[(number - 1) * PAGE_SIZE : number * PAGE_SIZE]
            recent = changeable.iloc[::-1].head(DECIDED_SHOWN)
            # only the mentions shown (a page of 20 and the latest decisions) are grouped
            by_key = _candidates(runs, run_id).of([*shown["mention_key"], *recent["mention_key"]])
            mentions: list[dict[str, Any]] = []
            for row in _records(shown):
                rows = by_key.get(row["mention_key"])
                row["candidates"] = rows or []
                row["source_label"] = label(MENTION_SOURCE_LABELS, row["source"])
                row["context_text"] = context_text(row.get("context"))
                row["column_label"] = with_code(
                    label(MENTION_COLUMN_LABELS, row["column"]), row["column"]
                )
                mentions.append(row)
            decided: list[dict[str, Any]] = []
            for row in _records(recent):
                rows = by_key.get(row["mention_key"])
                row["source_label"] = label(MENTION_SOURCE_LABELS, row["source"])
                row["firm_name"] = _firm_name(rows, row["credit_code"])
                row["alternatives"] = [
                    c for c in rows or () if c["credit_code"] != row["credit_code"]
                ]
                decided.append(row)
            context = {
                "role": user.role,
                "run_id": run_id,
                "mentions": mentions,
                "total": len(visible),
                "page": number,
                "pages": pages,
                "page_links": nearby_pages(number, pages),
                "decided": decided,
                "decided_total": len(changeable),
            }
            return _Page(
                mentions=tuple(m["mention_key"] for m in mentions),
                decided=tuple(d["mention_key"] for d in decided),
                html=templates.get_template("review_rows.html").render(context),
            )

        page = review.page(user, number, rendered_page)
        audit.append(
            {
                "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "who": user.audit(),
                "method": "GET",
                "path": str(request.url.path),
                "event": "match_review_page",
                "run_id": run_id,
                "mentions": page.mentions,
                "decided": page.decided,
                "status": status,
            }
        )
        context = {"user": user, "rows": page.html, "notice": notice, "refused": status >= 400}
        return templates.TemplateResponse(request, "review.html", context, status_code=status)

    def refusal(request: Request, user: Principal, refused: Refused) -> Response:
        """409: the review page with the notice (JSON `detail` if asked); else one line."""
        if _wants_json(request):
            return JSONResponse({"detail": refused.message}, status_code=refused.status)
        if refused.status == 409:
            try:
                return render_page(request, user, 1, refused.message, refused.status)
            except (DecisionStoreError, AuditLogError):
                pass
        context = {"status": refused.status, "messages": [refused.message]}
        return templates.TemplateResponse(
            request, "error.html", context, status_code=refused.status
        )

    def record(request: Request, decisions: list[Decision], user: Principal) -> None:
        """Record with the audit line first, inside the store's transaction (fail closed)."""
        where = str(request.url.path)

        def write(stamped: list[Decision]) -> None:
            for decision in stamped:
                audit.append(audit_entry(decision, user.audit(), where))

        try:
            store.record(decisions, before_commit=write)
        except DecisionConflict:
            action = decisions[0].action
            raise Refused(
                409, ALREADY_DECIDED if action == "decide" else CHANGED_MEANWHILE
            ) from None
        except DecisionStoreError:
            raise Refused(503, STORE_DOWN) from None
        except AuditLogError:
            raise Refused(503, AUDIT_DOWN) from None

    def in_force_of(mention_key: str) -> dict[str, str] | None:
        try:
            return store.in_force(mention_key)
        except DecisionStoreError:
            raise Refused(503, STORE_DOWN) from None

    def decider(user: Principal, run_id: str | None, **fields: Any) -> Decision:
        return Decision(
            decided_by=user.name,
            channel="service",
            decider_id=user.token_id,
            role=user.role,
            province=user.province or "",
            run_id=run_id or "",
            **fields,
        )

    def confirm_page(
        request: Request,
        user: Principal,
        row: pd.Series,
        action: str,
        choice: str,
        note: str,
        run_id: str | None,
    ) -> HTMLResponse:
        key = str(row["mention_key"])
        name = _firm_name(_candidates(runs, run_id).of([key]).get(key), choice)
        context = {
            "user": user,
            "mention": row.to_dict(),
            "action": action,
            "code": choice,
            "firm_name": name,
            "note": note,
        }
        return templates.TemplateResponse(request, "review_confirm.html", context)

    def mention_row(
        request: Request, user: Principal, mention_key: str
    ) -> tuple[str | None, pd.Series]:
        run_id, queue = _queue(runs)
        mine = _visible(queue, user)
        found = mine[mine["mention_key"] == mention_key]
        if found.empty:
            raise HTTPException(404, "未找到")
        row = found.iloc[0]
        getattr(request.state, AUDIT_STATE_KEY, {})["province"] = row["province"] or None
        return run_id, row

    def choice_of(row: pd.Series, decision: str) -> str:
        candidates = str(row["candidate_codes"]).split("|")
        choice = decision.strip().upper() if decision.strip().lower() != NO_FIRM else NO_FIRM
        if choice != NO_FIRM and choice not in candidates:
            raise HTTPException(422, "所选企业不在候选之列")
        return choice

    @router.get(
        "/review",
        summary="企业名称匹配复核：待确认的提及与候选企业，以及可撤销的结论",
        response_class=HTMLResponse,
    )
    def review_page(request: Request, user: PageUser, page: int = 1, done: str = "") -> Response:
        try:
            return render_page(request, user, page, DONE.get(done, ""))
        except DecisionStoreError:
            return refusal(request, user, Refused(503, STORE_DOWN))

    @router.post(
        "/review/{mention_key}",
        summary="记录一条复核结论：确认某一候选企业（须再次确认），或均不是",
        response_class=HTMLResponse,
        responses={
            303: {"description": "已记录，回到复核页"},
            409: {"description": "该记录已有结论，未记录"},
            503: {"description": "复核库或审计日志不可用，未记录"},
        },
    )
    def decide(
        request: Request,
        mention_key: MentionKey,
        user: PageUser,
        decision: Annotated[str, Form(max_length=20, description="候选企业信用代码或 none")],
        note: Annotated[str, Form(max_length=500, description="备注（可空）")] = "",
        confirm: Annotated[str, Form(max_length=1, description="1：确认关联企业")] = "",
    ) -> Response:
        if not _same_origin(request):
            raise HTTPException(403, "跨站请求被拒绝")
        run_id, row = mention_row(request, user, mention_key)
        choice = choice_of(row, decision)
        try:
            if in_force_of(mention_key) is not None:
                raise Refused(409, ALREADY_DECIDED)
            if choice != NO_FIRM and confirm != "1":
                return confirm_page(request, user, row, "decide", choice, note.strip(), run_id)
            fields = mention_fields(mention_key, row, choice, note)
            record(request, [decider(user, run_id, **fields)], user)
        except Refused as refused:
            return refusal(request, user, refused)
        return RedirectResponse("/review?done=decided", status_code=303)

    def changeable(user: Principal, mention_key: str, queue: pd.DataFrame) -> dict[str, str]:
        """The decision in force, if this user may see it (404 otherwise) and change it (403)."""
        in_force = in_force_of(mention_key)
        if in_force is None:
            raise HTTPException(404, "未找到")
        probe = decider(user, None, mention_key=mention_key, source="", column="", raw_name="",
                        credit_code="", action="undo")  # fmt: skip
        if may_change(probe, in_force):
            return in_force
        owner = acting_for(in_force["role"], in_force["province"])
        in_queue = _visible(queue, user)["mention_key"].eq(mention_key).any()
        if owner == _scope(user) or in_queue:  # the user's own scope: say why
            raise HTTPException(403, NOT_YOURS)
        raise HTTPException(404, "未找到")  # another province's: not revealed

    @router.post(
        "/review/{mention_key}/undo",
        summary="撤销一条复核结论（部级或作出结论的省份），该记录重新进入待复核队列",
        response_class=HTMLResponse,
        responses={
            303: {"description": "已撤销，回到复核页"},
            409: {"description": "该结论已被撤销或更改，未记录"},
            503: {"description": "复核库或审计日志不可用，未记录"},
        },
    )
    def undo(
        request: Request,
        mention_key: MentionKey,
        user: PageUser,
        note: Annotated[str, Form(max_length=500, description="备注（可空）")] = "",
    ) -> Response:
        if not _same_origin(request):
            raise HTTPException(403, "跨站请求被拒绝")
        run_id, queue = _queue(runs)
        try:
            in_force = changeable(user, mention_key, queue)
            getattr(request.state, AUDIT_STATE_KEY, {})["province"] = in_force["province"] or None
            fields = mention_fields(mention_key, in_force, "", note)
            record(request, [decider(user, run_id, **fields, action="undo")], user)
        except Refused as refused:
            return refusal(request, user, refused)
        return RedirectResponse("/review?done=undone", status_code=303)

    @router.post(
        "/review/{mention_key}/supersede",
        summary="改选一条复核结论（部级或作出结论的省份）：关联企业须再次确认",
        response_class=HTMLResponse,
        responses={
            303: {"description": "已改选，回到复核页"},
            409: {"description": "该结论已被撤销或更改，未记录"},
            503: {"description": "复核库或审计日志不可用，未记录"},
        },
    )
    def supersede(
        request: Request,
        mention_key: MentionKey,
        user: PageUser,
        decision: Annotated[str, Form(max_length=20, description="候选企业信用代码或 none")],
        note: Annotated[str, Form(max_length=500, description="备注（可空）")] = "",
        confirm: Annotated[str, Form(max_length=1, description="1：确认关联企业")] = "",
    ) -> Response:
        if not _same_origin(request):
            raise HTTPException(403, "跨站请求被拒绝")
        run_id, queue = _queue(runs)
        try:
            in_force = changeable(user, mention_key, queue)
            found = queue[queue["mention_key"] == mention_key]
            if found.empty:  # no candidates in the latest run to choose from: undo instead
                raise HTTPException(404, "未找到")
            row = found.iloc[0]
            getattr(request.state, AUDIT_STATE_KEY, {})["province"] = row["province"] or None
            choice = choice_of(row, decision)
            if choice == in_force["credit_code"]:
                raise HTTPException(422, "新结论与现有结论相同")
            if choice != NO_FIRM and confirm != "1":
                return confirm_page(request, user, row, "supersede", choice, note.strip(), run_id)
            fields = mention_fields(mention_key, row, choice, note)
            record(request, [decider(user, run_id, **fields, action="supersede")], user)
        except Refused as refused:
            return refusal(request, user, refused)
        return RedirectResponse("/review?done=superseded", status_code=303)

    return router
