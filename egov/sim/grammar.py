"""Command grammars: does a line match a syntax of the current view, and if not, where does it fail.

The syntax notation is Huawei's (and H3C's) command-reference notation: keywords, ``<param>``,
``[ optional ]``, ``{ a | b }`` (exactly one), and ``*`` after a group (one or more of its items, any
order). A real router answers a line it cannot match with a caret under the first word it could
not use and one sentence saying why; :meth:`Grammar.check` returns exactly that (position and
kind), so the device models can print each vendor's own wording.

Parameter values are checked against the rules the command reference states (integer ranges,
string lengths, IPv4/IPv6 forms, ``HH:MM:SS``); a value the rules forbid is a *wrong parameter*,
not an unrecognized command, as on the device.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from collections.abc import Iterable

# --- parameter rules ----------------------------------------------------------------------------

#: compact rule strings: "i:LO:HI" integer, "s:LO:HI" one word, "S:LO:HI" text with spaces (rest of
#: line), "v4" dotted decimal, "v6" IPv6 address, "v6p" IPv6/len, "t" HH:MM:SS, "k" keyword-like
#: (the parameter is written as its own name), "a" any one word
Rule = str

_INT = re.compile(r"integer (?:that )?(?:ranging|ranges|in the range)? ?(?:from )?(\d+) to (\d+)")
_RANGE = re.compile(r"[Tt]he value ranges from (\d+) to (\d+)")
_STR = re.compile(r"string of (\d+) to (\d+)")


def rule_from_info(name: str, info: str) -> Rule:
    """The rule a command reference's parameter description states (see module docstring)."""
    text = " ".join(info.split())
    if text.strip() in ("-", ""):
        return "k"
    low = text.lower()
    if "/prefix-length" in name or "address/prefix" in name or "/mask" in name:
        return "v6p" if "ipv6" in name or "x:x" in low else "a"
    ranges = [(int(a), int(b)) for a, b in _INT.findall(text) + _RANGE.findall(text)]
    if ranges and "dotted decimal" not in low:
        return f"i:{min(r[0] for r in ranges)}:{max(r[1] for r in ranges)}"
    if "x:x:x:x" in low:
        return "v6"
    if "dotted decimal" in low:
        return "v4"
    if "hh:mm:ss" in low:
        return "t"
    m = _STR.search(text)
    if m:
        spaces = ("spaces supported" in low and "not supported" not in low.split("spaces supported")[0][-5:]) \
            or "with spaces supported" in low or "spaces are supported" in low
        if "spaces not supported" in low or "without spaces" in low or "cannot contain spaces" in low \
                or "spaces not allowed" in low or "with spaces not supported" in low:
            spaces = False
        return f"{'S' if spaces else 's'}:{m.group(1)}:{m.group(2)}"
    return "a"


def value_ok(rule: Rule, word: str) -> bool:
    """Whether one word is a valid value under ``rule``."""
    kind = rule.split(":", 1)[0]
    if kind == "i":
        _, lo, hi = rule.split(":")
        return word.isdigit() and int(lo) <= int(word) <= int(hi)
    if kind in ("s", "S"):
        _, lo, hi = rule.split(":")
        return int(lo) <= len(word) <= int(hi)
    if kind == "v4":
        try:
            ipaddress.IPv4Address(word)
            return True
        except ValueError:
            return False
    if kind == "v6":
        try:
            ipaddress.IPv6Address(word)
            return True
        except ValueError:
            return False
    if kind == "v6p":
        try:
            ipaddress.IPv6Interface(word)
            return "/" in word
        except ValueError:
            return False
    if kind == "t":
        return bool(re.fullmatch(r"\d{1,2}:\d{2}:\d{2}", word))
    if kind == "if":
        return bool(_IFNAME.fullmatch(word))
    return True


_IFNAME = re.compile(r"(?:GigabitEthernet|Ten-GigabitEthernet|M-GigabitEthernet|LoopBack|Vlan-interface"
                     r"|Route-Aggregation|HundredGigE|FortyGigE|Tunnel|NULL)\d+(?:/\d+)*(?:\.\d+)?")


# --- syntax trees -------------------------------------------------------------------------------

@dataclass(slots=True)
class Kw:
    word: str


@dataclass(slots=True)
class Param:
    name: str
    rule: Rule = "a"


@dataclass(slots=True)
class Seq:
    items: list[Term] = field(default_factory=list)


@dataclass(slots=True)
class Alt:
    options: list[Seq]
    optional: bool = False
    repeat: bool = False


#: one element of a syntax tree
Term = Kw | Param | Seq | Alt


_TOKEN = re.compile(r"<[^>]*>|\[|\]|\{|\}|\||\*|[^\s\[\]{}|<>*]+")


def parse_syntax(text: str, rules: dict[str, Rule]) -> Seq:
    """One syntax line -> a tree. ``rules`` maps parameter names to their value rules."""
    toks = _TOKEN.findall(text)
    pos = 0

    def seq(stop: tuple[str, ...]) -> Seq:
        nonlocal pos
        out = Seq()
        while pos < len(toks) and toks[pos] not in stop:
            t = toks[pos]
            pos += 1
            if t in ("[", "{"):
                close = "]" if t == "[" else "}"
                options = [seq(("|", close))]
                while pos < len(toks) and toks[pos] == "|":
                    pos += 1
                    options.append(seq(("|", close)))
                pos += 1  # the closing bracket
                rep = pos < len(toks) and toks[pos] == "*"
                if rep:
                    pos += 1
                out.items.append(Alt(options, optional=(t == "["), repeat=rep))
            elif t == "*":
                continue
            elif t.startswith("<"):
                name = t[1:-1].strip()
                rule = rules.get(name, "a")
                if name.isdigit() or rule == "k":
                    out.items.append(Kw(name))
                else:
                    out.items.append(Param(name, rule))
            else:
                out.items.append(Kw(t))
        return out

    return seq(())


@dataclass(slots=True)
class Failure:
    """Where a line stopped matching and why: ``unrecognized``, ``wrong``, ``incomplete``, ``too-many``."""

    pos: int
    kind: str


class _Matcher:
    __slots__ = ("words", "lower", "fail")

    def __init__(self, words: list[str]):
        self.words = words
        self.lower = [w.lower() for w in words]
        self.fail = Failure(-1, "unrecognized")

    def _miss(self, pos: int, kind: str) -> None:
        if pos > self.fail.pos or (pos == self.fail.pos and kind == "wrong"):
            self.fail = Failure(pos, kind)

    def node(self, n: Term, starts: set[int]) -> set[int]:
        """The word positions ``n`` can end at, starting from any of ``starts`` (failures recorded)."""
        if isinstance(n, Seq):
            return self._seq(n, starts)
        if isinstance(n, Kw):
            return self._kw(n, starts)
        if isinstance(n, Param):
            return self._param(n, starts)
        if n.repeat:
            return self._repeat(n, starts)
        return self._choice(n, starts)

    def _seq(self, n: Seq, starts: set[int]) -> set[int]:
        """Items one after another; stops early once no position is left."""
        cur = starts
        for item in n.items:
            if not cur:
                break
            cur = self.node(item, cur)
        return cur

    def _kw(self, n: Kw, starts: set[int]) -> set[int]:
        """A keyword, compared without case (the CLI accepts ``Display``)."""
        out = set()
        for i in starts:
            if i < len(self.words) and self.lower[i] == n.word.lower():
                out.add(i + 1)
            else:
                self._miss(i, "incomplete" if i >= len(self.words) else "unrecognized")
        return out

    def _param(self, n: Param, starts: set[int]) -> set[int]:
        """A value checked against its rule; a value the rule forbids is a *wrong parameter*."""
        out: set[int] = set()
        for i in starts:
            if i >= len(self.words):
                self._miss(i, "incomplete")
            elif n.rule.startswith("S"):
                out |= self._text(n.rule, i)
            elif value_ok(n.rule, self.words[i]):
                out.add(i + 1)
            else:
                self._miss(i, "wrong")
        return out

    def _text(self, rule: Rule, i: int) -> set[int]:
        """Free text (``S:LO:HI``) runs to the end of the line, or stops before a later keyword; only
        the whole rest of the line is measured against the length limits."""
        out: set[int] = set()
        if value_ok(rule, " ".join(self.words[i:])) or len(" ".join(self.words[i:])) > 0:
            for j in range(i + 1, len(self.words) + 1):
                out.add(j)
            total = " ".join(self.words[i:])
            _, lo, hi = rule.split(":")
            if not int(lo) <= len(total) <= int(hi):
                out.discard(len(self.words))
                self._miss(i, "wrong")
        return out

    def _repeat(self, n: Alt, starts: set[int]) -> set[int]:
        """``{ a | b } *`` / ``[ a | b ] *``: one or more of the options, any order, until no new
        position is reached."""
        reach = set(starts) if n.optional else set()
        frontier = set(starts)
        first = True
        seen: set[int] = set(starts)
        while frontier:
            nxt: set[int] = set()
            for opt in n.options:
                nxt |= self.node(opt, frontier)
            nxt.discard(-1)
            new = nxt - seen if not first else nxt
            first = False
            reach |= nxt
            seen |= nxt
            frontier = {p for p in new if p <= len(self.words)}
            frontier = {p for p in frontier if p not in starts} if frontier else frontier
            if not new:
                break
        return reach

    def _choice(self, n: Alt, starts: set[int]) -> set[int]:
        """``{ a | b }`` exactly one option; ``[ a | b ]`` also none."""
        out = set(starts) if n.optional else set()
        for opt in n.options:
            if not opt.items:
                out |= starts
                continue
            out |= self.node(opt, starts)
        return out


def match(tree: Seq, words: list[str]) -> tuple[bool, Failure]:
    """Whether ``words`` is a sentence of ``tree``; if not, the failure furthest into the line."""
    m = _Matcher(words)
    ends = m.node(tree, {0})
    if len(words) in ends:
        return True, m.fail
    if ends:
        longest = max(ends)
        if longest >= m.fail.pos:
            return False, Failure(longest, "too-many")
    return False, m.fail


@dataclass(slots=True)
class Command:
    title: str
    syntaxes: list[str]
    rules: dict[str, Rule]
    _trees: list[Seq] | None = None

    def trees(self) -> list[Seq]:
        if self._trees is None:  # compiled on first use: a province uses a few dozen commands
            self._trees = [parse_syntax(s, self.rules) for s in self.syntaxes]
        return self._trees


@dataclass(slots=True)
class Verdict:
    ok: bool
    pos: int = 0          # index of the word the caret points at
    kind: str = ""        # unrecognized | wrong | incomplete | too-many
    command: str = ""     # the command (title) that matched, when ok


#: verdicts kept by Grammar.check before the memo starts over (a province has ~300,000 distinct lines)
MEMO = 400_000


class Grammar:
    """Commands per view, indexed by first word (and by the word after ``undo``)."""

    def __init__(self, commands: Iterable[tuple[Command, list[str]]]):
        self._memo: dict[tuple[tuple[str, ...], str], Verdict] = {}
        self.by_view: dict[str, dict[str, list[Command]]] = {}
        for cmd, views in commands:
            for v in views:
                idx = self.by_view.setdefault(v, {})
                for s in cmd.syntaxes:
                    words = s.split()
                    if not words:
                        continue
                    key = words[0].lower() if words[0] != "undo" or len(words) < 2 else "undo " + words[1].lower()
                    bucket = idx.setdefault(key, [])
                    if not bucket or bucket[-1] is not cmd:
                        bucket.append(cmd)

    def views(self) -> list[str]:
        return sorted(self.by_view)

    def check(self, views: Iterable[str], line: str) -> Verdict:
        """Match ``line`` against every command of ``views``; the best failure if none matches.

        Memoised per (views, line): a province's configs repeat most lines ("isis enable 1", timers,
        ACL rules), and matching is most of the simulator's CPU when it loads a candidate."""
        key = (tuple(views), line)
        hit = self._memo.get(key)
        if hit is None:
            if len(self._memo) >= MEMO:
                self._memo.clear()
            hit = self._memo[key] = self._check(key[0], line)
        return hit

    def _check(self, views: Iterable[str], line: str) -> Verdict:
        words = line.split()
        if not words:
            return Verdict(True)
        key = words[0].lower() if words[0].lower() != "undo" or len(words) < 2 else "undo " + words[1].lower()
        best = Failure(0, "unrecognized")
        seen: set[int] = set()
        for v in views:
            for cmd in self.by_view.get(v, {}).get(key, ()):
                if id(cmd) in seen:
                    continue
                seen.add(id(cmd))
                for tree in cmd.trees():
                    ok, fail = match(tree, words)
                    if ok:
                        return Verdict(True, command=cmd.title)
                    if fail.pos > best.pos or (fail.pos == best.pos and best.kind == "unrecognized"):
                        best = fail
        if best.pos >= len(words) and best.kind != "incomplete":
            best = Failure(len(words), "incomplete")
        return Verdict(False, best.pos, best.kind)


def caret_column(line: str, word_index: int) -> int:
    """Column of word ``word_index`` in ``line`` (the end of the line when past the last word)."""
    pos = 0
    for i, m in enumerate(re.finditer(r"\S+", line)):
        if i == word_index:
            return m.start()
        pos = m.end()
    return pos + 1 if word_index > 0 else 0


# --- the VRP8 grammar shipped with egov ---------------------------------------------------------

DATA = Path(__file__).with_name("data")
VRP8_GRAMMAR = DATA / "vrp8-ne40e-v800r012c10.json.gz"


def compact(src: Path, dst: Path) -> int:
    """Build the compact grammar from the NAssim NE40E corpus (jsonl.gz): syntax, views, rules only.

    The prose, examples and defaults are dropped, so the shipped file is small and loads fast."""
    views: dict[str, int] = {}
    cmds = []
    with gzip.open(src, "rt") as fh:
        for raw in fh:
            d = json.loads(raw)
            rules: dict[str, Rule] = {}
            for p in d.get("params", []):
                name = p["p"].split()[-1]
                rules.setdefault(name, rule_from_info(name, p.get("info", "")))
            used = {t[1:-1].strip() for s in d["clis"] for t in re.findall(r"<[^>]*>", s)}
            cmds.append([d["title"], d["clis"], [views.setdefault(v, len(views)) for v in d["views"]],
                         {k: v for k, v in rules.items() if k in used or v == "k"}])
    out = {"source": "AmyWorkspace/nassim @0ecc9ba (MIT), NE40E V800R012C10 command reference",
           "views": sorted(views, key=views.__getitem__), "commands": cmds}
    with gzip.open(dst, "wt", compresslevel=9) as fh:
        json.dump(out, fh, separators=(",", ":"))
    return len(cmds)


@cache
def vrp8_grammar(path: Path = VRP8_GRAMMAR) -> Grammar:
    """The VRP8 grammar, loaded once per process and shared by every simulated device."""
    with gzip.open(path, "rt") as fh:
        data = json.load(fh)
    names = data["views"]
    return Grammar((Command(t, clis, rules), [names[i] for i in vs]) for t, clis, vs, rules in data["commands"])


if __name__ == "__main__":  # python -m egov.sim.grammar SRC.jsonl.gz
    import sys

    n = compact(Path(sys.argv[1]), VRP8_GRAMMAR)
    print(f"{VRP8_GRAMMAR}: {n} commands, {VRP8_GRAMMAR.stat().st_size} bytes")
