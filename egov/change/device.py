"""One device, one action: what the Ansible module (playbooks/library/egov_device.py) runs.

Every action returns a result dict with ``status`` in ok / changed / failed / unreachable and a
one-line ``msg``; it never leaves a device half-configured: a failed commit or post-check is rolled
back before returning.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov.change.mask import mask


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


def check(drv, expect: dict[str, Any], wait: float = 45.0) -> list[str]:
    """Post-checks against ``expect`` (see egov.change.expect), retried until ``wait`` runs out."""
    deadline = time.monotonic() + wait
    while True:
        problems = _check_once(drv, expect)
        if not problems or time.monotonic() > deadline:
            return problems
        time.sleep(1.0)


def _check_once(drv, expect: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    ifaces = drv.get_interfaces()
    ips = drv.get_interfaces_ip()
    for name, want in expect.get("interfaces", {}).items():
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
    if expect.get("isis") and hasattr(drv, "get_isis_neighbors"):
        adj = drv.get_isis_neighbors()
        for ifname, peer in expect["isis"].items():
            a = adj.get(ifname)
            if not a or a.get("state") != "Up" or a.get("neighbor") != peer:
                problems.append(f"IS-IS to {peer} on {ifname} is not up")
    if expect.get("bfd") and hasattr(drv, "get_bfd_peers"):
        up = {p.get("interface") for p in drv.get_bfd_peers() if p.get("status") == "up"}
        problems += [f"BFD on {i} is not up" for i in expect["bfd"] if i not in up]
    for target in expect.get("ping", []):
        src = expect.get("source6") if ":" in target else expect.get("source4")
        res = drv.ping(target, source=src or "", count=2, timeout=1)
        if "success" not in res or res["success"].get("packet_loss", 1) >= res["success"].get("probes_sent", 1):
            problems.append(f"no reply from {target}")
    return problems


def run_action(action: str, t: Target, *, config: str | None = None, expect: dict[str, Any] | None = None,
               revert_in: int = 120, journal: str | None = None, secrets: list[str] | None = None,
               change_id: str = "", verify_wait: float = 45.0, commands: list[str] | None = None) -> dict[str, Any]:
    """backup | plan | apply | verify | rollback (config = the file to restore) | show on one device."""
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
            problems = check(drv, expect or {}, wait=verify_wait)
            if problems:
                return {**res, "status": "failed", "msg": "; ".join(problems[:4])}
            return {**res, "msg": "all post-checks passed"}
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
        problems = check(drv, expect or {}, wait=verify_wait) if expect else []
        if problems:
            drv.rollback()
            return {**res, "status": "failed", "msg": "post-check failed, rolled back: " + "; ".join(problems[:3])}
        drv.confirm_commit()
        return {**res, "status": "changed", "changed": True, "msg": f"{_count(diff)} line(s) changed, confirmed"}
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
