"""Huawei VRP8 over netmiko's ``huawei_vrpv8`` session, using the device's two-stage commit.

merge/replace -> candidate on the device (lines typed, or a flash file loaded with ``load
configuration file F replace`` after an SFTP upload) -> diff from ``display configuration candidate
changes`` -> ``commit trial <s> label <l>`` (revert_in) or ``commit label <l>`` -> ``commit`` in the
same session to confirm, ``abort trial`` to give up; a controller that dies leaves the trial to
revert on its own. ``rollback`` uses ``rollback configuration to commit-id`` and then reads
``display configuration rollback result``: leftover differences are an error, not a success.
"""

from __future__ import annotations

import io
from pathlib import Path
import re
from typing import Any, Optional

from napalm.base import NetworkDriver, models
from napalm.base.exceptions import (
    CommitConfirmException,
    CommitError,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from napalm_huawei_vrp8 import parse
from napalm_huawei_vrp8.cli import prompt, long_if, clean, VRP_ERROR, CliError, Journal, config_lines, first_error, label_for, send, DisplayGetters, journal_path, open_session, close_session

CAND_FILE = "egov-candidate.cfg"
YES = {r"Continue\? \[Y/N\]:": "y"}


class VRP8Driver(DisplayGetters, NetworkDriver):
    """NAPALM driver for VRP8 routers in two-stage (``[~HOST]``) mode."""

    _parse = parse
    _bfd_command = "display bfd session all"

    platform = "huawei_vrp"
    netmiko_type = "huawei_vrpv8"
    paging_command = "screen-length 0 temporary"
    error_re = VRP_ERROR

    def __init__(self, hostname: str, username: str, password: str, timeout: int = 60,
                 optional_args: Optional[dict[str, Any]] = None) -> None:
        self.hostname, self.username, self.password, self.timeout = hostname, username, password, timeout
        self.optional_args = optional_args or {}
        self.port = int(self.optional_args.get("port", 22))
        self.conn: Any = None
        self.journal = Journal(journal_path(self.optional_args), f"{hostname}:{self.port}")
        self._candidate: Optional[str] = None
        self._replace = False
        self._loaded = False   # the candidate is on the device, in this session
        self._trial_label: Optional[str] = None
        self._host = hostname

    # --- session ---------------------------------------------------------------------------------
    def open(self) -> None:
        try:
            self.conn = open_session(self.netmiko_type, self.paging_command, ansi=True, host=self.hostname, port=self.port,
                                     username=self.username, password=self.password, timeout=self.timeout,
                                     conn_timeout=self.timeout, fast_cli=True)
            self._host = prompt(self.conn).strip("<>[]~*")
        except Exception as exc:  # netmiko raises several unrelated types
            raise ConnectionException(f"{self.hostname}:{self.port}: {exc}") from exc

    def close(self) -> None:
        if self.conn is not None:
            close_session(self.conn, lambda: self._leave(discard=True))
            self.conn = None

    def is_alive(self) -> dict[str, bool]:
        return {"is_alive": bool(self.conn and self.conn.is_alive())}

    def _cmd(self, line: str, answers: Optional[dict[str, str]] = None) -> str:
        try:
            return send(self.conn, line, answers, timeout=self.timeout)
        except CliError as exc:
            raise CommitError(str(exc)) from exc

    def _prompt(self) -> str:
        return prompt(self.conn)

    def _system(self) -> None:
        p = self._prompt()
        if p.startswith("<"):
            self._host = p[1:-1]
            out = self._cmd("system-view")
            p = self._prompt()
            if not p.startswith(("[~", "[*")):
                # immediate mode (no '~'): this driver's transaction model does not apply (notes §1.10)
                self._cmd("return")
                raise CommitError(f"{self.hostname}: system-view gave {p!r}, not two-stage mode ({out.strip()})")

    def _leave(self, discard: bool) -> None:
        p = self._prompt()
        if p.startswith("["):
            if p.startswith("[*") and discard:
                self._cmd("clear configuration candidate")
            self._cmd("return", {r"\[Y\(yes\)/N\(no\)/C\(cancel\)\]:": "n"})

    def _show(self, command: str) -> str:
        return clean(self._cmd(command), command)

    def cli(self, commands: list[str], encoding: str = "text") -> dict[str, str]:
        return {c: self._show(c) for c in commands}

    # --- candidate -------------------------------------------------------------------------------
    def load_merge_candidate(self, filename: Optional[str] = None, config: Optional[str] = None) -> None:
        self._candidate = config if config is not None else Path(filename or "").read_text()
        self._replace, self._loaded = False, False

    def load_replace_candidate(self, filename: Optional[str] = None, config: Optional[str] = None) -> None:
        self._candidate = config if config is not None else Path(filename or "").read_text()
        self._replace, self._loaded = True, False

    def _upload(self, name: str, text: str) -> None:
        sftp = self.conn.remote_conn.get_transport().open_sftp_client()
        try:
            sftp.putfo(io.BytesIO(text.encode()), name)
        finally:
            sftp.close()

    def _load(self) -> None:
        """Put the candidate on the device; on the first error discard it and raise."""
        if self._loaded or self._candidate is None:
            return
        exc_type = ReplaceConfigException if self._replace else MergeConfigException
        self._system()
        if self._replace:
            self._upload(CAND_FILE, self._candidate)
            out = self._cmd(f"load configuration file {CAND_FILE} replace")
            err = first_error(out, self.error_re)
            if err:
                self._leave(discard=True)
                raise exc_type(f"{self.hostname}: {err}")
        else:
            for line in config_lines(self._candidate):
                if line.strip().startswith("#"):
                    if not line.startswith(" "):  # a section ends: back to the system view, explicitly
                        for _ in range(4):
                            if self._prompt()[2:-1] == self._host:
                                break
                            self._cmd("quit")
                    continue
                out = self._cmd(line.strip())
                err = first_error(out, self.error_re)
                if err:
                    self._leave(discard=True)
                    raise exc_type(f"{self.hostname}: line {line.strip()!r} rejected: {err}")
        self._loaded = True

    def compare_config(self) -> str:
        self._load()
        if not self._loaded:
            return ""
        return parse.candidate_changes(self._cmd("display configuration candidate changes"))

    def discard_config(self) -> None:
        if self.conn is not None:
            self._leave(discard=True)
        self._candidate, self._loaded = None, False

    def _baseline(self) -> Optional[tuple[str, str]]:
        return parse.latest_commit(self._cmd("display configuration commit list 1"))

    def commit_config(self, message: str = "", revert_in: Optional[int] = None) -> None:
        if self.has_pending_commit():
            raise CommitError(f"{self.hostname}: a trial is already pending; confirm or roll it back first")
        base = self._baseline()
        self._load()
        label = label_for(message)
        if revert_in is not None:
            if not 60 <= revert_in <= 65535:
                raise CommitError(f"revert_in={revert_in}: VRP8 trials last 60..65535 seconds")
            cmd = f"commit trial {revert_in} label {label}"
        else:
            cmd = f"commit label {label}"
        self._system()
        out = self._cmd(cmd, YES)
        err = first_error(out, self.error_re)
        if err:
            self._leave(discard=True)
            self._loaded = False
            raise CommitError(f"{self.hostname}: {err}")
        self._loaded, self._candidate = False, None
        if revert_in is not None:
            self._trial_label = label
            self.journal.set({"label": label, "baseline": base[0] if base else None, "revert_in": revert_in})
        else:
            self.journal.set(None)
            self._leave(discard=False)
        self._last = {"label": label, "baseline": base[0] if base else None}

    def has_pending_commit(self) -> bool:
        """The journal says a trial is ours and the device says a trial is active."""
        if self.journal.get() is None:
            return False
        active = "ACTIVE" in self._cmd("display configuration trial status").replace("INACTIVE", "")
        if not active:
            self.journal.set(None)
        return active

    def confirm_commit(self) -> None:
        if not self.has_pending_commit():
            raise CommitConfirmException(f"{self.hostname}: no trial of ours is active")
        if self._trial_label is None:
            raise CommitConfirmException(
                f"{self.hostname}: the trial was started by another session; VRP8 (without `persist`) only "
                "lets that session confirm it; it will revert when its timer runs out")
        self._system()
        out = self._cmd("commit", YES)
        err = first_error(out, self.error_re)
        if err or "ACTIVE" in self._cmd("display configuration trial status").replace("INACTIVE", ""):
            raise CommitConfirmException(f"{self.hostname}: confirm failed: {err or 'trial still active'}")
        self._trial_label = None
        self.journal.set(None)
        self._leave(discard=False)

    def rollback(self) -> None:
        """Abort our trial, or roll back to the state before the last commit of this driver."""
        pending = self.journal.get()
        if self._trial_label is not None and self.has_pending_commit():
            self._system()
            out = self._cmd("abort trial", YES)
            self._trial_label = None
            self.journal.set(None)
            self._leave(discard=False)
            err = first_error(out, self.error_re)
            if err:
                raise CommitError(f"{self.hostname}: abort trial: {err}")
            return
        base = (pending or {}).get("baseline") or getattr(self, "_last", {}).get("baseline")
        if not base:
            raise CommitError(f"{self.hostname}: no baseline commit recorded to roll back to")
        self.rollback_to(commit_id=base)

    def rollback_to(self, label: Optional[str] = None, commit_id: Optional[str] = None) -> None:
        """``rollback configuration to label|commit-id``, then insist on an empty rollback result."""
        self._leave(discard=True)
        target = f"label {label}" if label else f"commit-id {commit_id}"
        out = self._cmd(f"rollback configuration to {target}", YES)
        err = first_error(out, self.error_re)
        if err:
            raise CommitError(f"{self.hostname}: rollback to {target}: {err}")
        result = self._cmd("display configuration rollback result")
        if "differences as follow" in result:
            left = [ln for ln in result.splitlines() if ln.startswith(("+", "-"))]
            raise CommitError(f"{self.hostname}: rollback to {target} left {len(left)} difference(s): "
                              + "; ".join(ln.strip() for ln in left))
        self.journal.set(None)

    # --- getters ---------------------------------------------------------------------------------
    def get_config(self, retrieve: str = "all", full: bool = False,
                   sanitized: bool = False, format: str = "text") -> models.ConfigDict:
        running = "\n".join(ln for ln in self._show("display current-configuration").splitlines()
                            if not ln.startswith("!") and not ln.startswith("display ")
                            and not re.match(r"^[<\[]", ln))
        return {"running": running if retrieve in ("all", "running") else "", "startup": "", "candidate": ""}

    def get_facts(self) -> models.FactsDict:
        v = parse.version(self._show("display version"))
        ifaces = [r["interface"].strip() for r in parse.interface_brief(self._show("display interface brief"))]
        up = v.get("uptime", "")
        secs = 0.0
        for n, unit in re.findall(r"(\d+) (week|day|hour|minute)", up):
            secs += int(n) * {"week": 604800, "day": 86400, "hour": 3600, "minute": 60}[unit]
        host = self._prompt().strip("<>[]~*")
        return {"hostname": host, "fqdn": host, "vendor": "Huawei", "model": v.get("model", ""),
                "os_version": f"{v.get('vrp_version', '')} ({v.get('product_version', '')})",
                "serial_number": "", "uptime": secs, "interface_list": ifaces}

    def get_interfaces(self) -> dict[str, models.InterfaceDict]:
        out: dict[str, models.InterfaceDict] = {}
        for r in parse.interface_brief(self._show("display interface brief")):
            name = long_if(r["interface"].strip())
            out[name] = {"is_up": r["phy"].startswith("up") and r["protocol"].startswith("up"),
                         "is_enabled": not r["phy"].startswith("*"), "description": "", "last_flapped": -1.0,
                         "speed": 0.0, "mtu": 0, "mac_address": ""}
        return out

    def get_interfaces_ip(self) -> dict[str, models.InterfacesIPDict]:
        return parse.config_addresses(self.get_config()["running"])  # type: ignore[return-value]
