"""The interpreter both vendors share: views, upward matching, and a cursor over a config tree.

A line that does not match in the current view is tried in the enclosing views, innermost first,
and the cursor moves there when one matches: this is how a pasted ``display current-configuration``
loads on both VRP8 and Comware (VRP8 calls it ``terminal command forward matched upper-view``; its
default is unverified, see docs/vrp-comware.md, so the drivers never depend on it for merges).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Callable

from egov.sim.grammar import Grammar, Verdict
from egov.sim.model import Node, apply_line


@dataclass(frozen=True, slots=True)
class View:
    """One level of the view stack: the grammar views it allows and its prompt suffix."""

    names: tuple[str, ...]
    suffix: str          # appended to the hostname in the prompt: "-GigabitEthernet0/1/1"
    line: str = ""       # the config line that entered it ("" for the system view)


#: a view entry: (line regex, parent grammar view that must be current, function -> View)
ViewRule = tuple[re.Pattern[str], str, Callable[[re.Match[str], "View"], View]]


class Cursor:
    """Applies config lines to a tree the way the CLI would, one view stack per session."""

    def __init__(self, grammar: Grammar, rules: list[ViewRule], system: View,
                 normalise: Callable[[str], str] = lambda s: s):
        self.grammar = grammar
        self.rules = rules
        self.system = system
        self.normalise = normalise
        self.stack: list[View] = [system]
        self.sep = False

    def reset(self) -> None:
        self.stack = [self.system]
        self.sep = False

    @property
    def view(self) -> View:
        return self.stack[-1]

    def path(self, depth: int | None = None) -> list[str]:
        return [v.line for v in self.stack[1:depth]]

    def node(self, root: Node, depth: int | None = None) -> Node:
        """The tree node of the current view (created if a parallel candidate lost it)."""
        n = root
        for text in self.path(depth):
            nxt = n.child(text)
            if nxt is None:
                nxt = apply_line(n, text, True, False)
            n = nxt
        return n

    def _entered(self, line: str, level: int) -> View | None:
        parent = self.stack[level]
        for rx, parent_view, make in self.rules:
            if parent_view in parent.names:
                m = rx.match(line)
                if m:
                    return make(m, parent)
        return None

    def apply(self, root: Node, raw: str, track: bool = True) -> tuple[Verdict, bool]:
        """Apply one line to ``root``. Returns (verdict, changed); ``track=False`` (loading a whole
        file) skips working out ``changed``."""
        line = " ".join(raw.split())
        if not line or line.startswith("#"):
            if line.startswith("#"):
                self.sep = True
            return Verdict(True), False
        line = self.normalise(line)
        first: Verdict | None = None
        for level in range(len(self.stack) - 1, -1, -1):
            verdict = self.grammar.check(self.stack[level].names, line)
            if first is None:
                first = verdict
            if not verdict.ok:
                continue
            del self.stack[level + 1:]
            entered = self._entered(line, level)
            parent = self.node(root)
            before = _fingerprint(parent) if track else ()
            node = apply_line(parent, line, entered is not None, self.sep)
            self.sep = False
            changed = track and _fingerprint(parent) != before
            if entered is not None:
                self.stack.append(entered)
                if not node.children and physical(line):
                    changed = False  # a port exists whether or not it is configured
            return verdict, changed
        assert first is not None
        return first, False


_PHYSICAL = re.compile(r"^interface (?:GigabitEthernet|M-GigabitEthernet|Ten-GigabitEthernet|\d+GE)[\d/]+$")


def physical(line: str) -> bool:
    """A port that exists on the hardware: entering its view changes nothing by itself."""
    return bool(_PHYSICAL.match(line))


def _fingerprint(n: Node) -> tuple:
    return tuple((c.text, len(c.children)) for c in n.children)
