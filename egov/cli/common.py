"""What every ``egov`` command shares: the consoles, one-line messages, the checked plan, options.

Messages are plain text: a value or a path is printed as it is (no rich markup, no emoji codes, so
``lab.yaml:100:`` stays ``lab.yaml:100:``), and a message is one line however narrow the terminal
or however long a CI log line gets. Rich is kept for tables and progress bars.
"""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from egov.errors import Problem
from egov.limit import match_limit
from egov.plan.load import display_path
from egov.topology.addressing import write_lock
from egov.topology.validate import Plan, build_plan

__all__ = ["FrozenOpt", "ProfileOpt", "checked_plan", "err", "fail", "match_limit", "out", "say"]


def _console(stderr: bool = False) -> Console:
    probe = Console(stderr=stderr)
    # pipes and CI logs get a readable width instead of rich's 80-column fallback (tables only:
    # messages never wrap, see say())
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False,
                   width=None if probe.is_terminal else 140)


out = _console()
err = _console(stderr=True)


def say(message: str, *, stderr: bool = False, style: str | None = None) -> None:
    """One message, one line, exactly as given (coloured only on a terminal)."""
    console = err if stderr else out
    if style and console.is_terminal:
        console.print(Text(message, style=style), soft_wrap=True)
        return
    stream = sys.stderr if stderr else sys.stdout
    stream.write(message + "\n")
    stream.flush()


ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help="Profile name in inventory/ or a path to YAML.")]
FrozenOpt = Annotated[bool, typer.Option("--frozen", help="Fail instead of updating the lock file (CI, production).")]


def fail(problems: list[Problem]) -> NoReturn:
    """Print every problem (one line each) and exit 1."""
    for p in problems:
        say(str(p), stderr=True)
    say(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found; nothing written.", stderr=True,
        style="red")
    raise typer.Exit(1)


def checked_plan(profile: str, frozen: bool) -> Plan:
    """Build the plan; stop on violations; bring the lock file up to date (unless frozen)."""
    plan = build_plan(profile)
    if plan.problems:
        fail(plan.problems)
    alloc = plan.allocation
    if alloc.changed:
        lock = plan.loaded.lock_path
        counts = (f"{alloc.added} new allocations, {alloc.released} released"
                  + (f", {alloc.quarantined} addresses quarantined" if alloc.quarantined else ""))
        if frozen:
            fail([Problem(display_path(lock), "", f"out of date ({counts})",
                          "run without --frozen and commit the lock file")])
        write_lock(lock, alloc.lock)
        say(f"lock: {display_path(lock)} updated ({counts})", stderr=True)
    return plan
