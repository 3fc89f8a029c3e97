"""One device, one action: what the Ansible module (playbooks/library/egov_device.py) runs.

Every action returns a result dict with ``status`` in ok / changed / failed / unreachable /
not_checked and a one-line ``msg``; it never leaves a device half-configured: a failed commit or
post-check is rolled back before returning. A post-check the driver cannot run is reported as not
checked (``unchecked``), never as passed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov.change.mask import mask

ACTIONS = ("backup", "plan", "apply", "verify", "rollback", "show")
TRANSPORTS = ("napalm", "netmiko")
#: what a device ends an action as (also the journal's change_device.status)
STATUSES = ("ok", "changed", "failed", "unreachable", "not_checked")


def one_of(kind: str, value: str, allowed: tuple[str, ...]) -> None:
    """Refuse a mode string outside ``allowed``: a typo must fail, never fall through to a commit."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; use one of {', '.join(allowed)}")


@dataclass
class Target:
    host: str
    driver: str
    address: str
    username: str
    port: int = 22
    key_file: str | None = None
    password: str = ""
    optional_args: dict[str, Any] = field(default_factory=dict)
    timeout: int = 30
    transport: str = "napalm"
    netmiko_device_type: str = ""


#: how netmiko reads the running configuration, per device type (VRP and Comware have no
#: transactional NAPALM driver: they are backed up and queried through netmiko only)
NETMIKO_RUNNING = {
    "huawei_vrpv8": "display current-configuration",
    "huawei_vrp": "display current-configuration",
    "huawei": "display current-configuration",
    "hp_comware": "display current-configuration",
    "h3c_comware": "display current-configuration",
    "cisco_ios": "show running-config",
    "cisco_xe": "show running-config",
}


def netmiko_session(t: Target):
    from netmiko import ConnectHandler

    return ConnectHandler(device_type=t.netmiko_device_type, host=t.address, port=t.port, username=t.username,
                          password=t.password or None, key_file=t.key_file, use_keys=bool(t.key_file),
                          allow_agent=False, timeout=t.timeout, conn_timeout=t.timeout, fast_cli=False)


def netmiko_action(action: str, t: Target, secrets: list[str], commands: list[str] | None = None) -> dict[str, Any]:
    """backup (running config) or show (commands) over netmiko; anything else is refused in one line."""
    one_of("device action", action, ACTIONS)
    res: dict[str, Any] = {"host": t.host, "status": "ok", "changed": False, "diff": "", "msg": ""}
    if action not in ("backup", "show"):
        return {**res, "status": "failed",
                "msg": f"{action} needs a transactional driver; {t.netmiko_device_type} devices are backed up "
                       "and queried through netmiko only"}
    try:
        conn = netmiko_session(t)
    except Exception as exc:  # noqa: BLE001
        return {**res, "status": "unreachable", "msg": f"unreachable: {_one_line(exc)}"}
    try:
        if action == "backup":
            cmd = NETMIKO_RUNNING.get(t.netmiko_device_type, "show running-config")
            text = conn.send_command(cmd, read_timeout=120)
            res["config"] = mask(text, secrets)
            res["msg"] = f"{len(text.splitlines())} lines ({cmd})"
        else:
            res["output"] = {c: mask(conn.send_command(c, read_timeout=60), secrets) for c in commands or []}
            res["msg"] = f"{len(res['output'])} command(s)"
        return res
    except Exception as exc:  # noqa: BLE001
        return {**res, "status": "failed", "msg": _one_line(exc)}
    finally:
        conn.disconnect()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}"[:300]


def connect(t: Target, journal: str | None = None):
    import napalm

    args = dict(t.optional_args)
    args.setdefault("port", t.port)
    if t.key_file:
        args.setdefault("key_file", t.key_file)
    if journal:
        args.setdefault("journal", journal)
    drv = napalm.get_network_driver(t.driver)(t.address, t.username, t.password, timeout=t.timeout,
                                              optional_args=args)
    drv.open()
    return drv


class _CannotCheck(Exception):
    """The driver has no getter for a check: the check is not run, and never counts as passed."""


def _get(drv: Any, getter: str, *args: Any, **kw: Any) -> Any:
    """A getter's answer; _CannotCheck when the driver lacks it (absent, or NotImplementedError)."""
    fn = getattr(drv, getter, None)
    if not callable(fn):
        raise _CannotCheck(getter)
    try:
        return fn(*args, **kw)
    except NotImplementedError:
        raise _CannotCheck(getter) from None


def _interfaces(drv: Any, expect: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    ifaces = _get(drv, "get_interfaces")
    ips = _get(drv, "get_interfaces_ip")
    for name, want in expect["interfaces"].items():
        got = ifaces.get(name)
        if not got or not got.get("is_up"):
            problems.append(f"{name} is not up")
            continue
        for fam in ("ipv4", "ipv6"):
            if want.get(fam):
                ip, plen = want[fam].split("/")
                have = ips.get(name, {}).get(fam, {})
                if have.get(ip, {}).get("prefix_length") != int(plen):
                    problems.append(f"{name} lacks {want[fam]}")
    return problems


def _isis(drv: Any, expect: dict[str, Any]) -> list[str]:
    adj = _get(drv, "get_isis_neighbors")
    problems: list[str] = []
    for ifname, peer in expect["isis"].items():
        a = adj.get(ifname)
        if not a or a.get("state") != "Up" or a.get("neighbor") != peer:
            problems.append(f"IS-IS to {peer} on {ifname} is not up")
    return problems


def _bfd(drv: Any, expect: dict[str, Any]) -> list[str]:
    up = {p.get("interface") for p in _get(drv, "get_bfd_peers") if p.get("status") == "up"}
    return [f"BFD on {i} is not up" for i in expect["bfd"] if i not in up]


def _ping(drv: Any, expect: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    for target in expect["ping"]:
        src = expect.get("source6") if ":" in target else expect.get("source4")
        res = _get(drv, "ping", target, source=src or "", count=2, timeout=1)
        if "success" not in res or res["success"].get("packet_loss", 1) >= res["success"].get("probes_sent", 1):
            problems.append(f"no reply from {target}")
    return problems


#: post-check name (as named by --accept-unchecked) -> the check; run for the keys ``expect`` fills
_CHECKS: dict[str, Callable[[Any, dict[str, Any]], list[str]]] = {
    "interfaces": _interfaces, "isis": _isis, "bfd": _bfd, "ping": _ping}
CHECKS = tuple(_CHECKS)


@dataclass
class Report:
    """What the post-checks found, and which of them could not run on this driver."""

    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

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


def check(drv: Any, expect: dict[str, Any], wait: float = 45.0) -> Report:
    """Post-checks against ``expect`` (see egov.change.expect), retried until ``wait`` runs out."""
    deadline = time.monotonic() + wait
    while True:
        rep = _check_once(drv, expect)
        if not rep.problems or time.monotonic() > deadline:
            return rep
        time.sleep(1.0)


def _check_once(drv: Any, expect: dict[str, Any]) -> Report:
    rep = Report()
    for name, fn in _CHECKS.items():
        if expect.get(name):
            try:
                rep.problems += fn(drv, expect)
            except _CannotCheck:
                rep.unchecked.append(name)
    return rep


def run_action(action: str, t: Target, *, config: str | None = None, expect: dict[str, Any] | None = None,
               revert_in: int = 120, journal: str | None = None, secrets: list[str] | None = None,
               change_id: str = "", verify_wait: float = 45.0, commands: list[str] | None = None,
               accept_unchecked: Collection[str] = ()) -> dict[str, Any]:
    """backup | plan | apply | verify | rollback (config = the file to restore) | show on one device.

    ``accept_unchecked`` names post-checks the operator accepts as not run (the driver has no getter
    for them); any other check that cannot run fails verify and rolls an apply back.
    """
    one_of("device action", action, ACTIONS)
    one_of("transport", t.transport, TRANSPORTS)
    for name in accept_unchecked:
        one_of("post-check", name, CHECKS)
    if t.transport == "netmiko":
        return netmiko_action(action, t, secrets or [], commands)
    res: dict[str, Any] = {"host": t.host, "status": "ok", "changed": False, "diff": "", "msg": ""}
    try:
        drv = connect(t, journal)
    except Exception as exc:  # noqa: BLE001 - any transport failure means unreachable
        return {**res, "status": "unreachable", "msg": f"unreachable: {_one_line(exc)}"}
    try:
        if action == "backup":
            running = drv.get_config(retrieve="running")["running"]
            res["config"] = mask(running, secrets or [])
            res["msg"] = f"{len(running.splitlines())} lines"
            return res
        if action == "show":
            out = drv.cli(list(commands or []))
            res["output"] = {c: mask(v, secrets or []) for c, v in out.items()}
            res["msg"] = f"{len(out)} command(s)"
            return res
        if action == "verify":
            rep = check(drv, expect or {}, wait=verify_wait)
            res["unchecked"] = rep.unchecked
            refused = rep.refused(accept_unchecked)
            if rep.problems:
                return {**res, "status": "failed", "msg": refused}
            if refused:
                return {**res, "status": "not_checked", "msg": refused}
            return {**res, "msg": ("post-checks passed" + rep.accepted()) if rep.unchecked
                    else "all post-checks passed"}
        if config is None:
            raise ValueError(f"{action} needs a configuration")
        try:
            drv.load_replace_candidate(config=config)
        except Exception as exc:  # noqa: BLE001 - device refuses the candidate: nothing was changed
            return {**res, "status": "failed", "msg": f"candidate rejected: {_one_line(exc)}"}
        diff = drv.compare_config()
        res["diff"] = mask(diff, secrets or [])
        if action == "plan" or not diff.strip():
            drv.discard_config()
            res["status"] = "changed" if diff.strip() else "ok"
            res["changed"] = bool(diff.strip())
            res["msg"] = f"{_count(diff)} line(s) differ" if diff.strip() else "no changes"
            return res
        # apply / rollback: commit with confirm, verify, then confirm (or undo)
        try:
            drv.commit_config(message=f"egov {change_id}", revert_in=revert_in)
        except Exception as exc:  # noqa: BLE001 - the driver restored the prior config
            return {**res, "status": "failed", "msg": f"commit failed: {_one_line(exc)}"}
        rep = check(drv, expect, wait=verify_wait) if expect else Report()
        res["unchecked"] = rep.unchecked
        refused = rep.refused(accept_unchecked)
        if refused:
            drv.rollback()
            return {**res, "status": "failed", "msg": "post-check failed, rolled back: " + refused}
        drv.confirm_commit()
        return {**res, "status": "changed", "changed": True,
                "msg": f"{_count(diff)} line(s) changed, confirmed" + rep.accepted()}
    except Exception as exc:  # noqa: BLE001 - report one line, keep the device safe
        try:
            if drv.has_pending_commit():
                drv.rollback()
        except Exception:  # noqa: BLE001
            pass
        return {**res, "status": "failed", "msg": _one_line(exc)}
    finally:
        try:
            drv.close()
        except Exception:  # noqa: BLE001
            pass


def _count(diff: str) -> int:
    return sum(1 for line in diff.splitlines() if re.match(r"^[+-](?![+-])", line))


def read_text(path: str | None) -> str | None:
    return Path(path).read_text() if path else None
