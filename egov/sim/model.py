"""What VRP8 and Comware 7 devices share: a config tree, a clock, commit history, sessions.

A simulated device knows nothing of SSH: a :class:`Session` takes one input line and returns the
text the router would print, then :meth:`Session.prompt` says what it prints next. Questions
(``[Y/N]:``, ``[Y(yes)/N(no)/C(cancel)]:``) are session state: the next line answers them, as on
the real CLI. Timers (a VRP8 trial, a Comware commit delay) run on a :class:`SimClock` that tests
can move forward; they fire whenever the device is touched and from the server's ticker.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from egov.sim.cli import Cursor

#: lines a device refused, as (line number, line, why): from loading a file or its startup config
FileErrors = list[tuple[int, str, str]]

#: both vendors print China Standard Time
CST = dt.timezone(dt.timedelta(hours=8))


class SimClock:
    """Wall time plus an offset tests can advance (the VRP trial minimum is 60 s)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclass(slots=True)
class Node:
    """One configuration line; a view line (``interface X``) has children."""

    text: str
    view: bool = False
    sep: bool = False  # a '#' separated it from the line before (kept so the display matches)
    children: list["Node"] = field(default_factory=list)

    def child(self, text: str) -> "Node | None":
        for c in self.children:
            if c.text == text:
                return c
        return None


#: lines a new value replaces instead of adding to (one description, one primary address, ...);
#: anything else is identified by its whole text
_SINGLE = re.compile(
    r"^(?:shutdown|description|bandwidth|sysname|router id|clock timezone|is-level|cost-style|is-name"
    r"|timer (?:lsp-generation|lsp-max-age|lsp-refresh|spf)|isis (?:ipv6 )?cost|isis circuit-type"
    r"|isis circuit-level|isis timer hello|isis timer holding-multiplier|isis (?:ipv6 )?bfd min-tx-interval"
    r"|bfd min-transmit-interval|bfd min-receive-interval|bfd detect-multiplier|ip binding vpn-instance"
    r"|idle-timeout|user privilege level|authentication-mode|protocol inbound|snmp-agent sys-info contact"
    r"|snmp-agent sys-info location|password|ssh server cipher|ssh server hmac|ssh server key-exchange"
    r"|ssh server dh-exchange|service-type|rule \d+|local-user \S+ password|local-user \S+ service-type"
    r"|local-user \S+ user-group|snmp-agent protocol source-interface|ssh server-source"
    r"|snmp-agent usm-user v3 \S+ authentication-mode|snmp-agent usm-user v3 \S+ privacy-mode"
    r"|snmp-agent usm-user v3 \S+ group|snmp-agent usm-user v3 \S+ acl)\b"
    r"|^ip address (?!.*\bsub$)")


@functools.lru_cache(maxsize=200_000)
def line_key(text: str) -> str:
    """What a line sets: lines with the same key replace each other (cached: a pure function of the
    text, called for every sibling of every line loaded)."""
    t = text[5:] if text.startswith("undo ") else text
    m = _SINGLE.match(t)
    return m.group(0).strip() if m else t


def apply_line(parent: Node, text: str, view: bool, sep: bool) -> Node:
    """Add or replace ``text`` under ``parent``; an ``undo`` removes what it names. Returns the node."""
    if view:
        node = parent.child(text)
        if node is None:
            node = Node(text, view=True, sep=sep)
            parent.children.append(node)
        return node
    if text.startswith("undo "):
        target = text[5:]
        before = len(parent.children)
        parent.children = [c for c in parent.children
                           if not (c.text == target or c.text.startswith(target + " "))]
        removed = before != len(parent.children)
        if removed and not target.startswith("shutdown"):
            return parent
    key = line_key(text)
    for i, c in enumerate(parent.children):
        if not c.view and line_key(c.text) == key:
            parent.children[i] = Node(text, sep=c.sep or sep)
            return parent.children[i]
    node = Node(text, sep=sep)
    parent.children.append(node)
    return node


def flatten(root: Node) -> list[tuple[tuple[str, ...], str]]:
    """(view path, line) for every line, views included as their own entries."""
    out: list[tuple[tuple[str, ...], str]] = []

    def walk(n: Node, path: tuple[str, ...]) -> None:
        for c in n.children:
            out.append((path, c.text))
            if c.view:
                walk(c, path + (c.text,))

    walk(root, ())
    return out


def diff_trees(old: Node, new: Node, indent: str = " ") -> list[str]:
    """``+``/``-`` lines with their view headers kept, the way VRP's candidate diff prints them."""
    out: list[str] = []

    def walk(a: Node | None, b: Node | None, depth: int, header: list[str]) -> None:
        achildren = a.children if a else []
        bchildren = b.children if b else []
        amap = {c.text: c for c in achildren}
        bmap = {c.text: c for c in bchildren}
        pending = list(header)

        def emit(line: str) -> None:
            nonlocal pending
            if pending:
                out.extend(pending)
                pending = []
            out.append(line)

        for c in achildren:
            if c.text not in bmap:
                emit(f"-{indent * depth}{c.text}")
                if c.view:
                    for sub in _lines(c, depth + 1, indent):
                        emit("-" + sub)
        for c in bchildren:
            if c.text not in amap:
                if c.view and not c.children and c.text.startswith("interface "):
                    from egov.sim.cli import physical
                    if physical(c.text):
                        continue
                emit(f"+{indent * depth}{c.text}")
                if c.view:
                    for sub in _lines(c, depth + 1, indent):
                        emit("+" + sub)
            elif c.view:
                before = len(out)
                walk(amap[c.text], c, depth + 1, pending + [f" {indent * depth}{c.text}"])
                if len(out) > before:
                    pending = []

    walk(old, new, 0, [])
    return out


def _lines(n: Node, depth: int, indent: str) -> list[str]:
    out = []
    for c in n.children:
        out.append(f"{indent * depth}{c.text}")
        if c.view:
            out.extend(_lines(c, depth + 1, indent))
    return out


def same_config(a: Node, b: Node) -> bool:
    return not diff_trees(a, b)


def render_blocks(root: Node, head: list[str], top_indent: str = "") -> str:
    """Both vendors' ``display current-configuration`` after its ``head`` lines: ``#`` between
    top-level blocks (and where the input had one), one space per view level, ``#`` and ``return``
    last. ``top_indent`` goes before top-level lines that are not views (Comware indents them)."""
    out = list(head)
    prev_view = True
    for n in root.children:
        if n.sep or n.view or prev_view:
            out.append("#")
        out.append(n.text if n.view else top_indent + n.text)
        _render_children(n, 1, out)
        prev_view = n.view
    out.append("#")
    out.append("return")
    return "\n".join(out) + "\n"


def _render_children(n: Node, depth: int, out: list[str]) -> None:
    for c in n.children:
        if c.sep:
            out.append(" " * depth + "#")
        out.append(" " * depth + c.text)
        if c.view:
            _render_children(c, depth + 1, out)


def flash_name(name: str) -> str:
    """The file a CLI argument names: ``flash:/a.cfg``, ``/a.cfg`` and ``a.cfg`` are the same file."""
    return name.split(":", 1)[-1].lstrip("/")


@dataclass(slots=True)
class Commit:
    """One point of the commit history (VRP8) or archive (Comware)."""

    id: str
    label: str
    user: str
    kind: str        # CLI | ROLLBACK | TRIAL-ROLLBACK | REPLACE
    when: float
    description: str
    before: Node
    after: Node


@dataclass(slots=True)
class Revert:
    """A change that undoes itself at ``deadline`` unless confirmed first (VRP8's commit trial,
    Comware's commit delay); ``before`` is the running config it goes back to."""

    deadline: float
    before: Node


@dataclass(slots=True)
class Question:
    """A pending question: the next line answers it."""

    text: str
    choices: str          # "YN" or "YNC"
    answer: Callable[[str], str]


@dataclass(slots=True)
class Faults:
    """Fault switches set by ``egov sim fault``."""

    reject_line: int = 0          # the Nth configuration line of each session (or of a loaded file) is rejected
    fail_commit: bool = False     # commit answers with an error, nothing changes
    drop_after_trial: bool = False  # the session is cut right after a trial commit
    unreachable: bool = False     # SSH connections are refused
    rollback_leftover: bool = False  # rollbacks leave one difference behind

    def file_errors(self, text: str) -> list[tuple[int, str, str]]:
        """``reject-line N`` on a loaded file: its Nth configuration line, as the parser reports errors."""
        if not self.reject_line:
            return []
        seen = 0
        for no, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith(("#", "!")) or line == "return" or line.startswith("version "):
                continue
            seen += 1
            if seen == self.reject_line:
                return [(no, line, "Unrecognized command (fault reject-line)")]
        return []

    def active(self) -> list[str]:
        out = []
        if self.reject_line:
            out.append(f"reject-line {self.reject_line}")
        for name in ("fail_commit", "drop_after_trial", "unreachable", "rollback_leftover"):
            if getattr(self, name):
                out.append(name.replace("_", "-"))
        return out


class Device:
    """State shared by every session of one router."""

    platform = ""
    #: the vendor's sentence for each way a line fails the grammar (unrecognized, wrong, ...)
    error_texts: ClassVar[dict[str, str]] = {}
    #: lines of a config file that are headers, not configuration (besides blank lines and ``return``)
    header_prefixes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, hostname: str, clock: SimClock | None = None, fabric: "object | None" = None):
        self.hostname = hostname
        self.clock = clock or SimClock()
        self.booted = self.clock.now()
        self.fabric = fabric
        #: bumped whenever running changes (replaced, or edited in place: Comware), so the fabric can
        #: cache what it derives from a config
        self.version = 0
        self.running = Node("")
        self.history: list[Commit] = []
        self.files: dict[str, str] = {}
        #: files the device wrote itself (save, archive): ``reject-line`` never hits those
        self.written: set[str] = set()
        self.faults = Faults()
        self.lock = threading.RLock()
        self.sessions = 0
        self.log: list[str] = []  # what happened on its own (timers), newest last
        self.drop_requested: set[int] = set()
        self.load(f"sysname {hostname}")

    @property
    def running(self) -> Node:
        return self._running

    @running.setter
    def running(self, tree: Node) -> None:
        self._running = tree
        self.version += 1

    @property
    def sysname(self) -> str:
        """The name prompts show: the running ``sysname`` (so a new one shows once it is in effect)."""
        for n in self.running.children:
            if n.text.startswith("sysname "):
                return n.text[8:]
        return self.hostname

    def local_time(self, when: float | None = None) -> dt.datetime:
        """``when`` (default: now, on the simulated clock) as the device's clock shows it."""
        return dt.datetime.fromtimestamp(when if when is not None else self.clock.now(), CST)

    # --- config text -------------------------------------------------------------------------
    def cursor(self) -> Cursor:
        """A fresh view stack over the vendor's grammar, at the system view."""
        raise NotImplementedError

    def load(self, text: str) -> FileErrors:
        """Parse a config text straight into running (startup config); returns rejected lines."""
        tree, errors = self.parse(text)
        self.running = tree
        return errors

    def parse(self, text: str) -> tuple[Node, FileErrors]:
        """A whole config file read the way the device loads one, each line in the view the lines
        before it entered; a refused line is reported with the vendor's sentence and skipped."""
        root = Node("")
        cur = self.cursor()
        errors = []
        for no, raw in enumerate(text.splitlines(), 1):
            s = raw.strip()
            if not s or s == "return" or s.startswith(self.header_prefixes):
                continue
            verdict, _ = cur.apply(root, raw, track=False)
            if not verdict.ok:
                errors.append((no, s, self.error_texts[verdict.kind].strip()))
        return root, errors

    def render(self, root: Node) -> str:
        raise NotImplementedError

    def snapshot(self) -> Node:
        return copy.deepcopy(self.running)

    # --- files on flash ----------------------------------------------------------------------
    def write_running(self, name: str) -> None:
        """Save running to flash as a file of the device's own (``reject-line`` spares it)."""
        self.files[name] = self.render(self.running)
        self.written.add(name)

    def read_file(self, name: str) -> tuple[Node, FileErrors]:
        """A flash file parsed to be loaded; an uploaded one also meets the ``reject-line`` fault."""
        text = self.files[name]
        tree, errors = self.parse(text)
        return tree, ([] if name in self.written else self.faults.file_errors(text)) + errors

    # --- timers ------------------------------------------------------------------------------
    def timer(self) -> Revert | None:
        """The pending change that reverts by itself, if any."""
        return None

    def expire(self, timer: Revert) -> None:
        """Revert what ``timer`` guards: it ran out unconfirmed."""

    def tick(self) -> None:
        """Fire the revert timer when it is due: on every line a session sends and from the server's
        ticker, so a change reverts even when its controller is gone."""
        with self.lock:
            timer = self.timer()
            if timer is not None and self.clock.now() >= timer.deadline:
                self.expire(timer)
