"""``egov sla``, ``egov faults`` and ``egov maintenance``: the NOC's view of the plan targets.

This layer joins what ``egov.measure`` must not import: planned windows from the change journal
(``egov.change.journal``) next to the ones added by hand, and the state directory. Faults and
windows are keyed by the profile's name, so ``--lab`` (the lab profile's routers) changes nothing
here; it is accepted so the same command lines work as for ``egov exporter``.
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text

from egov.atomic import write_atomic
from egov.cli.common import ProfileOpt, checked_plan, fail, out, say
from egov.errors import EgovError, Problem
from egov.measure.faults import Network
from egov.measure.sla import is_planned, parse_period, parse_time
from egov.measure.store import KINDS, Fault, FaultStore, Window
from egov.measure.store import default_path as faults_path
from egov.paths import state_dir

sla_app = typer.Typer(no_args_is_help=True, help="SLA report against the plan's targets.")
faults_app = typer.Typer(no_args_is_help=True, help="The fault record: list, import from a ticket system.")
maintenance_app = typer.Typer(no_args_is_help=True, help="Planned maintenance windows (faults inside are planned).")

LabOpt = Annotated[bool, typer.Option("--lab", help="The lab's routers (faults are keyed by profile; same data).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
#: change runs that touch devices; backup, plan and verify only read, and a fault during them is not planned
WRITE_ACTIONS = ("apply", "rollback")
CSV_COLUMNS = ("id", "kind", "target", "start", "cleared", "planned")
_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n", ""}


# --- shared --------------------------------------------------------------------------------------------
def _store() -> FaultStore:
    return FaultStore(faults_path(state_dir()))


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    t = dt.datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def journal_windows(profile: str, path: Path | None = None) -> list[Window]:
    """Every apply and rollback run of ``profile`` in the change journal: start..finish over its devices.

    A run not finished (running, or its controller died) ends at its last device result. Runs that
    recorded no device give no window (the journal writes device results when a run ends).
    """
    from egov.change.journal import default_path

    path = path or default_path()
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return []
    try:
        rows = db.execute(
            "SELECT c.id, c.action, c.window_start, COALESCE(c.window_end, c.finished), "
            "group_concat(d.device, char(31)), max(d.at) FROM change c LEFT JOIN change_device d "
            f"ON d.change_id = c.id WHERE c.profile = ? AND c.action IN ({','.join('?' * len(WRITE_ACTIONS))}) "
            "GROUP BY c.id ORDER BY c.window_start", (profile, *WRITE_ACTIONS)).fetchall()
    except sqlite3.Error as exc:
        raise EgovError.one(str(path), "change", f"cannot read the change journal ({exc})",
                            "check EGOV_STATE_DIR points at egov's state directory") from None
    finally:
        db.close()
    out_: list[Window] = []
    for cid, action, w_start, w_end, devices, last_at in rows:
        if not devices:
            continue
        start = _ts(w_start)
        end = _ts(w_end) or _ts(last_at) or start
        if start is None or end is None:
            continue
        out_.append(Window(start, max(start, end), tuple(sorted(set(devices.split("\x1f")))),
                           f"change {cid} ({action})"))
    return out_


def planned_windows(store: FaultStore, profile: str) -> list[Window]:
    """What makes a fault planned: windows added with ``egov maintenance add`` and change runs.

    The exporter can hand this (as a callable) to ``FaultEngine(windows=...)``.
    """
    return store.windows(profile) + journal_windows(profile)


def _plan(profile: str) -> tuple[Any, Network]:
    plan = checked_plan(profile, frozen=False)
    return plan, Network.from_topology(plan.topology)


def _local(t: float | None, tz: str, short: bool = False) -> str:
    """ISO 8601 in the profile's zone; ``short``: ``YYYY-MM-DD HH:MM:SS`` (the table names the zone)."""
    if t is None:
        return "-"
    d = dt.datetime.fromtimestamp(t, ZoneInfo(tz))
    return d.strftime("%Y-%m-%d %H:%M:%S") if short else d.isoformat(timespec="seconds")


def _span(s: float) -> str:
    """A duration as a person reads it: seconds, minutes or hours."""
    s = max(0.0, s)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _hours(s: float) -> str:
    return f"{s / 3600:.2f} h"


# --- egov sla report ------------------------------------------------------------------------------------
@sla_app.command("report")
def sla_report(
    profile: ProfileOpt,
    period: Annotated[str, typer.Option("--period", help="YEAR (in the profile's time zone) or START/END "
                                        "(ISO 8601 with offsets).")],
    lab: LabOpt = False,
    as_json: JsonOpt = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Write an offline HTML report here.")] = None,
    prometheus: Annotated[str | None, typer.Option(
        "--prometheus", metavar="URL", help="Take the figures from this Prometheus server instead of the local "
        "fault record and rollups.")] = None,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", metavar="ISO", help="Judge open faults as at this time instead of now (reproducible reports).")
    ] = None,
) -> None:
    """Availability, fault handling and bandwidth support over a period, against the plan's targets."""
    from egov.measure import report as rep

    plan, net = _plan(profile)
    prof = plan.loaded.profile
    tz = prof.services.timezone
    per = parse_period(period, tz)
    now = parse_time(as_of, tz, "--as-of") if as_of else time.time()
    if prometheus:
        from egov.measure import prometheus as prom

        doc = prom.report(url=prometheus, profile=prof, net=net, period=per, now=now)
    else:
        from egov.measure.rollup import ProfileRollups, Rollups
        from egov.measure.rollup import default_path as rollups_path

        store = _store()
        rollups = Rollups(rollups_path(state_dir()))  # days as the exporter wrote them
        try:
            faults = store.faults(prof.name, since=per.start, until=per.end)
            doc = rep.build(profile=prof, net=net, period=per, faults=faults,
                            windows=planned_windows(store, prof.name), util=ProfileRollups(rollups, prof.name),
                            now=now)
        finally:
            store.close()
            rollups.close()
    if html_file is not None:
        write_atomic(html_file, rep.to_html(doc))
        say(f"sla: HTML report -> {html_file}", stderr=True)
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=1, sort_keys=False) + "\n")
        return
    _print_summary(doc)


def _print_summary(doc: dict[str, Any]) -> None:
    per = doc["period"]
    t = Table(title=Text(f"{doc['profile']}: {per['label']} ({per['start']} to {per['end']}), targets of "
                         f"{doc['targets']['year']}"), title_justify="left")
    for c in ("indicator", "measured", "target", "result"):
        t.add_column(c)
    for ind in ("platform_uptime", "fault_handling_3h", "bandwidth_support"):
        x = doc["targets"][ind]
        m = "-" if x["measured"] is None else f"{x['measured'] * 100:.3f} %"
        tg = "-" if x["target"] is None else f"{x['target'] * 100:g} % ({x['target_year']})"
        res = {True: "pass", False: "FAIL", None: "n/a"}[x["pass"]]
        t.add_row(Text(f"{ind} ({x['measured_by']})"), Text(m), Text(tg),
                  Text(res, style={"pass": "green", "FAIL": "red"}.get(res, "")))
    out.print(t)
    av = doc["availability"]
    net = av.get("network") or {}
    fh = doc["fault_handling"]
    bw = doc["bandwidth"]
    n = lambda v: "-" if v is None else str(v)
    say(f"network {_pct(net.get('availability'))} over {net.get('routers', 0)} routers; faults: "
        f"{n(fh.get('met'))} met, {n(fh.get('missed'))} missed, {n(fh.get('pending'))} pending, "
        f"{n(fh.get('planned'))} planned; bandwidth: {bw.get('pass')} pass, {bw.get('fail')} fail, "
        f"{bw.get('no_data')} no data of {bw.get('sites')}")
    for n in doc.get("notes", []):
        say(f"note: {n}")
    overall = {True: "PASS", False: "FAIL", None: "NOT JUDGED (no target or no figure)"}[doc["pass"]]
    say(f"overall: {overall}", style="bold")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.3f} %"


# --- egov faults list -----------------------------------------------------------------------------------
def fault_json(f: Fault, windows: list[Window], now: float) -> dict[str, Any]:
    """The store's JSON of a fault, with ``planned`` as the SLA sees it (store flag or a window)."""
    doc = f.as_json(now)
    doc["planned"] = is_planned(f, windows)
    if doc["planned"] and not f.planned:
        doc["planned_by"] = next((w.reason or "maintenance window") for w in windows if w.covers(f.target, f.start))
    return doc


@faults_app.command("list")
def faults_list(
    profile: ProfileOpt,
    lab: LabOpt = False,
    open_only: Annotated[bool, typer.Option("--open", help="Only faults not cleared yet.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Faults of the profile, oldest first: kind, target, start, detection, clear, planned, within target."""
    plan, _net = _plan(profile)
    prof = plan.loaded.profile
    store = _store()
    try:
        faults = store.faults(prof.name, open_only=open_only)
        windows = planned_windows(store, prof.name)
    finally:
        store.close()
    now = time.time()
    docs = [fault_json(f, windows, now) for f in faults]
    if as_json:
        sys.stdout.write(json.dumps(docs, indent=1) + "\n")
        return
    tz = prof.services.timezone
    t = Table(title=Text(f"{prof.name}: {len(docs)} {'open ' if open_only else ''}fault(s) (times in {tz})"),
              title_justify="left")
    for c in ("id", "kind", "target", "start", "detected", "cleared", "duration", "planned", "within target", "by"):
        t.add_column(c, no_wrap=c in ("target", "start"), justify="right" if c in ("id", "duration") else "left")
    for f, d in zip(faults, docs):
        wt = d["within_target"]
        t.add_row(str(f.id), f.kind, Text(f.target), _local(f.start, tz, short=True),
                  f"+{_span(f.detected - f.start)}",
                  _local(f.cleared, tz, short=True)[11:] if f.cleared is not None else Text("open", style="yellow"),
                  _span(f.duration(now)), "yes" if d["planned"] else "no",
                  Text({True: "yes", False: "NO", None: "open, in time"}[wt],
                       style={True: "green", False: "red"}.get(wt, "yellow")),
                  Text(f"{f.detected_by}/{f.cleared_by or '-'}"))
    out.print(t)


# --- egov faults import ---------------------------------------------------------------------------------
def _plan_targets(net: Network) -> dict[str, set[str]]:
    return {"router": set(net.routers), "management": set(net.routers), "link": set(net.links),
            "service": set(net.services)}


def parse_faults_csv(path: Path, text: str, net: Network, now: float, open_in_store: set[tuple[str, str]],
                     known_ids: set[str]) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Rows for ``FaultStore.import_faults`` and one problem per bad row (its first)."""
    name = str(path)
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    if not text.strip():
        return [], [Problem(f"{name}:1", "header", "the file is empty",
                            f"the first line must be {','.join(CSV_COLUMNS)}")]
    try:
        header = next(reader)
    except StopIteration:
        return [], [Problem(f"{name}:1", "header", "the file is empty",
                            f"the first line must be {','.join(CSV_COLUMNS)}")]
    except csv.Error as exc:
        return [], [Problem(f"{name}:1", "header", f"not CSV ({exc})", f"the first line must be {','.join(CSV_COLUMNS)}")]
    cols = [h.strip().lower() for h in header]
    missing = [c for c in CSV_COLUMNS if c not in cols]
    dup = sorted({c for c in cols if cols.count(c) > 1 and c in CSV_COLUMNS})
    if missing or dup:
        what = f"missing column(s) {', '.join(missing)}" if missing else f"repeated column(s) {', '.join(dup)}"
        return [], [Problem(f"{name}:1", "header", what,
                            f"the first line must name {','.join(CSV_COLUMNS)} (other columns are ignored)")]
    index = {c: cols.index(c) for c in CSV_COLUMNS}
    targets = _plan_targets(net)
    seen_ids: dict[str, int] = {}
    open_rows: dict[tuple[str, str], int] = {}
    line = 1
    while True:
        start_line = line + 1
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(f"{name}:{reader.line_num}", "row", f"not CSV ({exc})",
                                    "quote fields that hold commas, quotes or line breaks"))
            break
        line = reader.line_num
        if not rec or all(not c.strip() for c in rec):
            continue
        bad = _check_row(rec, index, len(cols), targets, seen_ids, open_rows, open_in_store, known_ids, now,
                         start_line)
        if isinstance(bad, tuple):
            problems.append(Problem(f"{name}:{start_line}", bad[0], bad[1], bad[2]))
        else:
            rows.append(bad)
    if not rows and not problems:
        problems.append(Problem(f"{name}:2", "row", "no fault rows after the header", "export at least one fault"))
    return rows, problems


def _check_row(rec: list[str], index: dict[str, int], width: int, targets: dict[str, set[str]],
               seen_ids: dict[str, int], open_rows: dict[tuple[str, str], int], open_in_store: set[tuple[str, str]],
               known_ids: set[str], now: float, line: int) -> dict[str, Any] | tuple[str, str, str]:
    """The row as the store takes it, or (column, problem, fix) for its first problem."""
    if len(rec) != width:
        return ("row", f"has {len(rec)} field(s), the header has {width}",
                "quote fields that hold commas; one fault per line")
    v = {c: rec[i].strip() for c, i in index.items()}
    if not v["id"]:
        return "id", "is empty", "give the ticket's id"
    if v["id"] in seen_ids:
        return "id", f"{v['id']!r} is already on line {seen_ids[v['id']]}", "give each fault its own ticket id"
    seen_ids[v["id"]] = line
    if v["kind"] not in KINDS:
        return "kind", f"{v['kind']!r} is not a fault kind", f"use one of {', '.join(KINDS)}"
    if v["target"] not in targets[v["kind"]]:
        form = {"link": "a planned link key such as sn-a~sn-xa-a", "service": "a hosted_services name"}.get(
            v["kind"], "a router hostname")
        return "target", f"{v['target']!r} is not a {v['kind']} of the plan", f"use {form} (egov plan show --json)"
    try:
        start = parse_time(v["start"], "UTC", "start", dates=False) if v["start"] else None
    except EgovError as exc:
        return "start", f"{v['start']!r} {exc.problems[0].message}", exc.problems[0].fix
    if start is None:
        return "start", "is empty", "give the time the fault began, e.g. 2025-03-01T08:00:00+08:00"
    if start > now:
        return "start", "is in the future", "check the year and the UTC offset"
    cleared = None
    if v["cleared"]:
        try:
            cleared = parse_time(v["cleared"], "UTC", "cleared", dates=False)
        except EgovError as exc:
            return "cleared", f"{v['cleared']!r} {exc.problems[0].message}", exc.problems[0].fix
        if cleared < start:
            return "cleared", "is before start", "check the two times and their UTC offsets"
        if cleared > now:
            return "cleared", "is in the future", "leave it empty while the fault is open"
    flag = v["planned"].lower()
    if flag not in _TRUE | _FALSE:
        return "planned", f"{v['planned']!r} is not true or false", "use true or false (empty means false)"
    if cleared is None and v["id"] not in known_ids:
        key = (v["kind"], v["target"])
        if key in open_rows:
            return ("cleared", f"empty, but line {open_rows[key]} already has an open {key[0]} fault of {key[1]}",
                    "a target has at most one open fault: give the earlier one its clear time")
        if key in open_in_store:
            return ("cleared", f"empty, but the fault record already has an open {key[0]} fault of {key[1]}",
                    "give this fault its clear time, or clear the open one first")
        open_rows[key] = line
    return {"kind": v["kind"], "target": v["target"], "start": start, "cleared": cleared,
            "planned": flag in _TRUE, "source": v["id"]}


@faults_app.command("import")
def faults_import(
    file: Annotated[Path, typer.Argument(help="CSV exported from the ticket system: id,kind,target,start,cleared,"
                                         "planned (ISO 8601 times with offsets; cleared empty while open).")],
    profile: ProfileOpt,
    lab: LabOpt = False,
) -> None:
    """Load fault history; every row is checked first, and one bad row imports nothing."""
    plan, net = _plan(profile)
    prof = plan.loaded.profile
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail([Problem(str(file), "", f"cannot be read ({exc.strerror or exc})", "give the path of the CSV export")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        fail([Problem(f"{file}:{line}", "encoding", f"byte {exc.start} is not UTF-8", "export the CSV as UTF-8")])
    store = _store()
    try:
        known = {f.source for f in store.faults(prof.name) if f.source}
        open_now: set[tuple[str, str]] = {(f.kind, f.target) for f in store.open_faults(prof.name)}
        rows, problems = parse_faults_csv(file, text, net, time.time(), open_now, known)
        if problems:
            fail(problems)
        added = store.import_faults(prof.name, rows, prof.sla.fault_target_hours * 3600)
    finally:
        store.close()
    skipped = len(rows) - added
    say(f"faults: imported {added} fault(s) from {file}" + (f"; {skipped} already known (same id), skipped"
                                                             if skipped else ""))


# --- egov maintenance ---------------------------------------------------------------------------------------
@maintenance_app.command("add")
def maintenance_add(
    profile: ProfileOpt,
    start: Annotated[str, typer.Option("--start", help="ISO 8601 with offset, e.g. 2025-03-01T22:00:00+08:00.")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 with offset.")],
    targets: Annotated[str, typer.Option("--targets", help="Comma-separated globs over router, link or service "
                                         "names ('*' for everything).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (a change ticket, say).")] = "",
    lab: LabOpt = False,
) -> None:
    """Add a planned window: faults of matching targets that start inside it are planned."""
    plan, net = _plan(profile)
    prof = plan.loaded.profile
    tz = prof.services.timezone
    t0, t1 = parse_time(start, tz, "--start", dates=False), parse_time(end, tz, "--end", dates=False)
    if t1 <= t0:
        fail([Problem("--end", end, "is not after --start", "give the window's end after its start")])
    globs = tuple(g.strip() for g in targets.split(",") if g.strip())
    if not globs:
        fail([Problem("--targets", targets, "names no target", "give globs like 'sn-xa-*' or '*'")])
    names = [*net.routers, *net.links, *net.services]
    for g in globs:
        if not any(fnmatch.fnmatch(n, g) or any(fnmatch.fnmatch(p, g) for p in n.split("~")) for n in names):
            fail([Problem("--targets", g, "matches no router, link or service of the plan",
                          "check the glob against egov plan show --json")])
    if "\n" in reason or len(reason) > 500:
        fail([Problem("--reason", reason[:40], "must be one line of at most 500 characters", "shorten it")])
    store = _store()
    try:
        wid = store.add_window(prof.name, Window(t0, t1, globs, reason))
        w = Window(t0, t1, globs, reason)
        now_planned = [f for f in store.faults(prof.name, since=t0, until=t1) if not f.planned and w.covers(f.target,
                                                                                                           f.start)]
    finally:
        store.close()
    say(f"maintenance: window {wid} added: {_local(t0, tz)} to {_local(t1, tz)} for {', '.join(globs)}"
        + (f" ({reason})" if reason else "")
        + (f"; {len(now_planned)} recorded fault(s) now count as planned" if now_planned else ""))


@maintenance_app.command("list")
def maintenance_list(profile: ProfileOpt, lab: LabOpt = False, as_json: JsonOpt = False) -> None:
    """Planned windows: added by hand and from the change journal (apply and rollback runs)."""
    plan, _net = _plan(profile)
    prof = plan.loaded.profile
    tz = prof.services.timezone
    store = _store()
    try:
        manual = store.windows(prof.name)
    finally:
        store.close()
    changes = journal_windows(prof.name)
    rows = [("maintenance", w) for w in manual] + [("change journal", w) for w in changes]
    rows.sort(key=lambda r: r[1].start)
    if as_json:
        sys.stdout.write(json.dumps([{"source": s, "start": _local(w.start, tz), "end": _local(w.end, tz),
                                      "targets": list(w.targets), "reason": w.reason} for s, w in rows], indent=1)
                         + "\n")
        return
    t = Table(title=Text(f"{prof.name}: {len(rows)} planned window(s) (times in {tz})"), title_justify="left")
    for c in ("source", "start", "end", "targets", "reason"):
        t.add_column(c)
    for s, w in rows:
        shown = ", ".join(w.targets[:6]) + (f" (+{len(w.targets) - 6})" if len(w.targets) > 6 else "")
        t.add_row(s, _local(w.start, tz), _local(w.end, tz), Text(shown), Text(w.reason))
    out.print(t)
