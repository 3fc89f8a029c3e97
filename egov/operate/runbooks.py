"""NOC runbooks: Markdown a person reads at 3 a.m., with a header a machine runs.

A runbook is ``runbooks/<id>.md``: YAML front matter (id, title, the fault kind that triggers it,
severity, steps), then prose. A step either ``run``s a named action (egov.operate.actions: collect
show output, check IS-IS/BFD and counters against the plan, find the other uplink, roll back the
last change...) or says what a person must ``do``. ``egov runbook run`` executes the machine steps in
order, records each one's result and time on the fault it belongs to, and stops at the first step
that needs a person, printing what to do (Rundeck's and PagerDuty's runbook automation work the
same way: automate the diagnosis, hand over the judgement).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from egov.errors import EgovError, Problem

Severity = Literal["critical", "major", "minor", "warning"]
Trigger = Literal["link", "router", "service", "management", "bandwidth", "change", "dr"]
_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


class Step(BaseModel):
    """One step: an action a machine runs (``run``), or what a person does (``do``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    title: str = Field(min_length=3, max_length=120)
    run: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,40}$")
    do: str | None = Field(None, min_length=10, max_length=2000)
    #: arguments of the action (``run`` steps only)
    args: dict[str, Any] = {}
    #: what to look at (both kinds): shown before the step runs or is handed over
    look: str = ""

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if (self.run is None) == (self.do is None):
            raise ValueError("a step has exactly one of run (an action) or do (what a person does)")
        if self.args and self.run is None:
            raise ValueError("args only go with run")
        return self


class Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,31}$")
    title: str = Field(min_length=3, max_length=120)
    trigger: Trigger
    severity: Severity
    #: what the target names: a link (A~B), a router, a service, a cloud system
    target: Literal["link", "router", "service", "system"]
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> Header:
        ids = [s.id for s in self.steps]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup:
            raise ValueError(f"step id {dup!r} is used twice")
        return self


@dataclass(frozen=True)
class Runbook:
    path: Path
    header: Header
    body: str

    @property
    def id(self) -> str:
        return self.header.id


def load(path: Path, actions: set[str] | None = None) -> Runbook:
    """Read one runbook; a bad header is refused in one line naming the file and the field."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EgovError.one(shown, "", f"cannot read ({exc.__class__.__name__})", "check the file") from None
    m = _FRONT.match(text)
    if not m:
        raise EgovError.one(shown, "(header)", "no YAML header between --- lines at the top",
                            "start the file with ---, the header (id, title, trigger, severity, target, steps), ---")
    try:
        raw = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 2}" if mark else shown
        what = getattr(exc, "problem", None) or "malformed"
        raise EgovError.one(where, "(header)", f"malformed YAML ({what})",
                            "fix the header's YAML syntax (quote values that contain ': ')") from None
    if not isinstance(raw, dict):
        raise EgovError.one(shown, "(header)", "the header is not a mapping", "write key: value lines")
    try:
        header = Header.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            field_path = ".".join(str(p) for p in err["loc"]) or "(header)"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"].replace("Value error, ", "")
            problems.append(Problem(shown, field_path, msg, "see runbooks/README.md for the header format"))
        raise EgovError(problems) from None
    if header.id != path.stem:
        raise EgovError.one(shown, "id", f"id {header.id!r} differs from the file name",
                            f"name the file {header.id}.md or set id: {path.stem}")
    if actions is not None:
        for i, s in enumerate(header.steps):
            if s.run is not None and s.run not in actions:
                raise EgovError.one(shown, f"steps.{i}.run", f"no action named {s.run!r}",
                                    f"use one of: {', '.join(sorted(actions))}")
    return Runbook(path, header, text[m.end():])


def load_all(folder: Path, actions: set[str] | None = None) -> dict[str, Runbook]:
    books = {}
    for p in sorted(folder.glob("*.md")):
        if p.name.lower() == "readme.md":
            continue
        rb = load(p, actions)
        books[rb.id] = rb
    return books


# --- running ------------------------------------------------------------------------------------

@dataclass
class StepResult:
    step: str
    title: str
    status: Literal["ok", "failed", "needs_person", "error"]
    detail: str
    started: float
    finished: float
    data: dict[str, Any] = field(default_factory=dict)


#: an action: (arguments of the step, the run's context) -> (ok?, one-line detail, data)
Action = Callable[[dict[str, Any], "RunContext"], tuple[bool, str, dict[str, Any]]]


@dataclass
class RunContext:
    """What a run knows: its target, the plan, and the endpoints the CLI resolved (never the lab itself)."""

    runbook: Runbook
    target: str
    facts: dict[str, Any] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)


def run(rb: Runbook, ctx: RunContext, actions: dict[str, Action],
        record: Callable[[StepResult], None] | None = None,
        progress: Callable[[Step], None] | None = None) -> list[StepResult]:
    """Run machine steps in order; stop at the first step that needs a person or fails outright."""
    for step in rb.header.steps:
        if progress:
            progress(step)
        t0 = time.time()
        if step.do is not None:
            res = StepResult(step.id, step.title, "needs_person", step.do, t0, t0)
        else:
            try:
                ok, detail, data = actions[step.run or ""](dict(step.args), ctx)
                res = StepResult(step.id, step.title, "ok" if ok else "failed", detail, t0, time.time(), data)
            except EgovError as exc:
                res = StepResult(step.id, step.title, "error", str(exc.problems[0]), t0, time.time())
            except Exception as exc:  # noqa: BLE001 - a broken action is a result, not a crash of the run
                first = (str(exc).strip().splitlines() or [""])[0]
                res = StepResult(step.id, step.title, "error", f"{exc.__class__.__name__}: {first}", t0, time.time())
        ctx.results.append(res)
        if record:
            record(res)
        if res.status in ("needs_person", "error"):
            break
    return ctx.results
