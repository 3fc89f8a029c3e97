"""Run a validation document (egov.change.expect) against a live NAPALM driver.

NAPALM's ``compliance_report`` would stop at a getter the driver lacks (AttributeError) and only skips
``NotImplementedError``; here both become "not checked" for that entry, never "passed", and every entry
gets its own ``CheckResult``. The comparison itself is NAPALM's ``compare``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from napalm.base.validate import compare

from egov.change.contract import CheckResult
from egov.platforms import CHECK_GETTERS

#: getter -> the post-check name it serves (``--accept-unchecked``)
CHECK_OF = {g: c for c, getters in CHECK_GETTERS.items() for g in getters}


def _why(result: Any, path: str = "") -> list[str]:
    """NAPALM's nested comparison result as short reasons: ``eth1.is_up``, ``missing eth2``, ``extra eth9``."""
    if isinstance(result, bool):
        return [] if result else [path or "differs"]
    if not isinstance(result, dict) or result.get("complies", True):
        return []
    out = [f"missing {path + '.' if path else ''}{m}" if not isinstance(m, dict)
           else "missing " + " ".join(str(v).strip("^$").replace("\\", "") for v in m.values())
           for m in result.get("missing", [])]
    out += [f"extra {path + '.' if path else ''}{e}" for e in result.get("extra", [])]
    present = result.get("present")
    for key, sub in (present.items() if isinstance(present, dict) else ()):
        if isinstance(sub, dict) and not sub.get("complies", True):
            where = f"{path}.{key}" if path else str(key)
            if sub.get("nested"):
                out += _why(sub.get("diff", {}), where)
            else:
                out.append(f"{where} is {sub.get('actual_value')!r}")
    return out


def check_entry(drv: Any, getter: str, expected: dict[str, Any]) -> CheckResult:
    """One ``{getter: expected}`` entry; complies None when the driver cannot run the getter."""
    exp = copy.deepcopy(expected)
    name = exp.pop("_name", "") or getter
    kwargs = exp.pop("_kwargs", {})
    check = CHECK_OF.get(getter, getter)
    fn = getattr(drv, getter, None)
    if not callable(fn):
        return {"check": check, "getter": getter, "name": name, "complies": None, "detail": "no getter"}
    try:
        actual = fn(**kwargs)
    except NotImplementedError:
        return {"check": check, "getter": getter, "name": name, "complies": None, "detail": "not implemented"}
    res = compare(exp, copy.deepcopy(actual))
    complies = bool(res["complies"] if isinstance(res, dict) else res)
    detail = "" if complies else "; ".join(_why(res)[:3]) or "differs"
    return {"check": check, "getter": getter, "name": name, "complies": complies, "detail": detail}


def check_once(drv: Any, doc: list[dict[str, Any]]) -> list[CheckResult]:
    return [check_entry(drv, getter, expected) for entry in doc for getter, expected in entry.items()]


@dataclass
class Report:
    """What the post-checks found, and which of them could not run on this driver."""

    checks: list[CheckResult] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [f"{c['name']}: {c['detail']}" for c in self.checks if c["complies"] is False]

    @property
    def unchecked(self) -> list[str]:
        return list(dict.fromkeys(c["check"] for c in self.checks if c["complies"] is None))

    def refused(self, accept: Collection[str]) -> str:
        """Why the device fails its post-check, on one line; "" when it passes."""
        why = list(self.problems[:3])
        left = [c for c in self.unchecked if c not in accept]
        if left:
            why.insert(0, f"not checked: {', '.join(left)} (the driver has no getter); "
                          f"accept with --accept-unchecked {','.join(left)}")
        return "; ".join(why)

    def accepted(self) -> str:
        return (f"; not checked, accepted by the operator: {', '.join(self.unchecked)}"
                if self.unchecked else "")


def validate(drv: Any, doc: list[dict[str, Any]], wait: float) -> Report:
    """The document against the device, retried every second until it complies or ``wait`` runs out."""
    deadline = time.monotonic() + wait
    while True:
        rep = Report(check_once(drv, doc))
        if not rep.problems or time.monotonic() > deadline:
            return rep
        time.sleep(1.0)
