"""Mask secrets in configurations before they are stored or shown (backups, diffs, logs), and fill
them back in from the device when a backup is restored.

The patterns are the platforms' own (``Platform.masks`` in egov/platforms.py); all of them apply to
every text, since a backup's platform is not always known to the reader.
"""

from __future__ import annotations

import re

from egov.platforms import PLATFORMS

MASK = "<masked>"

_PATTERNS = [re.compile(p, re.M) for p in dict.fromkeys(p for pl in PLATFORMS.values() for p in pl.masks)]
#: what a mask stands for inside a line: one token, or a quoted string (Junos)
_VALUE = r'("[^"]*"|\S+)'


def mask(text: str, known: list[str] | tuple[str, ...] = ()) -> str:
    """Replace known secret values, then anything in a secret-bearing position, with <masked>."""
    for value in sorted((k for k in known if k and len(k) >= 4), key=len, reverse=True):
        text = text.replace(value, MASK)
    for pat in _PATTERNS:
        if pat.groups == 4:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}{MASK}", text)
        else:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def _views(text: str) -> dict[tuple[str, ...], list[str]]:
    """{chain of enclosing view lines: its lines (stripped)}: a line's views are the lines above it that
    are indented less, nearest last, which is how VRP, Comware, FRR, IOS and Junos nest their configs."""
    out: dict[tuple[str, ...], list[str]] = {}
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        indent = len(raw) - len(raw.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        out.setdefault(tuple(v for _, v in stack), []).append(line)
        stack.append((indent, line))
    return out


def unmask(text: str, running: str) -> tuple[str, list[int]]:
    """``text`` (a masked backup) with each <masked> filled from the same line, under the same chain of
    views, of the device's ``running`` config; and the numbers of the lines it could not fill.

    A backup never holds a secret (mask() took it out before it was stored), so restoring one must
    not send <masked> to a device: the secret the device holds now is the only one there is. A line
    whose counterpart is gone (the change removed that user, say), or that matches more than one line
    with different secrets, cannot be filled; the caller refuses the restore rather than guess."""
    if MASK not in text:
        return text, []
    have = _views(running)
    out: list[str] = []
    missing: list[int] = []
    stack: list[tuple[int, str]] = []
    for no, raw in enumerate(text.splitlines(keepends=True), 1):
        body = raw.rstrip("\r\n")
        line = body.strip()
        indent = len(body) - len(body.lstrip())
        while line and stack and stack[-1][0] >= indent:
            stack.pop()
        if MASK in line:
            rx = re.compile("^" + _VALUE.join(re.escape(p) for p in line.split(MASK)) + "$")
            found = {m.groups() for cand in have.get(tuple(v for _, v in stack), []) for m in [rx.match(cand)] if m}
            if len(found) != 1:
                missing.append(no)
            else:
                for value in found.pop():
                    body = body.replace(MASK, value, 1)
                raw = body + raw[len(raw.rstrip("\r\n")):]
        out.append(raw)
        if line:
            stack.append((indent, line))
    return "".join(out), missing
