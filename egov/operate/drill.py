"""Fault drills: inject a scripted series of faults, let measurement detect them, run the runbooks, report.

The drill proves the whole chain a NOC relies on, end to end and against the clock: a fault happens
(injected into the running lab), the exporter detects it (by trap or poll) and opens a fault record,
the matching runbook runs its machine steps and records them on that fault, the fault is repaired and
the exporter clears it. The report gives, per fault, when each of those happened; the SLA engine
gives availability over the drill.

This module knows nothing of the lab: the CLI hands in ``inject`` (what makes a fault happen) and the
fault store the exporter writes to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egov.errors import EgovError, Problem

FaultKind = Literal["link-cut", "link-down", "router-down", "service-down"]

#: which fault record each injected kind should open, and which runbook handles it
EXPECT: dict[str, tuple[str, str]] = {
    "link-cut": ("link", "link-down"),
    "link-down": ("link", "link-down"),
    "router-down": ("router", "router-down"),
    "service-down": ("service", "service-down"),
}


class DrillFault(BaseModel):
    """One fault of the script: what breaks, for how long at most, and how long detection may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: FaultKind
    #: a link as A~B, a router name, or a hosted service name
    target: str = Field(min_length=1, max_length=120)
    #: repair after the runbook has run, or after this many seconds if detection never came
    hold: float = Field(30.0, gt=0, le=3600)
    #: how long detection may take before the fault counts as missed (default: one poll interval plus
    #: the time that poll may take, its SNMP timeout and retries)
    detect_within: float | None = Field(None, gt=0, le=3600)
    #: run the matching runbook once the fault is detected
    runbook: bool = True


class DrillScript(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field("drill", min_length=1, max_length=80)
    #: seconds between one fault's clearing and the next injection
    settle: float = Field(5.0, ge=0, le=600)
    #: how long a repaired fault may take to be cleared by the exporter
    clear_within: float = Field(90.0, gt=0, le=3600)
    faults: list[DrillFault] = Field(min_length=1, max_length=100)


def load_script(path: Path) -> DrillScript:
    """A drill script (YAML); bad input is refused in one line naming file and field."""
    shown = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EgovError.one(shown, "", f"cannot read ({exc.strerror or exc.__class__.__name__})",
                            "check the path of --script") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}" if mark else shown
        raise EgovError.one(where, "", "malformed YAML", "fix the YAML syntax (see docs/guide-noc.md)") from None
    if not isinstance(raw, dict):
        raise EgovError.one(shown, "", "a drill script is a mapping with a faults: list",
                            "see drills/default.yaml for the format")
    try:
        return DrillScript.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(script)"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(Problem(shown, loc, msg, "see drills/default.yaml for the format"))
        raise EgovError(problems) from None


@dataclass
class DrillResult:
    """One injected fault, as the drill saw it happen."""

    kind: str
    target: str
    injected: float
    fault_id: int | None = None
    fault_target: str = ""
    detected: float | None = None
    detected_by: str = ""
    detection_s: float | None = None
    detect_within: float = 0.0
    runbook: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    repaired: float | None = None
    cleared: float | None = None
    within_target: bool | None = None
    problem: str = ""

    @property
    def detected_in_time(self) -> bool:
        return self.detection_s is not None and self.detection_s <= self.detect_within

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "fault_id": self.fault_id,
                "fault_target": self.fault_target, "injected": self.injected, "detected": self.detected,
                "detected_by": self.detected_by, "detection_s": self.detection_s,
                "detected_in_time": self.detected_in_time, "detect_within_s": self.detect_within,
                "runbook": self.runbook, "runbook_steps": self.steps, "repaired": self.repaired,
                "cleared": self.cleared, "within_target": self.within_target, "problem": self.problem}


#: a poll-detected fault is judged once the whole cycle is in: the other routers' answers and the
#: fault engine's pass take up to about this long after the slowest poll
CYCLE_SLACK = 1.0

#: (kind, target, action) -> when the fault took effect (epoch seconds)
Inject = Callable[[str, str, str], float]
#: (runbook id, target, fault id) -> the steps as recorded
RunRunbook = Callable[[str, str, int], list[dict[str, Any]]]


def _matches(fault: Any, kind: str, target: str, link_keys: dict[str, str]) -> bool:
    if fault.kind != kind:
        return False
    if kind == "link":
        return fault.target == link_keys.get(target, target)
    return bool(fault.target == target)


def run_drill(script: DrillScript, *, profile: str, store: Any, inject: Inject, run_runbook: RunRunbook,
              interval: float, link_keys: dict[str, str], target_s: float = 10800.0,
              progress: Callable[[str], None] | None = None, poll_every: float = 0.25,
              poll_budget: float = 0.0) -> list[DrillResult]:
    """Inject each fault in turn; wait for the exporter's fault record; run its runbook; repair; wait for the clear."""
    say = progress or (lambda _m: None)
    results: list[DrillResult] = []
    for n, f in enumerate(script.faults, 1):
        kind, book = EXPECT[f.kind]
        within = f.detect_within or interval + poll_budget + CYCLE_SLACK
        action = {"link-cut": "cut"}.get(f.kind, "down")
        say(f"[{n}/{len(script.faults)}] inject {f.kind} {f.target}")
        at = inject(f.kind, f.target, action)
        r = DrillResult(f.kind, f.target, at, detect_within=within, runbook=book if f.runbook else "")
        results.append(r)
        found = None
        deadline = time.time() + max(within * 3, f.hold)
        while time.time() < deadline:
            found = next((x for x in store.faults(profile, since=at - 1.0)
                          if _matches(x, kind, f.target, link_keys) and x.detected >= at - 1.0), None)
            if found:
                break
            time.sleep(poll_every)
        if found is None:
            r.problem = f"not detected within {deadline - at:.0f} s"
            say(f"[{n}/{len(script.faults)}] {f.kind} {f.target}: NOT detected")
        else:
            r.fault_id, r.fault_target = found.id, found.target
            r.detected, r.detected_by = found.detected, found.detected_by
            r.detection_s = max(0.0, found.detected - at)
            say(f"[{n}/{len(script.faults)}] detected by {found.detected_by} after {r.detection_s:.1f} s "
                f"(fault {found.id})")
            if f.runbook:
                r.steps = run_runbook(book, found.target if kind != "link" else f.target, found.id)
                done = sum(1 for s in r.steps if s["status"] in ("ok", "failed"))
                say(f"[{n}/{len(script.faults)}] runbook {book}: {done} machine step(s) done, "
                    f"{'handed to a person' if any(s['status'] == 'needs_person' for s in r.steps) else 'finished'}")
        left = at + f.hold - time.time()
        if found is None or not f.runbook:
            time.sleep(max(0.0, left))
        r.repaired = inject(f.kind, f.target, {"cut": "heal", "down": "up"}[action])
        if found is not None:
            deadline = time.time() + script.clear_within
            while time.time() < deadline:
                cur = store.get(found.id)
                if cur is not None and cur.cleared is not None:
                    r.cleared = cur.cleared
                    break
                time.sleep(poll_every)
            if r.cleared is None:
                r.problem = f"not cleared within {script.clear_within:.0f} s of the repair"
            else:
                r.within_target = (r.cleared - found.start) <= target_s
                say(f"[{n}/{len(script.faults)}] cleared {max(0.0, r.cleared - r.repaired):.1f} s after the repair")
        if n < len(script.faults):
            time.sleep(script.settle)
    return results


def summary(results: list[DrillResult]) -> dict[str, Any]:
    detected = [r for r in results if r.detection_s is not None]
    return {
        "faults": len(results),
        "detected": len(detected),
        "detected_in_time": sum(1 for r in results if r.detected_in_time),
        "cleared": sum(1 for r in results if r.cleared is not None),
        "within_target": sum(1 for r in results if r.within_target),
        "detection_s_max": max((r.detection_s for r in detected if r.detection_s is not None), default=None),
        "by": {b: sum(1 for r in detected if r.detected_by == b) for b in sorted({r.detected_by for r in detected})},
        "ok": all(r.detected_in_time and r.cleared is not None and not r.problem for r in results),
    }
