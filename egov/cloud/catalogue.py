"""The migration catalogue: one CSV row per system that moves onto the cloud.

    system,department,dr_level,vcpu,ram_gb,disk_gb,depends_on,current_room
    fgw-0001,fgw,4,8,32,500,dsj-0002;fgw-0003,fgw-room-01

``depends_on`` lists systems (``;``-separated) that must move in the same wave or earlier;
``current_room`` is the machine room the system runs in today (rooms close when they are empty).
A bad row is one line naming the file, the row (its line in the file) and the column; any bad
row stops the plan, so a half-read catalogue never turns into waves.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egov.errors import EgovError, Problem
from egov.plan.load import display_path

COLUMNS = ("system", "department", "dr_level", "vcpu", "ram_gb", "disk_gb", "depends_on", "current_room")
SYSTEM_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
ROOM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: sizes beyond these are typos, not systems (a 2 PB disk, a 100k-vCPU VM)
LIMITS = {"vcpu": 1024, "ram_gb": 16384, "disk_gb": 1_000_000}
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class System:
    id: str
    department: str
    dr_level: int
    vcpu: int
    ram_gb: int
    disk_gb: int
    depends_on: tuple[str, ...]
    room: str
    #: line in the file (1 is the header): what messages name
    row: int


@dataclass(frozen=True, slots=True)
class Catalogue:
    path: Path
    shown: str
    systems: list[System]

    def where(self, row: int) -> str:
        return f"{self.shown}:{row}"


def read_catalogue(path: Path, departments: set[str]) -> Catalogue:
    """Parse and check every row; raise EgovError with one line per bad row (or cycle)."""
    shown = display_path(path)
    reader = csv.reader(_read_text(path, shown).splitlines(keepends=True))
    header = _read_header(reader, shown)
    systems, first_row, problems = _read_rows(reader, header, shown, departments)
    problems += _unknown_dependencies(systems, first_row, shown)
    if not problems:
        problems += [Problem(f"{shown}:{row}", "depends_on", f"dependency cycle {' -> '.join(cycle)}",
                             "break the cycle: a system cannot move before what it depends on")
                     for row, cycle in _cycles(systems)]
    if problems:
        raise EgovError(problems)
    return Catalogue(path=path, shown=shown, systems=systems)


def _read_text(path: Path, shown: str) -> str:
    """The file's text, refusing what is too big or not UTF-8 with one line that says what to do."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise EgovError.one(shown, "", f"catalogue is over {MAX_BYTES // 1024 // 1024} MiB", "split it")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EgovError.one(shown, "", "catalogue file not found",
                            "give --catalogue FILE or set egov:catalogue in the stack file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EgovError.one(shown, "", f"cannot read catalogue ({exc.__class__.__name__})",
                            "save it as UTF-8 CSV") from None


def _read_header(reader: Iterator[list[str]], shown: str) -> list[str]:
    """The header row, checked against COLUMNS: every header problem at once, before any row is read
    (a wrong header would make every row wrong)."""
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise EgovError.one(f"{shown}:1", "header", "empty catalogue", f"start with the header {','.join(COLUMNS)}") from None
    except csv.Error as exc:
        raise EgovError.one(f"{shown}:1", "header", f"malformed CSV ({exc})", "fix the header line") from None
    problems: list[Problem] = []
    missing = [c for c in COLUMNS if c not in header]
    extra = [c for c in header if c not in COLUMNS]
    for c in missing:
        problems.append(Problem(f"{shown}:1", c, "missing column", f"add it; the header is {','.join(COLUMNS)}"))
    for c in extra:
        problems.append(Problem(f"{shown}:1", c or "(empty)", "unknown column",
                                f"remove it or check its spelling; the header is {','.join(COLUMNS)}"))
    dup = sorted({c for c in header if header.count(c) > 1})
    for c in dup:
        problems.append(Problem(f"{shown}:1", c, "column appears twice", "keep one"))
    if problems:
        raise EgovError(problems)
    return header


def _read_rows(reader: Any, header: list[str], shown: str,
               departments: set[str]) -> tuple[list[System], dict[str, int], list[Problem]]:
    """Every data row of a csv.reader -> (systems, the row of each system id, one problem per bad
    row): blank rows are skipped, a malformed CSV line ends the read (nothing after it can be trusted)."""
    index = {c: header.index(c) for c in COLUMNS}
    systems: list[System] = []
    first_row: dict[str, int] = {}
    problems: list[Problem] = []
    while True:
        row_no = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(f"{shown}:{row_no}", "(row)", f"malformed CSV ({exc})", "fix the quoting"))
            break
        row_no = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(f"{shown}:{row_no}", "(row)", f"{len(cells)} fields, the header has {len(header)}",
                                    "give one value per column (empty depends_on is fine)"))
            continue
        sys_, bad = _row(cells, index, row_no, shown, departments)
        if bad:
            problems.append(bad)
            continue
        assert sys_ is not None
        if sys_.id in first_row:
            problems.append(Problem(f"{shown}:{row_no}", "system", f"{sys_.id} is already on row {first_row[sys_.id]}",
                                    "give each system one row"))
            continue
        first_row[sys_.id] = row_no
        systems.append(sys_)
    return systems, first_row, problems


def _unknown_dependencies(systems: list[System], first_row: dict[str, int], shown: str) -> list[Problem]:
    """One problem per system that depends on a system with no row: waves could never place it."""
    known = {s.id for s in systems}
    problems: list[Problem] = []
    for s in systems:
        unknown = [d for d in s.depends_on if d not in known and d not in first_row]
        if unknown:
            problems.append(Problem(f"{shown}:{s.row}", "depends_on", f"{s.id} depends on unknown system "
                                    f"{', '.join(unknown)}", "list systems that have a row in this catalogue"))
    return problems


def _row(cells: list[str], index: dict[str, int], row: int, shown: str,
         departments: set[str]) -> tuple[System | None, Problem | None]:
    """One row -> a System, or the first problem of the row (one line per bad row)."""
    at = f"{shown}:{row}"
    get = {c: cells[i].strip() for c, i in index.items()}
    if not SYSTEM_RE.match(get["system"]):
        return None, Problem(at, "system", f"{get['system']!r} is not a system id",
                             "use lowercase letters, digits and hyphens, starting with a letter (max 40)")
    if get["department"] not in departments:
        return None, Problem(at, "department", f"unknown department {get['department']!r}",
                             "use a department id from egov:departments in the stack file")
    try:
        level = int(get["dr_level"])
    except ValueError:
        level = 0
    if not 1 <= level <= 6:
        return None, Problem(at, "dr_level", f"{get['dr_level']!r} is not a DR level",
                             "use 1 to 6 (GB/T 20988, see docs/cloud-dr.md)")
    sizes: dict[str, int] = {}
    for col in ("vcpu", "ram_gb", "disk_gb"):
        try:
            value = int(get[col])
        except ValueError:
            return None, Problem(at, col, f"{get[col]!r} is not a whole number", "write a whole number like 8")
        if not 1 <= value <= LIMITS[col]:
            return None, Problem(at, col, f"{value} is out of range", f"use 1 to {LIMITS[col]}")
        sizes[col] = value
    deps = tuple(d.strip() for d in get["depends_on"].split(";") if d.strip())
    for d in deps:
        if not SYSTEM_RE.match(d):
            return None, Problem(at, "depends_on", f"{d!r} is not a system id", "separate system ids with ;")
    if get["system"] in deps:
        return None, Problem(at, "depends_on", f"{get['system']} depends on itself", "remove it from depends_on")
    if not ROOM_RE.match(get["current_room"]):
        return None, Problem(at, "current_room", f"{get['current_room']!r} is not a room id",
                             "name the machine room the system runs in today (letters, digits, - _ .)")
    return System(get["system"], get["department"], level, sizes["vcpu"], sizes["ram_gb"], sizes["disk_gb"],
                  tuple(dict.fromkeys(deps)), get["current_room"], row), None


def _cycles(systems: list[System]) -> list[tuple[int, list[str]]]:
    """Every dependency cycle once (strongly connected components, iteratively: no recursion limit)."""
    by_id = {s.id: s for s in systems}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[tuple[int, list[str]]] = []
    counter = 0
    for root, first in by_id.items():
        if root in index:
            continue
        work = [(root, iter(first.depends_on))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(by_id[nxt].depends_on)))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == node:
                        break
                if len(comp) > 1:
                    out.append(_cycle_path(comp, by_id))
    return sorted(out)


def _cycle_path(component: list[str], by_id: dict[str, System]) -> tuple[int, list[str]]:
    """One readable cycle through a component, starting at its earliest row."""
    members = set(component)
    start = min(component, key=lambda x: by_id[x].row)
    path, seen, cur = [start], {start}, start
    while True:
        nxt = next(d for d in by_id[cur].depends_on if d in members)
        if nxt in seen:
            path = path[path.index(nxt):] + [nxt]
            break
        path.append(nxt)
        seen.add(nxt)
        cur = nxt
    return by_id[path[0]].row, path
