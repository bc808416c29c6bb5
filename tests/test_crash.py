"""Crash safety: ``safer run`` killed by SIGKILL at every kill point (``safer/kernel/faults.py``).

Each scenario copies a workspace (database, landed files, returns folder) and runs the real
command, ``python -m safer run``, against a data.police.uk-like server (``demo.server``) with
the bundled street months and an aiosmtpd server with two recipients, setting ``SAFER_KILL_AT``
so the process kills itself at a point: during the download, after staging, between checks and
promotion, inside the promote transaction, after the commit, while storing evaluations, between
rendering and storing a digest, between storing and sending, between SMTP accepting a message
and the outbox recording it, and before the run closes. The run that does the new work fetches a
new street month, a revised street month (its rows replaced: a kill mid-replacement must leave
the old rows) and a new call-handling return, evaluates, and sends two digests.

After every kill, before anything else runs, the database as the kill left it passes every
check of ``safer.app.integrity`` (no partial month, no duplicate row, ledger and outbox states
consistent). Then a normal run finishes the work, and the database must hold exactly what an
uninterrupted run gives: per month, ``police_street`` rows = ``source_periods.rows`` = the data
rows of the published file; the same digests (by id), all ``sent``; every digest received by its
recipient, a second copy only when the outbox recorded the first hand-over as interrupted, and
then byte for byte with the same Message-ID.

Scenarios run in parallel, each in its own folder with its own servers. The default suite
injects over 50 kills (single kills at every point, chains of kills in successive runs, and
seeded random chains); ``SAFER_CRASH_FULL=1`` adds every N of every point and longer chains.
The figures are printed at the end (``-s`` shows them; ``SAFER_CRASH_REPORT=FILE`` writes them).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from demo.server import Published, serve
from safer.app.integrity import problems
from safer.kernel import faults
from safer.store.db import open_read_only
from tests.conftest import ROOT, STREET, free_port

CALLS = ROOT / "data" / "examples" / "call-handling"
BASE_AS_OF = "2025-03-10"  # the base: street 2025-01 and 2025-02, returns 2024-10 to 2025-02
AS_OF = "2025-04-15"  # the run under test: street 2025-03 new, 2025-02 revised, return 2025-03
BASE_UPDATED, UPDATED = "2025-03-01", "2025-04-01"
REVISED = "2025-02"
NEW_RETURN = "call-handling-EXAMPLE-2025-03.csv"
BASE_RETURNS = [f"call-handling-EXAMPLE-{m}.csv" for m in ("2024-10", "2024-11", "2024-12")] + [
    f"call-handling-EXAMPLE-2025-0{m}.csv" for m in (1, 2)
]
RECIPIENTS = ("lead@example.org", "halton@example.org")
FULL = os.environ.get("SAFER_CRASH_FULL") == "1"
ONLY = os.environ.get("SAFER_CRASH_ONLY", "")  # run only scenarios whose name holds this
WORKERS = max(2, min(4, os.cpu_count() or 2))

# --- services -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mail:
    message_id: str
    recipients: tuple[str, ...]
    raw: bytes


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.mails.append(
                Mail(str(message["Message-ID"]), tuple(envelope.rcpt_tos), envelope.content)
            )
        return "250 OK"


@contextmanager
def services(served: Path, last_updated: str) -> Iterator[tuple[str, int, Mailbox]]:
    """The demo data.police.uk server over ``served`` (overrides) then the bundled months, and
    an SMTP server; yields the base URL, the SMTP port and its mailbox."""
    mailbox = Mailbox()
    for attempt in range(5):
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=30)
        try:
            controller.start()
            break
        except (OSError, RuntimeError):
            if attempt == 4:
                raise
    try:
        with serve(served, STREET, published=Published(last_updated=last_updated)) as base:
            yield base, port, mailbox
    finally:
        controller.stop()


# --- workspaces -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "safer.toml"

    @property
    def db(self) -> Path:
        return self.folder / "safer.duckdb"

    @property
    def returns(self) -> Path:
        return self.folder / "returns"

    def write_config(self, base_url: str, smtp_port: int, *, recipients: bool = True) -> None:
        people = "".join(
            f'\n[[recipients]]\nname = "{name}"\nemail = "{email}"\n{areas}'
            for name, email, areas in (
                ("Performance lead", RECIPIENTS[0], ""),
                ("Halton CSP", RECIPIENTS[1], 'areas = ["E22000023", "E23000006"]\n'),
            )
        )
        self.config.write_text(
            f"""
[database]
path = "safer.duckdb"

[paths]
data_dir = "var"
outbox_dir = "outbox"

[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"

[sources.police_uk_api]
base_url = "{base_url}/api"

[sources.police_uk_street]
base_url = "{base_url}"
months = ["2025-01:"]
min_rows = 100
retries = 0
backoff_seconds = 0

[sources.call_handling]
location = "{self.returns}"
note = "Call handling figures are EXAMPLE data."
{people if recipients else ""}
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "safer@example.org"
timeout_seconds = 10
backoff_seconds = 0
""",
            encoding="utf-8",
        )

    def copy_to(self, folder: Path) -> Workspace:
        shutil.copytree(self.folder, folder)
        return Workspace(folder)


def safer_run(
    ws: Workspace, *, kill: str | None = None, log: Path | None = None, as_of: str = AS_OF
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFER_")}
    if kill:
        env["SAFER_KILL_AT"] = kill
    if log:
        env["SAFER_FAULTS_LOG"] = str(log)
    return subprocess.run(
        [sys.executable, "-m", "safer", "run", "--config", str(ws.config), "--as-of", as_of],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _normal(
    ws: Workspace,
    served: Path,
    updated: str,
    *,
    as_of: str = AS_OF,
    log: Path | None = None,
    recipients: bool = True,
) -> tuple[subprocess.CompletedProcess[str], list[Mail]]:
    """One uninterrupted run with its own servers; what it printed and the mail it sent."""
    with services(served, updated) as (base_url, port, mailbox):
        ws.write_config(base_url, port, recipients=recipients)
        done = safer_run(ws, as_of=as_of, log=log)
    return done, mailbox.mails


def data_rows(path: Path) -> int:
    """Records in a published CSV (gzipped or not), header excluded."""
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8-sig")
    return sum(1 for _ in csv.reader(io.StringIO(text))) - 1


def revise(month: str, folder: Path) -> Path:
    """A revised publication of ``month`` in ``folder`` (served before the bundled files): the
    bundled file without its last 25 records."""
    name = f"{month}-cheshire-street.csv.gz"
    lines = gzip.decompress((STREET / name).read_bytes()).splitlines(keepends=True)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(b"".join(lines[:-25]), mtime=0))
    return folder / name


# --- what a finished run must leave ----------------------------------------------------------


@dataclass(frozen=True)
class State:
    """What the database holds that a crash must not change."""

    rows: dict[str, int]  # "source period" -> rows in use
    digests: frozenset[tuple[str, str, str]]  # (digest_id, email, message_id)
    statuses: dict[str, str]


def read_state(db_path: Path) -> State:
    with open_read_only(db_path) as db:
        rows = {
            f"{source} {period}": int(n)
            for source, period, n in db.rows("SELECT source, period, rows FROM source_periods")
        }
        digests = db.rows("SELECT digest_id, email, message_id, status FROM outbox")
    return State(
        rows,
        frozenset((d, e, m) for d, e, m, _ in digests),
        {d: s for d, _, _, s in digests},
    )


@dataclass
class Bases:
    fetch: Workspace
    """Street 2025-01 and 2025-02 and five returns loaded, digests sent: the run under test
    fetches, checks and loads three files, then evaluates and sends."""
    loaded: Workspace
    """Everything of the run under test loaded and evaluated, with no recipients configured:
    a run with the recipients back builds, stores and sends the digests, without checks."""
    served: Path
    expected_fetch: State
    expected_loaded: State
    file_rows: dict[str, int]
    base_digests: frozenset[str]
    reached_fetch: Counter[str]
    """How often the run under test reaches each kill point from each base."""
    reached_loaded: Counter[str]


def _prepare(ws: Workspace) -> None:
    """The new work a scenario's run finds: one more return (a revised street month and a new
    one are on the server)."""
    shutil.copy(CALLS / NEW_RETURN, ws.returns / NEW_RETURN)


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> Bases:
    root = tmp_path_factory.mktemp("crash")
    served = root / "served"
    revised = revise(REVISED, served)
    fetch = Workspace(root / "fetch")
    fetch.returns.mkdir(parents=True)
    for name in BASE_RETURNS:
        shutil.copy(CALLS / name, fetch.returns / name)
    (root / "nothing").mkdir()
    done, _ = _normal(fetch, root / "nothing", BASE_UPDATED, as_of=BASE_AS_OF)
    assert done.returncode == 0, done.stderr[-3000:]
    base_digests = frozenset(d for d, *_ in read_state(fetch.db).digests)
    assert len(base_digests) == 2, "the base sent each recipient a digest"

    def reference() -> tuple[State, Counter[str]]:
        """What an uninterrupted run of the scenario gives, and the points it reaches."""
        ws = fetch.copy_to(root / "reference")
        _prepare(ws)
        done, mails = _normal(ws, served, UPDATED, log=root / "reference.log")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "police_uk_street 2025-02 [2/3]: revised" in done.stderr
        assert len(mails) == 2
        return read_state(ws.db), Counter((root / "reference.log").read_text().split())

    def loaded() -> tuple[Workspace, State, Counter[str]]:
        ws = fetch.copy_to(root / "loaded")
        _prepare(ws)
        done, _ = _normal(ws, served, UPDATED, recipients=False)
        assert done.returncode == 0, done.stderr[-3000:]
        again = ws.copy_to(root / "reference-loaded")
        done, mails = _normal(again, served, UPDATED, log=root / "loaded.log")
        assert done.returncode == 0, done.stderr[-3000:]
        assert len(mails) == 2
        return ws, read_state(again.db), Counter((root / "loaded.log").read_text().split())

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.submit(reference), pool.submit(loaded)
        expected_fetch, reached_fetch = first.result()
        loaded_ws, expected_loaded, reached_loaded = second.result()
    assert len(expected_fetch.digests) - len(base_digests) == 2

    file_rows = {
        f"police_uk_street {m}-01": data_rows(
            revised if m == REVISED else STREET / f"{m}-cheshire-street.csv.gz"
        )
        for m in ("2025-01", "2025-02", "2025-03")
    }
    return Bases(
        fetch,
        loaded_ws,
        served,
        expected_fetch,
        expected_loaded,
        file_rows,
        base_digests,
        reached_fetch,
        reached_loaded,
    )


# --- playing a scenario ---------------------------------------------------------------------


@dataclass
class Played:
    name: str
    kills: int = 0
    runs: int = 0
    not_reached: int = 0
    resent: int = 0
    """Second copies the SMTP server received (reconciled hand-overs: same Message-ID)."""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    """Per run: ``spec killed`` or ``spec not reached``, then ``normal``."""


def _spec(spec: str) -> tuple[str, int]:
    name, _, n = spec.partition(":")
    return name, int(n or 1)


def play(
    bases: Bases, folder: Path, name: str, kills: Sequence[str], *, start: str = "fetch"
) -> Played:
    """Run the scenario's run once per kill spec (each run killed there, or finishing when it
    never reaches it), then once normally; check the database after each kill and at the end."""
    began = time.monotonic()
    played = Played(name)
    base = bases.fetch if start == "fetch" else bases.loaded
    expected = bases.expected_fetch if start == "fetch" else bases.expected_loaded
    ws = base.copy_to(folder)
    if start == "fetch":
        _prepare(ws)
    log = folder / "points.log"
    with services(bases.served, UPDATED) as (base_url, port, mailbox):
        ws.write_config(base_url, port)
        for spec in kills:
            log.unlink(missing_ok=True)
            done = safer_run(ws, kill=spec, log=log)
            played.runs += 1
            point, n = _spec(spec)
            reached = Counter(log.read_text(encoding="utf-8").split()) if log.exists() else {}
            played.outcomes.append(f"{spec} {'killed' if done.returncode == -9 else 'finished'}")
            if done.returncode == -9:
                played.kills += 1
                if f"safer.faults: SIGKILL at {point}:{n}" not in done.stderr:
                    played.problems.append(f"{spec}: killed, but not at the point")
                played.problems += [f"after kill {spec}: {p}" for p in _at_rest(ws)]
            elif reached.get(point, 0) >= n:
                played.problems.append(f"{spec}: reached but not killed ({done.returncode})")
            else:
                played.not_reached += 1
                if done.returncode != 0:
                    played.problems.append(
                        f"{spec}: not reached, and the run failed ({done.returncode}): "
                        + done.stderr[-1500:]
                    )
        done = safer_run(ws)
        played.runs += 1
        if done.returncode != 0:
            played.problems.append(
                f"the run after the kills exited {done.returncode}: {done.stderr[-2000:]}"
            )
        played.problems += _settled(ws, bases, expected, mailbox)
        played.resent = len(mailbox.mails) - len({m.message_id for m in mailbox.mails})
    played.seconds = time.monotonic() - began
    return played


def _at_rest(ws: Workspace) -> list[str]:
    """The database exactly as the kill left it (its write-ahead log replayed read-only)."""
    with open_read_only(ws.db) as db:
        return problems(db)


def _settled(ws: Workspace, bases: Bases, expected: State, mailbox: Mailbox) -> list[str]:
    found: list[str] = []
    with open_read_only(ws.db) as db:
        found += problems(db)
        table = {
            str(period): int(n)
            for period, n in db.rows(
                "SELECT period, count(*) FROM police_street GROUP BY period ORDER BY period"
            )
        }
        interrupted = {
            str(d)
            for (d,) in db.rows(
                "SELECT DISTINCT digest_id FROM delivery_attempts WHERE outcome = 'interrupted'"
            )
        }
        not_sent = db.rows("SELECT digest_id, status FROM outbox WHERE status <> 'sent'")
    state = read_state(ws.db)
    if state.rows != expected.rows:
        found.append(f"periods in use differ: {state.rows} != {expected.rows}")
    for key, rows in bases.file_rows.items():
        month = key.split()[1]
        if not (state.rows.get(key) == table.get(month) == rows):
            found.append(
                f"{key}: source_periods {state.rows.get(key)}, police_street {table.get(month)}, "
                f"the file {rows}"
            )
    if state.digests != expected.digests:
        found.append(
            f"digests differ from an uninterrupted run: {sorted(state.digests ^ expected.digests)}"
        )
    if not_sent:
        found.append(f"digests not sent: {not_sent}")
    new = {(d, e, m) for d, e, m in state.digests if d not in bases.base_digests}
    received = Counter(m.message_id for m in mailbox.mails)
    if set(received) != {m for *_, m in new}:
        found.append(f"received {sorted(received)}, stored {sorted(m for *_, m in new)}")
    for digest_id, email, message_id in sorted(new):
        copies = [m for m in mailbox.mails if m.message_id == message_id]
        if any(m.recipients != (email,) for m in copies):
            found.append(f"{message_id} went to {[m.recipients for m in copies]}, not {email}")
        if len(copies) > 1 and digest_id not in interrupted:
            found.append(f"{message_id} received {len(copies)} times with no interrupted attempt")
        if len({m.raw for m in copies}) > 1:
            found.append(f"{message_id}: the copies received differ")
    return found


# --- the scenarios --------------------------------------------------------------------------

LOAD_POINTS = (
    "download.written",
    "batch.staged",
    "batch.checked",
    "promote.deleted",
    "promote.recorded",
    "promote.committed",
)
"""Reached while fetching and loading: killed from the ``fetch`` base."""
LATE_POINTS = tuple(p for p in faults.POINTS if p not in LOAD_POINTS)
"""Reached after loading: killed from the ``loaded`` base, so neither run needs the checks."""
LOADED_POINTS = ("download.written", *LATE_POINTS)
"""Reached from the ``loaded`` base: every return in the folder is copied in to be hashed."""

Scenario = tuple[str, str, list[str]]


def scenarios(bases: Bases) -> list[Scenario]:
    """Single kills (then a normal run) and chains (each run killed in turn, then a normal run).

    By default every load point at its first reaching, and the return's rollback, from the
    ``fetch`` base, and every other point at its first and last from the ``loaded`` base; with
    ``SAFER_CRASH_FULL=1`` every N of every point, and seeded random chains.
    """
    found: list[Scenario] = []
    for base, points, reached in (
        ("fetch", LOAD_POINTS, bases.reached_fetch),
        ("loaded", LOADED_POINTS, bases.reached_loaded),
    ):
        for point in points:
            times = reached[point]
            if FULL:
                ns: Sequence[int] = range(1, times + 1)
            elif point == "promote.deleted":
                ns = [1, times]  # the revised month's rollback, and the return's
            elif base == "fetch" and point == "download.written":
                ns = []  # the first kill of the chain below; the returns' copies: "loaded"
            else:
                ns = [1]  # the last reachings are in the chains below
            found += [(f"{base} {point}:{n}", base, [f"{point}:{n}"]) for n in ns]
    evaluations = bases.reached_loaded["evaluations.store"]
    returns = bases.reached_loaded["download.written"]
    found += [
        (
            "chain: every stage in turn",
            "fetch",
            [
                "download.written:1",  # the revised month, fetched over HTTP
                "promote.deleted:1",  # the revised month: its old rows must survive
                "promote.committed:1",  # the revised month is in
                "promote.recorded:1",  # the new month, rolled back
                "promote.committed:2",  # the new month is in; the return is next
                "evaluations.store:4",
                "digest.rendered:2",  # the lead's digest stored, Halton's rendered
                "digest.stored:1",  # Halton's stored: both wait
                "smtp.accepted:2",  # the lead's sent, Halton's accepted but not recorded
                "run.finishing:1",
            ],
        ),
        (
            "chain: each indicator's evaluations in turn",
            "loaded",
            [f"evaluations.store:{n}" for n in range(1, evaluations + 1)],
        ),
        (
            "chain: each return's copy in turn",
            "loaded",
            [f"download.written:{n}" for n in range(1, returns + 1)],
        ),
        (
            "chain: the same hand-over killed again and again",
            "loaded",
            ["smtp.accepted:1"] * 3 + ["smtp.sending:2", "smtp.accepted:1"],
        ),
        (
            "chain: the second recipient at every step",
            "loaded",
            [
                f"evaluations.store:{evaluations}",
                "digest.stored:2",  # both stored, neither sent
                "smtp.sending:2",  # the lead's sent, Halton's committed as sending
                "smtp.accepted:1",  # now Halton's reconciling hand-over
                "run.finishing:1",
            ],
        ),
        (
            "chain: storing killed again and again",
            "loaded",
            ["digest.rendered:1", "digest.rendered:1", "digest.stored:1", "digest.rendered:1"],
        ),
    ]
    rng = random.Random(9)
    for seed in range(4 if FULL else 0):
        specs = [f"{rng.choice(LOADED_POINTS)}:{rng.randint(1, 3)}" for _ in range(10)]
        found.append((f"chain: random late {seed}", "loaded", specs))
        specs = [f"{rng.choice(faults.POINTS)}:{rng.randint(1, 3)}" for _ in range(12)]
        found.append((f"chain: random {seed}", "fetch", specs))
    return found


def _longest_first(found: list[Scenario]) -> list[Scenario]:
    """Runs from the ``fetch`` base check files (GX) and chains run many times: start those
    first, so the pool does not end waiting on one long scenario."""
    return sorted(found, key=lambda s: (s[1] != "fetch", -len(s[2])))


def test_every_documented_kill_point_is_reached_by_a_run(bases: Bases) -> None:
    """A point removed from the code (or renamed) fails here; so does one left undocumented.
    The counts come from the uninterrupted reference runs, run with ``SAFER_FAULTS_LOG``."""
    assert set(bases.reached_fetch) == set(faults.POINTS), "every point, and only those"
    assert set(bases.reached_loaded) == set(LOADED_POINTS)
    for point in faults.POINTS:
        assert f"``{point}``" in (faults.__doc__ or ""), f"{point} is documented"
    # Three files are loaded (the revised month, the new month, the new return), two digests
    # sent; every return in the folder is copied in to be hashed.
    for point in ("batch.staged", "batch.checked", "promote.deleted", "promote.committed"):
        assert bases.reached_fetch[point] == 3, point
    for point in ("digest.rendered", "digest.stored", "smtp.sending", "smtp.accepted"):
        assert bases.reached_fetch[point] == bases.reached_loaded[point] == 2, point
    assert bases.reached_fetch["download.written"] == 2 + len(BASE_RETURNS) + 1


def test_a_bad_kill_point_name_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import safer.kernel.faults"],
        cwd=ROOT,
        env={**os.environ, "SAFER_KILL_AT": "no.such.point"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "no such kill point" in done.stderr


def test_killed_anywhere_a_run_leaves_the_database_consistent_and_loses_no_digest(
    bases: Bases, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [
            pool.submit(play, bases, tmp_path / f"s{i:03d}", name, specs, start=start)
            for i, (name, start, specs) in enumerate(_longest_first(scenarios(bases)))
            if ONLY in name
        ]
        results = [f.result() for f in futures]
    wall = time.monotonic() - began

    kills = sum(r.kills for r in results)
    summary = {
        "scenarios": len(results),
        "kills": kills,
        "runs": sum(r.runs for r in results),
        "not_reached": sum(r.not_reached for r in results),
        "resent_same_message_id": sum(r.resent for r in results),
        "violations": sum(len(r.problems) for r in results),
        "wall_seconds": round(wall, 1),
        "workers": WORKERS,
        "full": FULL,
    }
    report = os.environ.get("SAFER_CRASH_REPORT")
    if report:
        Path(report).write_text(
            json.dumps({**summary, "scenarios_detail": [r.__dict__ for r in results]}, indent=2),
            encoding="utf-8",
        )
    with capsys.disabled():
        print(f"\ncrash harness: {json.dumps(summary)}")
    failures = [f"{r.name}: {p}" for r in results for p in r.problems]
    assert not failures, "\n".join(failures)
    assert kills >= 50 or ONLY, summary
    singles = [r for r in results if not r.name.startswith("chain")]
    assert all(r.kills == 1 for r in singles), [(r.name, r.kills) for r in singles]
