"""One device, one action: ``run(DeviceRequest) -> DeviceResult`` (see egov.change.contract).

Called by the runner's thread pool and by the Ansible module alike. A result's status is one of
ok / changed / failed / unreachable / not_checked with a one-line ``msg``; a device is never left
half-configured: a failed commit or post-check is rolled back before returning. A post-check the
driver cannot run is reported as not checked, never as passed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from egov.change.contract import (
    ACTIONS,
    CHECKS,
    STATUSES,
    DeviceRequest,
    DeviceResult,
    Target,
    one_of,
    result,
)
from egov.change.mask import MASK, mask, unmask
from egov.change.verify import Report, validate
from egov.platforms import PLATFORMS

__all__ = ["ACTIONS", "CHECKS", "STATUSES", "DeviceRequest", "Target", "connect", "one_of", "run",
           "run_action"]


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}"[:300]


def _show_running(device_type: str) -> str:
    """The running-config command of the platform using this netmiko device type."""
    return next((p.show_running for p in PLATFORMS.values() if p.netmiko_device_type == device_type),
                "show running-config")


def netmiko_session(t: Target) -> Any:
    from netmiko import ConnectHandler

    return ConnectHandler(device_type=t.netmiko_device_type, host=t.address, port=t.port, username=t.username,
                          password=t.password or None, key_file=t.key_file, use_keys=bool(t.key_file),
                          allow_agent=False, timeout=t.timeout, conn_timeout=t.timeout, fast_cli=False)


def _netmiko(req: DeviceRequest) -> DeviceResult:
    """backup (running config) or show (commands) over netmiko; anything else is refused in one line."""
    t = req.target
    if req.action not in ("backup", "show"):
        return result(t.host, "failed", f"{req.action} needs a transactional driver; {t.netmiko_device_type} "
                                        "devices are backed up and queried through netmiko only")
    try:
        conn = netmiko_session(t)
    except Exception as exc:  # noqa: BLE001
        return result(t.host, "unreachable", f"unreachable: {_one_line(exc)}")
    try:
        if req.action == "backup":
            cmd = _show_running(t.netmiko_device_type)
            text = conn.send_command(cmd, read_timeout=120)
            return result(t.host, "ok", f"{len(text.splitlines())} lines ({cmd})", config=mask(text, req.secrets))
        out = {c: mask(conn.send_command(c, read_timeout=60), req.secrets) for c in req.commands}
        return result(t.host, "ok", f"{len(out)} command(s)", output=out)
    except Exception as exc:  # noqa: BLE001
        return result(t.host, "failed", _one_line(exc))
    finally:
        conn.disconnect()


def connect(t: Target, pending_store: str | None = None) -> Any:
    """An open NAPALM driver for ``t`` (its pending-commit store in ``optional_args``)."""
    import napalm

    args = dict(t.optional_args)
    args.setdefault("port", t.port)
    if t.key_file:
        args.setdefault("key_file", t.key_file)
    if pending_store:
        args.setdefault("pending_store", pending_store)
    drv = napalm.get_network_driver(t.driver)(t.address, t.username, t.password, timeout=t.timeout,
                                              optional_args=args)
    drv.open()
    return drv


def _count(diff: str) -> int:
    """Changed lines of a unified diff (``+x``/``-x``, not the ``+++``/``---`` headers)."""
    return sum(1 for line in diff.splitlines() if line[:1] in ("+", "-") and line[1:2] not in ("+", "-"))


def _backup(drv: Any, req: DeviceRequest) -> DeviceResult:
    running = drv.get_config(retrieve="running")["running"]
    return result(req.target.host, "ok", f"{len(running.splitlines())} lines", config=mask(running, req.secrets))


def _show(drv: Any, req: DeviceRequest) -> DeviceResult:
    out = drv.cli(list(req.commands))
    return result(req.target.host, "ok", f"{len(out)} command(s)",
                  output={c: mask(v, req.secrets) for c, v in out.items()})


def _with_checks(res: DeviceResult, rep: Report) -> DeviceResult:
    res["checks"], res["unchecked"] = rep.checks, rep.unchecked
    return res


def _verify(drv: Any, req: DeviceRequest) -> DeviceResult:
    rep = validate(drv, req.validation or [], wait=req.verify_wait)
    refused = rep.refused(req.accept_unchecked)
    host = req.target.host
    if rep.problems:
        return _with_checks(result(host, "failed", refused), rep)
    if refused:
        return _with_checks(result(host, "not_checked", refused), rep)
    msg = ("post-checks passed" + rep.accepted()) if rep.unchecked else "all post-checks passed"
    return _with_checks(result(host, "ok", msg), rep)


def _unmasked(drv: Any, req: DeviceRequest, config: str) -> tuple[str, DeviceResult | None]:
    """A restore's backup with its masked secrets filled from the device's running config (backups
    never hold secrets: <masked> must never reach a device); a line that cannot be filled refuses
    the restore (nothing was changed)."""
    if req.action != "rollback" or MASK not in config:
        return config, None
    config, missing = unmask(config, drv.get_config(retrieve="running")["running"])
    if not missing:
        return config, None
    lines = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
    return "", result(req.target.host, "failed", f"not restored: backup line(s) {lines} hold a masked secret the "
                                                  "device no longer has; restore those lines by hand or apply the "
                                                  "plan (it renders the secrets)")


def _load(drv: Any, req: DeviceRequest) -> tuple[str, DeviceResult | None]:
    """Load the candidate and diff it; a refusal is a result (nothing was changed)."""
    config = req.config_text()
    if config is None:
        raise ValueError(f"{req.action} needs a configuration")
    config, refused = _unmasked(drv, req, config)
    if refused:
        return "", refused
    try:
        drv.load_replace_candidate(config=config)
    except Exception as exc:  # noqa: BLE001 - device refuses the candidate: nothing was changed
        return "", result(req.target.host, "failed", f"candidate rejected: {_one_line(exc)}")
    return drv.compare_config(), None


def _plan(drv: Any, req: DeviceRequest) -> DeviceResult:
    running = _backup(drv, req)["config"] if req.with_config else None
    diff, refused = _load(drv, req)
    if refused:
        return refused
    drv.discard_config()
    changed = bool(diff.strip())
    res = result(req.target.host, "changed" if changed else "ok",
                 f"{_count(diff)} line(s) differ" if changed else "no changes", diff=mask(diff, req.secrets))
    if running is not None:
        res["config"] = running
    return res


def _commit(drv: Any, req: DeviceRequest) -> DeviceResult:
    """apply / rollback: commit with confirm, verify, then confirm (or undo)."""
    diff, refused = _load(drv, req)
    if refused:
        return refused
    host, shown = req.target.host, mask(diff, req.secrets)
    if not diff.strip():
        drv.discard_config()
        return result(host, "ok", "no changes")
    try:
        drv.commit_config(message=f"egov {req.change_id}", revert_in=req.revert_in)
    except Exception as exc:  # noqa: BLE001 - the driver restored the prior config
        return result(host, "failed", f"commit failed: {_one_line(exc)}", diff=shown)
    rep = validate(drv, req.validation, wait=req.verify_wait) if req.validation else Report()
    refused_why = rep.refused(req.accept_unchecked)
    if refused_why:
        drv.rollback()
        return _with_checks(result(host, "failed", "post-check failed, rolled back: " + refused_why, diff=shown),
                            rep)
    drv.confirm_commit()
    return _with_checks(result(host, "changed", f"{_count(diff)} line(s) changed, confirmed" + rep.accepted(),
                               diff=shown), rep)


#: action -> what it does on an open NAPALM driver
_ACTIONS: dict[str, Callable[[Any, DeviceRequest], DeviceResult]] = {
    "backup": _backup, "show": _show, "verify": _verify, "plan": _plan, "apply": _commit, "rollback": _commit}
assert set(_ACTIONS) == set(ACTIONS)


def run(req: DeviceRequest) -> DeviceResult:
    """Carry out one request; never raises for a device problem (the result says it)."""
    if req.target.transport == "netmiko":
        return _netmiko(req)
    try:
        drv = connect(req.target, req.pending_store)
    except Exception as exc:  # noqa: BLE001 - any transport failure means unreachable
        return result(req.target.host, "unreachable", f"unreachable: {_one_line(exc)}")
    try:
        return _ACTIONS[req.action](drv, req)
    except Exception as exc:  # noqa: BLE001 - report one line, keep the device safe
        with contextlib.suppress(Exception):
            if drv.has_pending_commit():
                drv.rollback()
        return result(req.target.host, "failed", _one_line(exc))
    finally:
        with contextlib.suppress(Exception):
            drv.close()


def run_action(action: str, target: Target, **fields: Any) -> DeviceResult:
    """``run(DeviceRequest(action, target, **fields))``: an unknown action raises ValueError first."""
    return run(DeviceRequest(action=action, target=target, **fields))
