"""H3C Comware 7 over netmiko's ``hp_comware`` session, using ``configuration commit delay``.

Comware has no candidate datastore on the CLI (notes §2): lines take effect as they are typed. The
safety net is the device's own timer: ``configuration commit delay <minutes>`` makes a rollback
point and reverts to it unless ``configuration commit`` comes in time, whoever's session dies.
Before every change the running config is saved to flash (``save flash:/egov-pre-<label>.cfg``),
so a later rollback is ``configuration replace file`` of that file. Replace uploads the candidate
over SFTP and uses ``configuration replace file``; the diff is the device's ``display diff``.
"""

from __future__ import annotations

import io
from pathlib import Path
import math
import time
from typing import Any, Optional

from napalm.base import NetworkDriver, models
from napalm.base.exceptions import (
    CommitConfirmException,
    CommitError,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from napalm_h3c_comware7 import parse
from napalm_huawei_vrp8.cli import prompt, long_if, clean, COMWARE_ERROR, CliError, Journal, config_lines, first_error, label_for, send, DisplayGetters, journal_path, open_session, close_session
from napalm_huawei_vrp8.parse import config_addresses

CAND_FILE = "egov-candidate.cfg"
REPLACE_Q = {r"save current configuration\? \[Y/N\]:": "n", r"\[Y/N\]:": "y"}


class Comware7Driver(DisplayGetters, NetworkDriver):
    """NAPALM driver for Comware 7 routers."""

    _parse = parse

    netmiko_type = "hp_comware"
    paging_command = "screen-length disable"

    def __init__(self, hostname: str, username: str, password: str, timeout: int = 60,
                 optional_args: Optional[dict[str, Any]] = None) -> None:
        self.hostname, self.username, self.password, self.timeout = hostname, username, password, timeout
        self.optional_args = optional_args or {}
        self.port = int(self.optional_args.get("port", 22))
        self.conn: Any = None
        self.journal = Journal(journal_path(self.optional_args), f"{hostname}:{self.port}")
        self._candidate: Optional[str] = None
        self._replace = False

    def open(self) -> None:
        try:
            self.conn = open_session(self.netmiko_type, self.paging_command, host=self.hostname, port=self.port,
                                     username=self.username, password=self.password, timeout=self.timeout,
                                     conn_timeout=self.timeout, fast_cli=True)
            self._hostname_seen = prompt(self.conn).strip("<>[]~*")
        except Exception as exc:
            raise ConnectionException(f"{self.hostname}:{self.port}: {exc}") from exc

    def close(self) -> None:
        if self.conn is not None:
            close_session(self.conn, self._user)
            self.conn = None

    def is_alive(self) -> dict[str, bool]:
        return {"is_alive": bool(self.conn and self.conn.is_alive())}

    def _cmd(self, line: str, answers: Optional[dict[str, str]] = None) -> str:
        try:
            return send(self.conn, line, answers, timeout=self.timeout)
        except CliError as exc:
            raise CommitError(str(exc)) from exc

    def _system(self) -> None:
        if prompt(self.conn).startswith("<"):
            self._cmd("system-view")
        else:
            for _ in range(4):  # back to the system view itself
                p = prompt(self.conn)
                if p.count("-") <= self._host.count("-"):
                    break
                self._cmd("quit")

    def _user(self) -> None:
        if prompt(self.conn).startswith("["):
            self._cmd("return")

    @property
    def _host(self) -> str:
        return getattr(self, "_hostname_seen", "") or prompt(self.conn).strip("<>[]")

    def _show(self, command: str) -> str:
        return clean(self._cmd(command), command)

    def cli(self, commands: list[str], encoding: str = "text") -> dict[str, str]:
        return {c: self._show(c) for c in commands}

    def load_merge_candidate(self, filename: Optional[str] = None, config: Optional[str] = None) -> None:
        self._candidate = config if config is not None else Path(filename or "").read_text()
        self._replace = False

    def load_replace_candidate(self, filename: Optional[str] = None, config: Optional[str] = None) -> None:
        self._candidate = config if config is not None else Path(filename or "").read_text()
        self._replace = True
        self._upload(CAND_FILE, self._candidate)

    def _upload(self, name: str, text: str) -> None:
        sftp = self.conn.remote_conn.get_transport().open_sftp_client()
        try:
            sftp.putfo(io.BytesIO(text.encode()), name)
        finally:
            sftp.close()

    def compare_config(self) -> str:
        """Replace: the device's ``display diff``. Merge: the lines not yet in running (Comware cannot
        preview a merge on the device)."""
        if self._candidate is None:
            return ""
        if self._replace:
            self._user()
            out = self._cmd(f"display diff current-configuration configfile flash:/{CAND_FILE}")
            return "\n".join(ln for ln in out.splitlines() if ln.startswith(("+", "-")))
        running = set(ln.strip() for ln in self.get_config()["running"].splitlines())
        return "\n".join("+" + ln for ln in config_lines(self._candidate)
                         if ln.strip() not in running and not ln.strip().startswith("#"))

    def discard_config(self) -> None:
        self._candidate = None

    def commit_config(self, message: str = "", revert_in: Optional[int] = None) -> None:
        if self._candidate is None:
            raise CommitError(f"{self.hostname}: nothing loaded")
        if self.has_pending_commit():
            raise CommitError(f"{self.hostname}: a commit delay is already pending; confirm or roll it back first")
        label = label_for(message)
        pre = f"egov-pre-{label}.cfg"
        self._user()
        out = self._cmd(f"save flash:/{pre} force")
        if first_error(out, COMWARE_ERROR):
            raise CommitError(f"{self.hostname}: could not save the rollback point: {out.strip()}")
        self._system()
        if revert_in is not None:
            minutes = max(1, math.ceil(revert_in / 60))  # units are minutes per the H3C guide [unverified]
            out = self._cmd(f"configuration commit delay {minutes}")
            if first_error(out, COMWARE_ERROR):
                raise CommitError(f"{self.hostname}: {out.strip()}")
            self.journal.set({"label": label, "pre": pre, "deadline": time.time() + 60 * minutes})
        exc_type = ReplaceConfigException if self._replace else MergeConfigException
        failure = None
        if self._replace:
            out = self._cmd(f"configuration replace file flash:/{CAND_FILE}", REPLACE_Q)
            failure = first_error(out, COMWARE_ERROR)
        else:
            for line in config_lines(self._candidate):
                if line.strip().startswith("#"):
                    if not line.startswith(" "):
                        self._system()
                    continue
                out = self._cmd(line.strip())
                failure = first_error(out, COMWARE_ERROR)
                if failure:
                    failure = f"line {line.strip()!r} rejected: {failure}"
                    break
        if failure:
            # lines already took effect: put the saved running config back now, not at the timer
            self._system()
            self._cmd(f"configuration replace file flash:/{pre}", REPLACE_Q)
            if revert_in is not None:
                self._cmd("configuration commit")
            self.journal.set(None)
            self._user()
            raise exc_type(f"{self.hostname}: {failure}")
        self._last = {"label": label, "pre": pre}
        self._candidate = None
        if revert_in is None:
            self.journal.set(None)
        self._user()

    def has_pending_commit(self) -> bool:
        """The journal's commit delay, until its deadline (Comware has no status command for it [unverified])."""
        entry = self.journal.get()
        if entry is None:
            return False
        if time.time() >= entry["deadline"]:
            self.journal.set(None)
            return False
        # detect, not assume: running equal to the rollback point means the device already reverted
        same = self._show(f"display diff current-configuration configfile flash:/{entry['pre']}")
        if not any(ln.startswith(("+", "-")) for ln in same.splitlines()):
            self.journal.set(None)
            return False
        return True

    def confirm_commit(self) -> None:
        if not self.has_pending_commit():
            raise CommitConfirmException(f"{self.hostname}: no commit delay of ours is pending")
        self._system()
        out = self._cmd("configuration commit")
        if first_error(out, COMWARE_ERROR):
            raise CommitConfirmException(f"{self.hostname}: {out.strip()}")
        self.journal.set(None)
        self._user()

    def rollback(self) -> None:
        entry = self.journal.get() or getattr(self, "_last", None)
        if not entry:
            raise CommitError(f"{self.hostname}: no rollback point recorded")
        self._system()
        out = self._cmd(f"configuration replace file flash:/{entry['pre']}", REPLACE_Q)
        if self.journal.get() is not None:
            self._cmd("configuration commit")  # end the delay: the replace already restored the point
        self.journal.set(None)
        self._user()
        err = first_error(out, COMWARE_ERROR)
        if err:
            raise CommitError(f"{self.hostname}: rollback: {err}")
        left = self._cmd(f"display diff current-configuration configfile flash:/{entry['pre']}")
        diff = [ln for ln in left.splitlines() if ln.startswith(("+", "-"))]
        if diff:
            raise CommitError(f"{self.hostname}: rollback left {len(diff)} difference(s): " + "; ".join(diff))

    def get_config(self, retrieve: str = "all", full: bool = False,
                   sanitized: bool = False, format: str = "text") -> models.ConfigDict:
        text = self._show("display current-configuration")
        running = "\n".join(ln for ln in text.splitlines()
                            if not ln.startswith(("display ", "<", "[")) and not ln.startswith(" version "))
        return {"running": running if retrieve in ("all", "running") else "", "startup": "", "candidate": ""}

    def get_facts(self) -> models.FactsDict:
        v = parse.version(self._show("display version"))
        ifaces = [r["interface"] for r in parse.interface_brief(self._show("display interface brief"))]
        secs = 0.0
        import re

        for n, unit in re.findall(r"(\d+) (week|day|hour|minute)", v.get("uptime", "")):
            secs += int(n) * {"week": 604800, "day": 86400, "hour": 3600, "minute": 60}[unit]
        host = prompt(self.conn).strip("<>[]")
        return {"hostname": host, "fqdn": host, "vendor": "H3C", "model": v.get("model", ""),
                "os_version": f"{v.get('version', '')} Release {v.get('release', '')}", "serial_number": "",
                "uptime": secs, "interface_list": ifaces}

    def get_interfaces(self) -> dict[str, models.InterfaceDict]:
        out: dict[str, models.InterfaceDict] = {}
        for r in parse.interface_brief(self._show("display interface brief")):
            out[long_if(r["interface"])] = {"is_up": r["link"] == "UP" and r["protocol"].startswith("UP"),
                                   "is_enabled": r["link"] != "ADM", "description": r["description"],
                                   "last_flapped": -1.0, "speed": 0.0, "mtu": 0, "mac_address": ""}
        return out

    def get_interfaces_ip(self) -> dict[str, models.InterfacesIPDict]:
        return config_addresses(self.get_config()["running"])  # type: ignore[return-value]
