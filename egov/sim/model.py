"""What VRP8 and Comware 7 devices share: a config tree, a clock, commit history, sessions.

A simulated device knows nothing of SSH: a :class:`Session` takes one input line and returns the
text the router would print, then :meth:`Session.prompt` says what it prints next. Each vendor's
session lists the commands it answers itself (:class:`CliCommand`); any other line in system view
is configuration, checked by the vendor's grammar (egov/sim/grammar.py). Questions
(``[Y/N]:``, ``[Y(yes)/N(no)/C(cancel)]:``) are session state: the next line answers them, as on
the real CLI. Timers (a VRP8 trial, a Comware commit delay) run on a :class:`SimClock` that tests
can move forward; they fire whenever the device is touched and from the server's ticker.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from egov.sim.grammar import caret_column

if TYPE_CHECKING:
    from egov.sim.cli import Cursor
    from egov.sim.grammar import Verdict

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
    again: str = ""       # printed when the answer is not one of the choices (default: the question)


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


D = TypeVar("D", bound=Device)


@dataclass(frozen=True, slots=True)
class CliCommand:
    """A line a session answers itself; in system view anything else is a configuration line."""

    mode: str                   # "user", "system" or "any"
    pattern: re.Pattern[str]    # matched against the line, its white space folded
    handler: str                # the session method: (match) -> text, or None to pass the line on
    nocase: bool = False        # the CLI takes it in any case (``DISPLAY``)


def command(mode: str, pattern: str, handler: str, nocase: bool = False) -> CliCommand:
    """A :class:`CliCommand` (``nocase``: ASCII letters in any case, as ``str.lower`` compares them)."""
    return CliCommand(mode, re.compile(pattern, (re.ASCII | re.IGNORECASE) if nocase else 0), handler, nocase)


class CommandTable:
    """The commands of one mode in order, and one pattern that matches where any of them does: most
    lines in system view are configuration lines, and those then cost one match, not one a command."""

    def __init__(self, commands: list[CliCommand], mode: str):
        self.commands = [c for c in commands if c.mode in ("any", mode)]
        self.any = re.compile("|".join(f"(?{'ai' if c.nocase else ''}:{c.pattern.pattern})"
                                       for c in self.commands) or "(?!)")


class Session(Generic[D]):
    """One CLI session (one SSH channel) on a device: the view it is in, its pending question, and
    its command table. The vendor models give the table, the texts and what a configuration line
    edits (VRP8 a candidate, Comware running itself)."""

    #: printed when the session opens
    BANNER: ClassVar[str] = ""
    #: what ``system-view`` answers
    ENTER_SYSTEM: ClassVar[str] = ""
    #: tried in order; see :meth:`_dispatch`
    COMMANDS: ClassVar[list[CliCommand]] = []
    #: each vendor numbers its sessions from 1 (``abort trial session N``)
    _ids: ClassVar[Iterator[int]] = itertools.count(1)
    _tables: ClassVar[dict[str, CommandTable]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._ids = itertools.count(1)
        missing = [c.handler for c in cls.COMMANDS if not callable(getattr(cls, c.handler, None))]
        if missing:
            raise TypeError(f"{cls.__name__}.COMMANDS names no method {missing}")
        cls._tables = {mode: CommandTable(cls.COMMANDS, mode) for mode in ("user", "system")}

    def __init__(self, device: D, user: str = "netops"):
        self.device = device
        self.user = user
        self.id = next(self._ids)
        self.mode = "user"  # user | system
        self.cursor = device.cursor()
        self.question: Question | None = None
        self.config_lines = 0  # since system-view: what the reject-line fault counts
        self.closed = False
        self.drop = False  # the server should cut the connection now (fault)

    # --- prompt -------------------------------------------------------------------------------
    def banner(self) -> str:
        return self.BANNER

    def prompt(self) -> str:
        """``<host>`` in user view, ``[host-view]`` below; nothing while a question waits."""
        if self.question:
            return ""
        host = self.device.sysname
        if self.mode == "user":
            return f"<{host}>"
        return f"[{self._mark()}{host}{self.cursor.view.suffix}]"

    def _mark(self) -> str:
        """What the system-view prompt shows before the name (VRP8: whether there is a candidate)."""
        return ""

    def _error(self, line: str, word: int, kind: str) -> str:
        """The caret under word ``word`` of ``line`` (counted from the prompt) and the vendor's sentence."""
        col = len(self.prompt()) + caret_column(line, word)
        return " " * col + "^\n" + self.device.error_texts[kind]

    # --- input --------------------------------------------------------------------------------
    def handle(self, raw: str) -> str:
        """One input line -> what the device prints before the next prompt."""
        dev = self.device
        dev.tick()
        with dev.lock:
            if self.question:
                return self._answer(self.question, raw)
            line = " ".join(raw.split())
            if not line:
                return ""
            return self._dispatch(line, raw)

    def ask(self, text: str, answer: Callable[[str], str], choices: str = "YN", again: str = "") -> str:
        """Print a question; the next line answers it (``answer`` gets "Y", "N" or "C")."""
        self.question = Question(text, choices, answer, again)
        return text

    def _answer(self, q: Question, raw: str) -> str:
        ans = raw.strip().upper()
        if ans in ("Y", "YES", "N", "NO", "C", "CANCEL") and ans[0] in q.choices:
            self.question = None
            return q.answer(ans[0])
        return q.again or q.text

    def _dispatch(self, line: str, raw: str) -> str:
        """The first command of :attr:`COMMANDS` for this mode that matches and answers; else an
        error in user view, a configuration line in system view."""
        table = self._tables[self.mode]
        if table.any.match(line) is not None:
            for cmd in table.commands:
                m = cmd.pattern.match(line)
                if m is not None:
                    out = getattr(self, cmd.handler)(m)
                    if out is not None:
                        return out
        if self.mode == "user":
            return self._error(line, 0, "unrecognized")
        return self._config_line(line, raw)

    def _config_line(self, line: str, raw: str) -> str:
        """A configuration line: refused by the reject-line fault or the grammar, else applied."""
        dev = self.device
        self.config_lines += 1
        if dev.faults.reject_line and self.config_lines == dev.faults.reject_line:
            return self._error(line, 0, "unrecognized")
        verdict = self._apply(raw)
        if not verdict.ok:
            return self._error(line, verdict.pos, verdict.kind)
        return ""

    def _apply(self, raw: str) -> Verdict:
        """Apply a configuration line to what this session edits."""
        raise NotImplementedError

    # --- commands both vendors have ---------------------------------------------------------------
    def _ping(self, m: re.Match[str]) -> str:
        from egov.sim import outputs  # outputs imports this module

        text = outputs.ping(self.device, m.string, self.device.platform)
        return text if text is not None else self._error(m.string, 1, "wrong")

    def _system_view(self, m: re.Match[str]) -> str:
        self.mode = "system"
        self.cursor.reset()
        self.config_lines = 0
        return self.ENTER_SYSTEM

    def _close(self, m: re.Match[str]) -> str:
        self.closed = True
        return ""

    def _nothing(self, m: re.Match[str]) -> str:
        return ""

    def _return(self, m: re.Match[str]) -> str:
        return self._leave()

    def _quit(self, m: re.Match[str]) -> str:
        """Up one view; from the system view, back to user view."""
        if len(self.cursor.stack) == 1:
            return self._leave()
        self.cursor.stack.pop()
        return ""

    def _leave(self) -> str:
        """Back to user view (VRP8 asks first when there is an uncommitted candidate)."""
        self._to_user()
        return ""

    def _to_user(self) -> None:
        self.mode = "user"
        self.cursor.reset()
