"""The officials' service under load: 20 published runs of a national-scale data set, 50 clients.

Publishes the same discovery run under 20 run ids (hard links: the files are the same), starts
the service (`service.app.create_app` under uvicorn, its own process) and drives it with 50
concurrent clients for 60 s over the run listing, province lists, searches, firm pages,
downloads and the match review page, with ministry and province tokens (the API with a Bearer
token; the review page in a browser session opened by the login form), across the latest and
older runs. Prints p50 / p95 / p99 latency and errors per endpoint, and the server's peak
resident memory.

The review queue of the run served holds `--pending` mentions (issue 28: 50,000), none decided
yet: the published ones and, when the run has fewer, synthetic ones made from the run's own
registry rows (`with_pending`) in the bench's copy of the run; the published run is not
changed.

    python -m bench.bench_service                      # a 1M-firm run (made by bench_discovery)
    python -m bench.bench_service --source RUN_DIR     # any published run directory
    python -m bench.bench_service --firms 20000 --seconds 20

Target (issues 13, 28): 0 errors, p95 under 300 ms on every endpoint (the review page too),
server peak RSS under 1.5 GiB.

The clients are aiohttp, not httpx: on this 2-core machine the load generator shares the CPU
with the server, and httpx spent more CPU per request than the service itself (a trivial
endpoint served 330 requests/s to httpx clients, 670 to aiohttp ones).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from core.run_layout import MATCH_REVIEW, MATCH_REVIEW_CANDIDATES, MATCH_REVIEW_CSV
from features.match_review import sheet_province
from features.safe_cells import safe_cell

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
HOME_RUNS = OUT / "home" / "runs"  # bench_discovery's runs (ZJTX_HOME=bench/out/home)
PENDING = 50_000  # mentions in the review queue of the run served (issue 28)
RUNS = 20
CLIENTS = 50
SECONDS = 60.0
LATEST_SHARE = 0.7  # most officials read this week's run; the rest browse older ones
MIX = [
    ("runs", 0.15),
    ("list", 0.25),
    ("search", 0.20),
    ("firm", 0.30),
    ("download", 0.10),
    ("review", 0.10),  # the match review page, in a browser session, a few pages deep
]
REVIEW_PAGES = (1, 1, 1, 2, 3, 5)  # most officials work from the first page
SERVER = """
import sys, uvicorn
from pathlib import Path
from service.app import create_app
runs, tokens, audit, decisions = (Path(a) for a in sys.argv[1:5])
port = int(sys.argv[5])
app = create_app(runs, tokens, audit, secure_cookie=False, decisions_file=decisions)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


def source_run(firms: int, given: Path | None) -> Path:
    """A published run to copy: the given one, or the newest run of `firms` firms that
    bench_discovery published (`zjtx discover` with ZJTX_HOME=bench/out/home)."""
    if given is not None:
        return given.resolve()
    found = published_runs(HOME_RUNS, firms)
    if not found:
        print(f"no published {firms:,}-firm run yet: running bench_discovery once …", flush=True)
        subprocess.run(
            [sys.executable, "-m", "bench.bench_discovery", "--firms", str(firms)],
            cwd=ROOT,
            check=True,
        )
        found = published_runs(HOME_RUNS, firms)
    if not found:
        raise SystemExit(f"no published {firms:,}-firm run under {HOME_RUNS}")
    return found[-1]


def published_runs(runs_dir: Path, firms: int) -> list[Path]:
    """The run directories under `runs_dir` whose manifest counts `firms` firms, oldest first
    (by the manifest's `created_at`, then the run id); the `latest` link is not a run."""
    found: list[tuple[str, str, Path]] = []
    for manifest in runs_dir.glob("*/manifest.json"):
        run = manifest.parent
        if run.is_symlink():
            continue
        try:
            content = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a run being written, or not a run
        counts = content.get("counts") if isinstance(content, dict) else None
        if isinstance(counts, dict) and counts.get("firms") == firms:
            found.append((str(content.get("created_at", "")), run.name, run))
    return [run for *_, run in sorted(found)]


def with_pending(source: Path, target: Path, pending: int, seed: int = 28) -> tuple[Path, int]:
    """The run `source`, or — when its review queue holds fewer than `pending` mentions — a
    copy of it at `target` (hard links) whose queue holds `pending`: the review files
    (`match_review.csv`, `match_review/<province>.csv`, `match_review_candidates.csv`) are
    new files, the published rows byte for byte and then synthetic pending mentions.

    Each synthetic mention copies a published one (source table, column, context, how many
    candidates and in which provinces, so the provinces' and the ministry's shares stay as
    published) and names real registry firms instead: for each candidate, a firm of the
    run's candidates file in the same province, with its published name, former names,
    region, industry, date and comparison scores. The name as written is the first firm's
    with a character of its trade name dropped (a typo, as many real pending mentions are);
    the key is new and distinct. Returns the run to serve and its queue length."""
    queue_path, candidates_path = source / MATCH_REVIEW_CSV, source / MATCH_REVIEW_CANDIDATES
    queue = _read_text_csv(queue_path)
    if len(queue) >= pending:
        return source, len(queue)
    candidates = _read_text_csv(candidates_path)
    if candidates.empty or queue.empty:
        raise SystemExit(f"{source}: no review mentions or candidates to make more from")
    rng = random.Random(seed)
    firms = candidates.drop_duplicates("credit_code")
    by_province: dict[str, list[int]] = {}
    for position, region in enumerate(firms["region_code"]):
        by_province.setdefault(_province_of(region), []).append(position)
    firm_rows = firms.to_dict(orient="records")
    templates = queue.to_dict(orient="records")
    keys = set(queue["mention_key"])
    next_row = {
        str(table): int(pd.to_numeric(rows, errors="coerce").max()) + 1
        for table, rows in queue.groupby("source")["row"]
    }
    new_mentions: list[dict[str, str]] = []
    new_candidates: list[dict[str, str]] = []
    attempts = 0
    while len(queue) + len(new_mentions) < pending:
        template = rng.choice(templates)
        attempts += 1
        if attempts > 20 * pending:
            raise SystemExit(f"{source}: too few registry firms to make {pending:,} mentions")
        codes = template["candidate_codes"]
        regions = template["candidate_regions"].split("|") if codes else []
        chosen = [
            firm_rows[rng.choice(by_province.get(_province_of(r)) or range(len(firm_rows)))]
            for r in regions
        ]
        if len({firm["credit_code"] for firm in chosen}) < len(chosen):
            continue  # the same firm twice: draw again
        chosen.sort(key=lambda firm: -_number(firm.get("probability", "")))  # best first
        table = template["source"]
        first = chosen[0]["name"] if chosen else template["raw_name"]
        raw_name = safe_cell(_typo(first, rng))
        number = next_row.get(table, 0)
        next_row[table] = number + 1
        digest = hashlib.sha256(f"bench\x1f{table}\x1f{number}\x1f{raw_name}".encode()).hexdigest()
        key = f"{table}:{digest[:24]}"
        if key in keys:
            continue
        keys.add(key)
        mention = {
            **template,
            "row": str(number),
            "raw_name": raw_name,
            "mention_key": key,
            "candidate_codes": "|".join(f["credit_code"] for f in chosen),
            "candidate_names": "|".join(f["name"] for f in chosen),
            "candidate_regions": "|".join(f["region_code"] for f in chosen),
            "decision": "",
        }
        if chosen:
            mention["score"] = chosen[0]["score"]
            mention["matched_name"] = chosen[0]["name"]
            mention["runner_up_score"] = chosen[1]["score"] if len(chosen) > 1 else ""
        new_mentions.append(mention)
        for rank, firm in enumerate(chosen, start=1):
            new_candidates.append(
                {**firm, "mention_key": key, "rank": str(rank), "matched_name": firm["name"]}
            )
    if target.exists():
        shutil.rmtree(target)
    review = {queue_path, candidates_path, source / "manifest.json"}
    review |= set((source / MATCH_REVIEW).glob("*.csv"))
    _link_tree(source, target, skip=review)
    added = pd.DataFrame(new_mentions, columns=queue.columns)
    _append_csv(queue_path, added, target / MATCH_REVIEW_CSV)
    _append_csv(
        candidates_path,
        pd.DataFrame(new_candidates, columns=candidates.columns),
        target / MATCH_REVIEW_CANDIDATES,
    )
    provinces = sheet_province(added).fillna("").astype(str).to_numpy()
    sheets = {p.stem: p for p in (source / MATCH_REVIEW).glob("*.csv")}
    for province in sorted(set(sheets) | {p for p in provinces if _province_of(p)}):
        own = added[provinces == province]
        published = sheets.get(province)
        _append_csv(published, own, target / MATCH_REVIEW / f"{province}.csv", queue.columns)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    matching = manifest.get("counts", {}).get("matching")
    if isinstance(matching, dict) and "review" in matching:
        matching["review"] = pending
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return target, pending


def _read_text_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def _province_of(region: str) -> str:
    """The province of a region code ("" when it has none), as features.match_review reads it."""
    province = region[:2]
    return province if len(province) == 2 and province.isdigit() else ""


def _typo(name: str, rng: random.Random) -> str:
    """The name with one character of its trade name (after the place) dropped."""
    start = next((i + 1 for i, c in enumerate(name[:7]) if c in "省市县区"), 0)
    if len(name) - start < 6:
        return name
    drop = start + rng.randrange(min(3, len(name) - start - 4))
    return name[:drop] + name[drop + 1 :]


def _append_csv(
    published: Path | None,
    rows: pd.DataFrame,
    target: Path,
    columns: pd.Index | None = None,
) -> None:
    """`target`: a new file with the published file's bytes (BOM and header included; or a
    header as the flow writes it when there is none) followed by `rows` in the same format."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if published is not None:
        shutil.copyfile(published, target)  # a copy, not a link: the published run stays as is
        header = False
    else:
        rows = rows[list(columns)] if columns is not None else rows
        header = True
    rows.to_csv(
        target,
        mode="a" if published is not None else "w",
        header=header,
        index=False,
        encoding="utf-8" if published is not None else "utf-8-sig",
    )


def _link_tree(source: Path, target: Path, skip: set[Path]) -> None:
    """`target` with every file of `source` but `skip` (hard links, else copies)."""
    for path in source.rglob("*"):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path not in skip:
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)


def publish_copies(source: Path, runs_dir: Path, count: int) -> list[str]:
    """`count` run directories with the source's files (hard links) and their own run ids."""
    if runs_dir.exists():
        shutil.rmtree(runs_dir)
    runs_dir.mkdir(parents=True)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    ids = [f"20260630-bench{index:02d}" for index in range(count)]
    for run_id in ids:
        target = runs_dir / run_id
        _link_tree(source, target, skip={source / "manifest.json"})
        (target / "manifest.json").write_text(
            json.dumps({**manifest, "run_id": run_id}, ensure_ascii=False), encoding="utf-8"
        )
    (runs_dir / "latest").symlink_to(ids[-1])
    return ids


def issue_tokens(path: Path, provinces: list[str]) -> dict[str | None, str]:
    from service.tokens import issue_token

    tokens: dict[str | None, str] = {None: issue_token(path, "ministry", None, "部级")[1]}
    for province in provinces:
        tokens[province] = issue_token(path, "province", province, f"省级 {province}")[1]
    return tokens


def sample_firms(source: Path, provinces: list[str], per_province: int) -> list[tuple[str, str]]:
    """(province, credit code) of invited firms, plus firms only the candidates table holds."""
    rng = random.Random(13)
    firms = []
    for province in provinces:
        lists = pd.read_csv(source / "invitations" / f"{province}.csv", dtype=str)
        codes = lists["credit_code"].drop_duplicates().tolist()
        firms += [(province, code) for code in rng.sample(codes, min(per_province, len(codes)))]
    candidates = pq.ParquetFile(source / "candidates.parquet")
    for group in rng.sample(range(candidates.num_row_groups), min(20, candidates.num_row_groups)):
        codes = candidates.read_row_group(group, columns=["credit_code"]).column(0)
        firms.append(("", str(codes[rng.randrange(len(codes))])))  # ministry reads these
    return firms


def search_terms(source: Path, provinces: list[str]) -> dict[str, list[str]]:
    terms: dict[str, list[str]] = {}
    for province in provinces:
        names = pd.read_csv(source / "invitations" / f"{province}.csv", dtype=str)["name"]
        terms[province] = [name[2:5] for name in names.dropna().sample(50, random_state=1)]
    return terms


BROWSER = {  # what a browser sends on a page of this site (fetch metadata, HTML wanted)
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
}


def log_in(base: str, tokens: dict[str | None, str]) -> dict[str | None, str]:
    """One browser session per official (the ministry, each province), opened as a browser
    opens it: the login form posted from the site with the token; the answer's cookie holds
    the session id, which the clients of that official then send with each page."""
    from service.app import COOKIE_NAME

    sessions: dict[str | None, str] = {}
    for who, token in tokens.items():
        answer = httpx.post(
            f"{base}/login",
            data={"token": token},
            headers={**BROWSER, "Origin": base, "Referer": f"{base}/login"},
            follow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 303 or COOKIE_NAME not in answer.cookies:
            raise SystemExit(f"login as {who or 'ministry'} failed: {answer.status_code}")
        sessions[who] = f"{COOKIE_NAME}={answer.cookies[COOKIE_NAME]}"
    return sessions


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


async def drive(
    base: str,
    seconds: float,
    clients: int,
    run_ids: list[str],
    tokens: dict[str | None, str],
    firms: list[tuple[str, str]],
    terms: dict[str, list[str]],
    latest_share: float = LATEST_SHARE,
    sessions: dict[str | None, str] | None = None,
) -> Samples:
    samples = Samples()
    provinces = sorted(terms)
    mix = MIX if sessions else [(kind, share) for kind, share in MIX if kind != "review"]
    names, weights = zip(*mix, strict=True)
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=clients)
    jar = aiohttp.DummyCookieJar()  # cookies only where a client sends its official's session
    timeout = aiohttp.ClientTimeout(total=60)

    async def client(number: int, http: aiohttp.ClientSession) -> None:
        rng = random.Random(number)
        while time.perf_counter() < deadline:
            kind = rng.choices(names, weights)[0]
            run = "latest" if rng.random() < latest_share else rng.choice(run_ids)
            province = rng.choice(provinces)
            who = rng.choice([None, province])
            params: dict[str, str] = {}
            if kind == "runs":
                path = "/api/v1/runs"
            elif kind == "list":
                path = f"/api/v1/runs/{run}/provinces/{province}/invitations"
                params = {"page": str(rng.randint(1, 20)), "page_size": "50"}
            elif kind == "search":
                path = f"/api/v1/runs/{run}/provinces/{province}/invitations"
                params = {"q": rng.choice(terms[province])}
            elif kind == "firm":
                firm_province, code = rng.choice(firms)
                who = firm_province or None
                path = f"/api/v1/runs/{run}/firms/{code}"
            elif kind == "download":
                path = f"/api/v1/runs/{run}/provinces/{province}/download/"
                path += rng.choice(["csv", "xlsx"])
            if kind == "review":  # a page in the browser: the latest run's queue, a session
                path = "/review"
                page = rng.choice(REVIEW_PAGES)
                params = {"page": str(page)} if page > 1 else {}
                referer = f"{base}/review" + (f"?page={page - 1}" if page > 2 else "")
                headers = {**BROWSER, "Cookie": (sessions or {})[who], "Referer": referer}
            else:
                headers = {"Authorization": f"Bearer {tokens[who]}"}
            started = time.perf_counter()
            try:
                async with http.get(
                    base + path, params=params, headers=headers, allow_redirects=kind != "review"
                ) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            elapsed = time.perf_counter() - started
            samples.latencies.setdefault(kind, []).append(elapsed)
            samples.statuses[status] = samples.statuses.get(status, 0) + 1
            if status != 200:
                samples.errors[kind] = samples.errors.get(kind, 0) + 1

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, cookie_jar=jar) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    return samples


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--source", type=Path, help="a published run directory to copy")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument(
        "--latest-share", type=float, default=LATEST_SHARE, help="share of reads on `latest`"
    )
    parser.add_argument(
        "--pending",
        type=int,
        default=PENDING,
        help="mentions in the review queue: the run's own, and synthetic ones up to this many",
    )
    args = parser.parse_args()
    source = source_run(args.firms, args.source)
    home = OUT / "service"
    runs_dir = home / "runs"
    run_served, queued = with_pending(source, home / "source", args.pending)
    print(f"review queue: {queued:,} pending mentions ({source.name})", flush=True)
    run_ids = publish_copies(run_served, runs_dir, args.runs)
    provinces = sorted(p.stem for p in (source / "invitations").glob("*.csv"))
    tokens_file = home / "tokens.yaml"
    tokens_file.unlink(missing_ok=True)
    tokens = issue_tokens(tokens_file, provinces)
    firms = sample_firms(source, provinces, 200)
    terms = search_terms(source, provinces)
    firms_in_run = pq.ParquetFile(source / "candidates.parquet").metadata.num_rows
    port = free_port()
    audit = home / "audit.jsonl"
    audit.unlink(missing_ok=True)
    decisions = home / "decisions.sqlite"  # none yet: every mention of the queue is pending
    decisions.unlink(missing_ok=True)
    arguments = [str(runs_dir), str(tokens_file), str(audit), str(decisions), str(port)]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the service did not start")
            time.sleep(0.2)
        sessions = log_in(base, tokens)
        idle = peak_rss_gib(server.pid)
        print(
            f"{args.clients} clients for {args.seconds:.0f} s over {args.runs} runs …", flush=True
        )
        cpu_before, load_before = cpu_seconds(server.pid), os.getloadavg()[0]
        samples = asyncio.run(
            drive(
                base,
                args.seconds,
                args.clients,
                run_ids,
                tokens,
                firms,
                terms,
                args.latest_share,
                sessions,
            )
        )
        cpu = cpu_seconds(server.pid) - cpu_before
        load = (load_before + os.getloadavg()[0]) / 2
        peak = peak_rss_gib(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # uvicorn still draining slow downloads
            server.kill()
            server.wait()
    table = Table(
        title=f"Service under load: {args.runs} runs of {source.name} ({firms_in_run:,} verdict "
        f"rows; review queue {queued:,} pending), {args.latest_share:.0%} of reads on latest, "
        f"{args.clients} clients, "
        f"{args.seconds:.0f} s, {os.cpu_count()} cores"
    )
    for column in ("endpoint", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    everything: list[float] = []
    for kind, _ in MIX:
        values = samples.latencies.get(kind, [])
        everything += values
        table.add_row(kind, *_row(values, samples.errors.get(kind, 0), args.seconds))
    table.add_row("all", *_row(everything, sum(samples.errors.values()), args.seconds))
    console = Console(width=200)
    console.print(table)
    served = max(1, len(everything))
    console.print(
        f"server peak RSS {peak:.2f} GiB (after start {idle:.2f} GiB); server CPU {cpu:.1f} s "
        f"= {cpu / served * 1000:.1f} ms per request ({cpu / args.seconds:.2f} cores); machine "
        f"load average {load:.1f} on {os.cpu_count()} cores; statuses "
        f"{dict(sorted(samples.statuses.items()))}\n"
        "target: 0 errors, p95 < 300 ms, server peak RSS < 1.5 GiB",
        highlight=False,
    )


def _row(values: list[float], errors: int, seconds: float) -> list[str]:
    if not values:
        return ["0", str(errors), "0", "", "", ""]
    series = pd.Series(values) * 1000
    return [
        f"{len(values):,}",
        str(errors),
        f"{len(values) / seconds:.0f}",
        f"{series.quantile(0.50):.0f}",
        f"{series.quantile(0.95):.0f}",
        f"{series.quantile(0.99):.0f}",
    ]


if __name__ == "__main__":
    main()
