"""NAPALM driver for FRRouting (FRR 8.4) on Linux, over SSH as a shell login.

Transport: one paramiko SSH connection as a bash login that may run vtysh and frr-reload.py
(groups frr + frrvty); every command is an exec channel (no interactive shell), files go over SFTP.
Configuration is FRR's integrated frr.conf, replaced with frr-reload.py and saved by the driver itself
(never by FRR: see docs/frr-canonical.md, "router isis first").

Device-side files live in ``~/.egov-napalm/<device>/`` (the lab's routers share one home directory,
so each device gets its own folder): the uploaded candidate, the rollback point, and per commit with
``revert_in`` a marker ``pending-<id>``, the revert script and its pid file. See docs/napalm-frr.md.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
import socket
import time
from typing import Any, Optional

import paramiko
from napalm.base import NetworkDriver, models
from napalm.base.exceptions import (
    CommandErrorException,
    CommandTimeoutException,
    CommitError,
    ConnectAuthError,
    ConnectionClosedException,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)
from napalm.base.helpers import mac as normalize_mac
from napalm.base.helpers import sanitize_configs

from napalm_frr import parse
from napalm_frr.pending import PendingStore

FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
#: how frr-reload.py is started: it needs only the standard library, and ``-S`` skips site-packages
#: (``.pth`` hooks, site customisation): half of its start-up time on a router's small CPU
FRR_RELOAD_PYTHON = "python3 -S"
FRR_RUN = "/var/run/frr"
FRR_ETC = "/etc/frr"
WORKDIR = ".egov-napalm"

#: secrets FRR can hold in frr.conf, for get_config(sanitized=True)
FRR_SANITIZE_FILTERS = {
    r"^((?:enable )?password)(?: 8)? \S+$": r"\1 <removed>",
    r"^(\s+(?:isis|ip ospf|ipv6 ospf6)? ?(?:authentication-key|message-digest-key \d+ md5|password)"
    r"(?: (?:clear|md5))?) \S+(.*)$": r"\1 <removed>\2",
    r"^(\s+(?:area|domain)-password (?:clear|md5)) \S+(.*)$": r"\1 <removed>\2",
    r"^(\s+neighbor \S+ password) \S+$": r"\1 <removed>",
    r"^(\s+key-string) .+$": r"\1 <removed>",
}

# Copy $1 over $2 keeping $2's mode and group: atomically (temp file + rename in the same folder)
# when the folder is writable, else in place. Never via FRR (`write memory`).
_INSTALL_FN = r"""egov_install() {
  d=$(dirname "$2"); t="$d/.frr.conf.egov-$$"
  if [ -w "$d" ] && cp "$1" "$t" 2>/dev/null; then
    if [ -e "$2" ]; then chmod --reference="$2" "$t"; chgrp --reference="$2" "$t" 2>/dev/null
    else chmod 0640 "$t"; chgrp frr "$t" 2>/dev/null; fi
    mv -f "$t" "$2" && cmp -s "$1" "$2" && return 0
    rm -f "$t"
  fi
  cat "$1" > "$2" && cmp -s "$1" "$2"
}
"""


def _q(s: str) -> str:
    return shlex.quote(s)


def _one_line(text: object, limit: int = 300) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


class FRRDriver(NetworkDriver):
    """FRRouting over SSH (bash login + vtysh + frr-reload.py). See docs/napalm-frr.md."""

    platform = "frr"

    def __init__(self, hostname: str, username: str, password: str, timeout: int = 60,
                 optional_args: Optional[dict[str, Any]] = None) -> None:
        self.hostname = hostname
        self.username = username
        self.password = password or None
        self.timeout = timeout
        opts = dict(optional_args or {})
        self.optional_args = opts
        self.port = int(opts.get("port", 22))
        self.key_file = opts.get("key_file")
        self.ssh_strict = bool(opts.get("ssh_strict", False))
        self.pathspace_opt = opts.get("pathspace", "auto")
        self.frr_reload = opts.get("frr_reload", FRR_RELOAD)
        #: the interpreter for a frr-reload that is a .py script ("" runs it by its own #! line)
        self.frr_reload_python = str(opts.get("frr_reload_python", FRR_RELOAD_PYTHON))
        #: the driver's pending-commit store (napalm_frr.pending); "journal" is the old name of the option
        self.pending_path = opts.get("pending_store") or opts.get("journal")
        self.change_id: Optional[str] = opts.get("change_id")
        self._device_name_opt = opts.get("device_name")
        self._config_file_opt = opts.get("config_file")
        self._workdir_opt = opts.get("workdir")
        #: host service configs the NOC getters read, and where sshd finds a user's keys
        self.ntp_config = str(opts.get("ntp_config", "/etc/chrony/chrony.conf"))
        self.snmp_config = str(opts.get("snmp_config", "/etc/snmp/snmpd.conf"))
        self.authorized_keys = str(opts.get("authorized_keys", "%h/.ssh/authorized_keys"))
        self.lldp_socket = opts.get("lldp_socket")
        self._ssh: Optional[paramiko.SSHClient] = None
        self._sftp: Optional[paramiko.SFTPClient] = None
        self._pending: Optional[PendingStore] = None
        self.device_name: Optional[str] = self._device_name_opt
        self.pathspace: Optional[str] = None
        self.home = ""
        self.workdir = ""
        self.config_file = ""
        self._candidate: Optional[str] = None
        self._candidate_kind: Optional[str] = None  # "replace" | "merge"
        self._diff: Optional[str] = None  # the replace candidate's diff, from its load

    # --- connection ------------------------------------------------------------------------------
    def open(self) -> None:
        client = paramiko.SSHClient()
        if self.ssh_strict:
            client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        where = f"{self.username}@{self.hostname}:{self.port}"
        try:
            client.connect(self.hostname, port=self.port, username=self.username, password=self.password,
                           key_filename=self.key_file, timeout=self.timeout, banner_timeout=self.timeout,
                           auth_timeout=self.timeout, look_for_keys=not (self.key_file or self.password),
                           allow_agent=not (self.key_file or self.password))
        except paramiko.AuthenticationException:
            client.close()
            raise ConnectAuthError(f"cannot log in to {where}: authentication failed") from None
        except (paramiko.SSHException, OSError, socket.timeout) as e:
            client.close()
            raise ConnectionException(f"cannot connect to {where}: {type(e).__name__}: "
                                      f"{_one_line(e) or 'no detail'}") from None
        self._ssh = client
        try:
            # many small request/answer exchanges: without this each one waits ~40 ms (Nagle + delayed ACK)
            sock: Any = client.get_transport().sock  # type: ignore[union-attr]
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass
        try:
            self._sftp = client.open_sftp()
            rc, out, err = self._exec('uname -n; printf "%s\\n" "$HOME"; n=$(uname -n); '
                                      f'if [ -d {FRR_RUN}/"$n" ]; then echo "$n"; else echo; fi')
            lines = out.splitlines() + ["", "", ""]
            if rc != 0 or not lines[0].strip() or lines[0].startswith("%"):
                said = (err or out).strip().splitlines()[:1] or ["no output"]
                raise ConnectionException(f"{where}: not a shell login "
                                          f"(the login answered: {_one_line(said[0], 80)})")
        except Exception:
            self.close()
            raise
        uname, self.home, auto_ns = lines[0].strip(), lines[1].strip(), lines[2].strip()
        if self.pathspace_opt in (None, "", False):
            self.pathspace = None
        elif self.pathspace_opt == "auto":
            self.pathspace = auto_ns or None
        else:
            self.pathspace = str(self.pathspace_opt)
        self.device_name = self._device_name_opt or uname
        key = re.sub(r"[^A-Za-z0-9_.-]", "_", self.pathspace or uname)
        self.workdir = self._workdir_opt or f"{self.home}/{WORKDIR}/{key}"
        self.config_file = self._config_file_opt or (
            f"{FRR_ETC}/{self.pathspace}/frr.conf" if self.pathspace else f"{FRR_ETC}/frr.conf")
        self._sh(f"mkdir -p -m 700 {_q(self.workdir)}")

    def close(self) -> None:
        for obj in (self._sftp, self._ssh):
            try:
                if obj is not None:
                    obj.close()
            except Exception:
                pass
        self._sftp = None
        self._ssh = None

    def is_alive(self) -> models.AliveDict:
        t = self._ssh.get_transport() if self._ssh else None
        return {"is_alive": bool(t and t.is_active())}

    # --- low level -------------------------------------------------------------------------------
    def _not_connected(self) -> str:
        return f"not connected to {self.hostname}:{self.port}; call open() first"

    def _transport(self) -> paramiko.Transport:
        t = self._ssh.get_transport() if self._ssh else None
        if t is None or not t.is_active():
            raise ConnectionClosedException(self._not_connected())
        return t

    def _exec(self, command: str, timeout: Optional[float] = None) -> tuple[int, str, str]:
        """Run one command in an exec channel; (exit status, stdout, stderr)."""
        try:
            chan = self._transport().open_session(timeout=self.timeout)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise ConnectionClosedException(f"{self.device_name or self.hostname}: SSH connection lost "
                                            f"({type(e).__name__}: {_one_line(e) or 'no detail'})") from None
        limit = timeout or self.timeout
        out: list[bytes] = []
        err: list[bytes] = []
        try:
            chan.exec_command(command)
            deadline = time.monotonic() + limit
            pause = 0.001
            while True:
                busy = False
                if chan.recv_ready():
                    out.append(chan.recv(65536))
                    busy = True
                if chan.recv_stderr_ready():
                    err.append(chan.recv_stderr(65536))
                    busy = True
                if busy:
                    pause = 0.001
                    continue
                if (chan.exit_status_ready() and chan.eof_received) or chan.closed:
                    break
                if time.monotonic() > deadline:
                    raise CommandTimeoutException(f"{self.device_name or self.hostname}: no answer within "
                                                  f"{limit:.0f} s to: {_one_line(command, 120)}")
                time.sleep(pause)
                pause = min(pause * 2, 0.02)
            rc = chan.recv_exit_status()
        finally:
            chan.close()
        return rc, b"".join(out).decode("utf-8", "replace"), b"".join(err).decode("utf-8", "replace")

    def _sh(self, command: str, timeout: Optional[float] = None, what: str = "") -> str:
        rc, out, err = self._exec(command, timeout)
        if rc != 0:
            raise CommandErrorException(f"{self.device_name}: {what or _one_line(command, 120)} failed "
                                        f"(rc {rc}): {_one_line(err or out) or 'no output'}")
        return out

    def _put(self, path: str, text: str) -> None:
        if self._sftp is None:
            raise ConnectionClosedException(self._not_connected())
        with self._sftp.open(path, "w") as f:
            f.write(text.encode())
        self._sftp.chmod(path, 0o600)

    def _get(self, path: str) -> str:
        if self._sftp is None:
            raise ConnectionClosedException(self._not_connected())
        with self._sftp.open(path, "r") as f:
            return f.read().decode("utf-8", "replace")

    @property
    def _ns(self) -> str:
        return f" -N {_q(self.pathspace)}" if self.pathspace else ""

    def _vtysh(self, *commands: str) -> str:
        args = " ".join(f"-c {_q(c)}" for c in commands)
        return self._sh(f"vtysh{self._ns} {args}", what=f"vtysh {' / '.join(commands)}")

    def _reload_cmd(self, mode: str, path: str) -> str:
        python = f"{self.frr_reload_python} " if self.frr_reload_python and self.frr_reload.endswith(".py") else ""
        return (f"{python}{_q(self.frr_reload)} --{mode} --stdout{self._ns} --rundir {_q(self.workdir)} {_q(path)}")

    def _w(self, name: str) -> str:
        return f"{self.workdir}/{name}"

    def _running(self) -> str:
        return parse.running_body(self._vtysh("show running-config"))

    def _test_diff(self, path: str) -> str:
        rc, out, err = self._exec(self._reload_cmd("test", path))
        if rc != 0:
            errs = [ln for ln in (err + out).splitlines() if "ERROR" in ln or "rror" in ln]
            raise CommandErrorException(f"{self.device_name}: frr-reload --test failed (rc {rc}): "
                                        f"{_one_line(errs[0] if errs else err or out) or 'no output'}")
        return parse.reload_diff(out)

    # --- pending commits -------------------------------------------------------------------------
    @property
    def journal(self) -> PendingStore:
        """The pending-commit store (its own: see napalm_frr.pending)."""
        if self._pending is None:
            self._pending = PendingStore(self.pending_path)
        return self._pending

    def _device_key(self) -> str:
        if not self.device_name:
            raise ConnectionClosedException("device name unknown: open() first, or set "
                                            "optional_args['device_name']")
        return self.device_name

    # --- candidate -------------------------------------------------------------------------------
    def _read_source(self, filename: Optional[str], config: Optional[str], exc: type[Exception]) -> str:
        if (filename is None) == (config is None):
            raise exc("give exactly one of filename or config")
        if filename is not None:
            try:
                with open(filename, encoding="utf-8") as f:
                    return f.read()
            except OSError as e:
                raise exc(f"cannot read {filename}: {e.strerror}") from None
        text = config or ""
        return text if text.endswith("\n") else text + "\n"

    def _check(self, path: str, exc: type[Exception]) -> None:
        rc, out, err = self._exec(f"vtysh{self._ns} -C -f {_q(path)}")
        errs = parse.check_errors(out + "\n" + err)
        if rc != 0 or errs:
            first = errs[0] if errs else _one_line(err or out) or f"rc {rc}"
            more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
            raise exc(f"{self.device_name}: FRR rejects the candidate: {first}{more}")

    def load_replace_candidate(self, filename: Optional[str] = None, config: Optional[str] = None) -> None:
        text = self._read_source(filename, config, ReplaceConfigException)
        self._load("replace", text, ReplaceConfigException)

    def load_merge_candidate(self, filename: Optional[str] = None, config: Optional[str] = None) -> None:
        text = self._read_source(filename, config, MergeConfigException)
        self._load("merge", text, MergeConfigException)

    def _load(self, kind: str, text: str, exc: type[Exception]) -> None:
        path = self._w("candidate.conf")
        try:
            self._put(path, text)
        except OSError as e:
            raise exc(f"{self.device_name}: cannot upload the candidate: {e}") from None
        self._diff = None
        try:
            if kind == "replace":
                self._diff = self._checked_diff(path, exc)
            else:
                self._check(path, exc)
        except exc:
            self._exec(f"rm -f {_q(path)}")
            self._candidate = self._candidate_kind = None
            raise
        self._candidate, self._candidate_kind = text, kind

    def _checked_diff(self, path: str, exc: type[Exception]) -> str:
        """``frr-reload.py --test``: it checks the candidate (its ``vtysh -m`` refuses what ``vtysh -C``
        refuses, with the same ``line N: %`` complaints) and diffs it against running in one pass, so
        a replace is parsed once on the router, not twice; compare_config right after reuses the diff."""
        rc, out, err = self._exec(self._reload_cmd("test", path))
        if rc != 0:
            errs = parse.reload_errors(out + "\n" + err) or [ln.strip() for ln in (err + out).splitlines()
                                                            if "ERROR" in ln or "rror" in ln]
            first = errs[0] if errs else _one_line(err or out) or f"rc {rc}"
            more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
            raise exc(f"{self.device_name}: FRR rejects the candidate: {first}{more}")
        return parse.reload_diff(out)

    def discard_config(self) -> None:
        self._candidate = self._candidate_kind = self._diff = None
        if self._ssh is not None:
            self._exec(f"rm -f {_q(self._w('candidate.conf'))}")

    def compare_config(self) -> str:
        if self._candidate is None:
            return ""
        if self._candidate_kind == "merge":
            return parse.merge_diff(self._candidate)
        if self._diff is not None:  # computed by the load of this candidate, in this session
            return self._diff
        self._put(self._w("candidate.conf"), self._candidate)
        return self._test_diff(self._w("candidate.conf"))

    # --- commit / confirm / rollback -----------------------------------------------------------
    def _install(self, src: str) -> bool:
        """Write the file ``src`` (on the device) as the saved config; True when it is there verbatim."""
        rc, _, _ = self._exec(_INSTALL_FN + f"egov_install {_q(src)} {_q(self.config_file)}")
        return rc == 0

    def _restore(self, path: str) -> str:
        """Reload ``path`` and save it as frr.conf; "" when the device runs it exactly, else the problem."""
        rc, out, err = self._exec(self._reload_cmd("reload", path), timeout=max(self.timeout, 120))
        problems = []
        try:
            left = self._test_diff(path)
        except CommandErrorException as e:
            left = str(e)
        if left:  # judged by what runs: frr-reload also fails (rc 1) when only its own `write` fails
            problems.append(f"running config still differs (frr-reload rc {rc}): {_one_line(left, 160)}")
        if not self._install(path):
            problems.append(f"could not write {self.config_file}")
        return "; ".join(problems)

    def _device_timers(self) -> list[str]:
        """Fail if an earlier revert timer is still live on the device; clear stale markers."""
        w = _q(self.workdir)
        script = (f"W={w}; i=0; while ls $W/reverting-* >/dev/null 2>&1 && [ $i -lt 120 ]; do "
                  "sleep 0.25; i=$((i+1)); done; "
                  "for m in $W/pending-* $W/reverting-*; do [ -e \"$m\" ] || continue; b=${m##*/}; "
                  "id=${b#pending-}; id=${id#reverting-}; "
                  "p=$(cat $W/timer-$id.pid 2>/dev/null); "
                  "if [ -n \"$p\" ] && kill -0 \"$p\" 2>/dev/null; then echo \"LIVE $id\"; "
                  "else rm -f \"$m\" $W/timer-$id.pid $W/revert-$id.sh; echo \"STALE $id\"; fi; done")
        return [ln.split()[1] for ln in self._sh(script, timeout=60).splitlines() if ln.startswith("LIVE ")]

    def _start_timer(self, cid: str, revert_in: int) -> None:
        w = self.workdir
        marker, reverting = self._w(f"pending-{cid}"), self._w(f"reverting-{cid}")
        pidf, script = self._w(f"timer-{cid}.pid"), self._w(f"revert-{cid}.sh")
        rb, log = self._w(f"rollback-{cid}.conf"), self._w(f"revert-{cid}.log")
        body = (
            "#!/bin/sh\n"
            f"# egov napalm-frr: revert change {cid} on this router unless confirmed within {revert_in} s\n"
            f"sleep {int(revert_in)}\n"
            f"mv {_q(marker)} {_q(reverting)} 2>/dev/null || {{ rm -f {_q(pidf)} \"$0\"; exit 0; }}\n"
            f"{self._reload_cmd('reload', rb)} >{_q(log)} 2>&1\n"
            + _INSTALL_FN
            + f"egov_install {_q(rb)} {_q(self.config_file)}; rc=$?\n"
            f"echo \"$(date +%s) reverted, saved config written: rc=$rc\" >>{_q(log)}\n"
            f"rm -f {_q(reverting)} {_q(pidf)} {_q(rb)} \"$0\"\n"
        )
        self._put(script, body)
        self._put(marker, f"{cid} {int(time.time()) + int(revert_in)}\n")
        # setsid: own session and process group (pid = pgid), so it survives the SSH session, and
        # confirm_commit can kill the sleep with it; $! is that pid (setsid does not fork here).
        self._sh(f"cd {_q(w)} || exit 1; setsid nohup sh {_q(script)} >/dev/null 2>&1 </dev/null & "
                 f"echo $! > {_q(pidf)}", what="start the revert timer")

    def _stop_timer(self, cid: str) -> bool:
        """Disarm the device's revert timer; False when it already fired (the device reverted)."""
        w = self.workdir
        out = self._sh(
            f"if mv {_q(self._w(f'pending-{cid}'))} {_q(self._w(f'stopped-{cid}'))} 2>/dev/null; then "
            f"p=$(cat {_q(self._w(f'timer-{cid}.pid'))} 2>/dev/null); "
            "[ -n \"$p\" ] && kill -TERM -\"$p\" 2>/dev/null; "
            f"rm -f {_q(self._w(f'stopped-{cid}'))} {_q(self._w(f'timer-{cid}.pid'))} "
            f"{_q(self._w(f'revert-{cid}.sh'))}; echo STOPPED; else echo GONE; fi",
            what=f"stop the revert timer in {w}")
        return "STOPPED" in out

    def commit_config(self, message: str = "", revert_in: Optional[int] = None) -> None:
        dev = self._device_key()
        self._may_commit(dev, revert_in)
        cid = self.change_id or time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        cid = re.sub(r"[^A-Za-z0-9_.-]", "_", cid)

        # rollback point: what runs now, in the order that boots safely
        rollback_text = parse.boot_order(self._running())
        rb_id = self._w(f"rollback-{cid}.conf")
        self._put(rb_id, rollback_text)
        cand = self._w("candidate.conf")
        self._put(cand, self._candidate or "")
        pending = revert_in is not None
        if revert_in is not None:
            self._arm(dev, cid, int(revert_in), rollback_text, rb_id)
        problem = self._apply_candidate(cand)
        if problem:
            if pending:
                self._stop_timer(cid)
            left = self._restore(rb_id)
            if pending:
                self.journal.clear(dev, "rolled_back")
            self._exec(f"rm -f {_q(rb_id)}")
            state = "restored the previous config" if not left else f"RESTORE INCOMPLETE: {left}"
            raise CommitError(f"{dev}: commit failed: {problem}; {state}")
        # the last rollback point, for rollback(); the timer keeps its own copy until it ends
        keep = "" if pending else f" && rm -f {_q(rb_id)}"
        self._sh(f"cp {_q(rb_id)} {_q(self._w('rollback.conf'))}{keep}", what="save the rollback point")
        self._candidate = self._candidate_kind = self._diff = None
        self._exec(f"rm -f {_q(cand)} {_q(self._w('merged.conf'))}")

    def _may_commit(self, dev: str, revert_in: Optional[int]) -> None:
        """Refuse a commit without a candidate, over a pending one or a live timer, or with a bad timer."""
        if self._candidate is None:
            raise CommitError(f"{dev}: nothing to commit: load a candidate first")
        if self.has_pending_commit():
            p = self.journal.pending(dev)
            raise CommitError(f"{dev}: commit {p.change_id if p else '?'} is pending confirmation; "
                              "confirm_commit() or rollback() first")
        live = self._device_timers()
        if live:
            raise CommitError(f"{dev}: the revert timer of commit {live[0]} is still running on the device")
        if revert_in is not None and int(revert_in) <= 0:
            raise CommitError(f"{dev}: revert_in must be a positive number of seconds")

    def _arm(self, dev: str, cid: str, revert_in: int, rollback_text: str, rb_id: str) -> None:
        """The device's revert timer, then the pending store: if the controller dies in between the router
        still reverts, and the store's deadline is never earlier than the device's."""
        self._start_timer(cid, revert_in)
        try:
            self.journal.record(dev, cid, revert_in, rollback_text)
        except Exception as e:
            self._stop_timer(cid)
            self._exec(f"rm -f {_q(rb_id)}")
            raise CommitError(f"{dev}: cannot record the pending commit in the journal "
                              f"({type(e).__name__}: {_one_line(e)}); nothing was changed") from None

    def _apply_candidate(self, cand: str) -> str:
        """Make the device run the uploaded candidate and save it; "" when done, else the problem."""
        try:
            if self._candidate_kind == "replace":
                rc, out, err = self._exec(self._reload_cmd("reload", cand), timeout=max(self.timeout, 120))
                if rc != 0:
                    errs = [ln for ln in (out + "\n" + err).splitlines() if "ERROR" in ln or "failed" in ln]
                    return f"frr-reload --reload failed (rc {rc}): {_one_line(errs[0] if errs else err or out)}"
                left = self._test_diff(cand)
                if left:
                    return f"the device does not run the candidate after the reload: {_one_line(left)}"
                save_src = cand
            else:
                rc, out, err = self._exec(f"vtysh{self._ns} -f {_q(cand)}", timeout=max(self.timeout, 120))
                errs = parse.check_errors(out + "\n" + err)
                if rc != 0 or errs:
                    return f"vtysh -f failed (rc {rc}): {_one_line('; '.join(errs[:2]) if errs else err or out)}"
                save_src = self._w("merged.conf")
                self._put(save_src, parse.boot_order(self._running()))
            if not self._install(save_src):
                return f"could not write {self.config_file}"
        except Exception as e:  # noqa: BLE001 - any failure mid-commit restores the rollback point
            return f"{type(e).__name__}: {_one_line(e)}"
        return ""

    def has_pending_commit(self) -> bool:
        dev = self._device_key()
        p = self.journal.pending(dev)
        if p is None:
            return False
        if p.expired:
            self.journal.clear(dev, "reverted")
            return False
        return True

    def confirm_commit(self) -> None:
        dev = self._device_key()
        p = self.journal.pending(dev)
        if p is None:
            raise CommitError(f"{dev}: no commit is pending confirmation")
        if not self._stop_timer(p.change_id):
            self.journal.clear(dev, "reverted")
            raise CommitError(f"{dev}: too late: the router already reverted commit {p.change_id}")
        self._exec(f"rm -f {_q(self._w(f'rollback-{p.change_id}.conf'))}")
        self.journal.clear(dev, "confirmed")

    def rollback(self) -> None:
        dev = self._device_key()
        p = self.journal.pending(dev)
        path = self._w("rollback.conf")
        if p is not None:
            if self._stop_timer(p.change_id):
                path = self._w(f"rollback-{p.change_id}.conf")
            else:
                # the timer fired already: wait for the revert to finish, then restore anyway
                self._device_timers()
                path = self._w("rollback.conf")
        rc, _, _ = self._exec(f"test -s {_q(path)}")
        if rc != 0:
            raise CommitError(f"{dev}: no rollback point on the device ({path})")
        left = self._restore(path)
        if p is not None:
            self.journal.clear(dev, "rolled_back")
            self._exec(f"rm -f {_q(self._w(f'rollback-{p.change_id}.conf'))}")
        if left:
            raise CommitError(f"{dev}: rollback failed: {left}")

    # --- getters ---------------------------------------------------------------------------------
    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False,
                   format: str = "text") -> models.ConfigDict:
        if format != "text":
            raise NotImplementedError("FRR configuration is text only")
        if retrieve not in ("all", "running", "startup", "candidate"):  # a typo must not read as empty
            raise ValueError(f"unknown retrieve {retrieve!r}; use one of all, running, startup, candidate")
        cfg: dict[str, str] = {"running": "", "startup": "", "candidate": ""}
        if retrieve in ("all", "running"):
            cfg["running"] = self._running()
        if retrieve in ("all", "startup"):
            rc, out, _ = self._exec(f"cat {_q(self.config_file)}")
            cfg["startup"] = out if rc == 0 else ""
        if retrieve in ("all", "candidate"):
            cfg["candidate"] = self._candidate or ""
        if sanitized:
            cfg = sanitize_configs(cfg, FRR_SANITIZE_FILTERS)
        return cfg  # type: ignore[return-value]

    def cli(self, commands: list[str], encoding: str = "text") -> dict[str, Any]:
        if encoding not in ("text", "json"):
            raise NotImplementedError(f"encoding {encoding!r}: use text or json")
        out: dict[str, Any] = {}
        for cmd in commands:
            rc, text, err = self._exec(f"vtysh{self._ns} -c {_q(cmd)}")
            if encoding == "json":
                try:
                    out[cmd] = json.loads(text)
                except ValueError:
                    raise CommandErrorException(f"{self.device_name}: {cmd!r} gave no JSON: "
                                                f"{_one_line(text or err)}") from None
            else:
                out[cmd] = text if text or not err else err
        return out

    def _links(self) -> list[dict[str, Any]]:
        return json.loads(self._sh("ip -j link show", what="ip -j link") or "[]")

    def get_facts(self) -> models.FactsDict:
        rc, out, _ = self._exec(f"uname -n; cat /proc/uptime; vtysh{self._ns} -c 'show version' | head -n 1")
        lines = out.splitlines() + ["", "", ""]
        host = lines[0].strip()
        try:
            uptime = float(lines[1].split()[0])
        except (IndexError, ValueError):
            uptime = -1.0
        m = re.search(r"FRRouting (\S+)", lines[2])
        names = [link["ifname"] for link in self._links()]
        return {"hostname": host, "fqdn": host, "vendor": "FRRouting", "model": "FRR",
                "os_version": m[1] if m else lines[2].strip(), "serial_number": "", "uptime": uptime,
                "interface_list": sorted(names, key=_natural)}

    def get_interfaces(self) -> dict[str, models.InterfaceDict]:
        links = self._links()
        speeds: dict[str, float] = {}
        rc, out, _ = self._exec('for f in /sys/class/net/*; do '
                                'echo "${f##*/} $(cat "$f/speed" 2>/dev/null)"; done')
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit() and int(parts[1]) > 0:
                speeds[parts[0]] = float(parts[1])
        try:
            frr_if = json.loads(self._vtysh("show interface json") or "{}")
        except (ValueError, CommandErrorException):
            frr_if = {}
        result: dict[str, models.InterfaceDict] = {}
        for link in links:
            name = link["ifname"]
            flags = link.get("flags", [])
            desc = frr_if.get(name, {}).get("description", "") if isinstance(frr_if.get(name), dict) else ""
            mac = link.get("address", "")
            try:
                mac = normalize_mac(mac) if mac else ""
            except Exception:  # noqa: BLE001 - non-Ethernet link addresses stay as Linux prints them
                pass
            result[name] = {"is_up": "LOWER_UP" in flags or link.get("operstate") == "UP",
                            "is_enabled": "UP" in flags, "description": desc or "", "last_flapped": -1.0,
                            "mtu": int(link.get("mtu", 0)), "speed": speeds.get(name, 0.0),
                            "mac_address": mac}
        return result

    def get_interfaces_ip(self) -> dict[str, models.InterfacesIPDict]:
        data = json.loads(self._sh("ip -j addr show", what="ip -j addr") or "[]")
        result: dict[str, Any] = {}
        for link in data:
            for a in link.get("addr_info", []):
                fam = {"inet": "ipv4", "inet6": "ipv6"}.get(a.get("family"))
                if not fam or "local" not in a:
                    continue
                entry = result.setdefault(link["ifname"], {})
                entry.setdefault(fam, {})[a["local"]] = {"prefix_length": int(a["prefixlen"])}
        return result

    def get_isis_neighbors(self) -> dict[str, dict[str, Any]]:
        """{interface: {"neighbor": system name, "level": 1|2|3, "state": "Up"|..., "holdtime": s}}."""
        return parse.isis_neighbors(self._vtysh("show isis neighbor"))

    def get_bfd_peers(self) -> list[dict[str, Any]]:
        """`show bfd peers json` as FRR gives it: dicts with peer, local, interface, status, timers..."""
        data = json.loads(self._vtysh("show bfd peers json") or "[]")
        return data if isinstance(data, list) else [data]

    # --- getters a NOC needs (iproute2 and FRR JSON; parsers in napalm_frr.parse) --------------------
    def _json(self, command: str) -> Any:
        out = self._sh(command, what=command.split(" json")[0][:60])
        try:
            return json.loads(out or "null")
        except ValueError:
            raise CommandErrorException(f"{self.device_name}: {command!r} gave no JSON: {_one_line(out)}") from None

    def get_interfaces_counters(self) -> dict[str, models.InterfaceCounterDict]:
        return parse.interfaces_counters(self._json("ip -j -s link show") or [])  # type: ignore[return-value]

    def get_arp_table(self, vrf: str = "") -> list[models.ARPTableDict]:
        if vrf:
            raise NotImplementedError("vrf is not supported by the FRR driver")
        return parse.arp_table(self._json("ip -j -4 neigh show") or [], _mac)  # type: ignore[return-value]

    def get_ipv6_neighbors_table(self) -> list[models.IPV6NeighborDict]:
        return parse.ipv6_neighbors(self._json("ip -j -6 neigh show") or [], _mac)  # type: ignore[return-value]

    def get_route_to(self, destination: str = "", protocol: str = "", longer: bool = False
                     ) -> dict[str, models.RouteDict]:
        """Routes to ``destination`` (a prefix or address; all with ""), from zebra's RIB, per next hop."""
        fam = "ipv6" if ":" in destination else "ip"
        what = f" {destination}" + (" longer-prefixes" if longer and destination else "")
        data = json.loads(self._vtysh(f"show {fam} route{what} json") or "{}")
        return parse.route_to(data, protocol)  # type: ignore[return-value]

    def get_lldp_neighbors(self) -> dict[str, list[models.LLDPNeighborDict]]:
        """From lldpd (``lldpcli``; its socket in ``optional_args["lldp_socket"]`` when not the default);
        NotImplementedError when the router runs no lldpd."""
        sock = f" -u {_q(str(self.lldp_socket))}" if self.lldp_socket else ""
        # lldpcli is in /usr/sbin, outside a plain login's PATH
        rc, out, err = self._exec(f"PATH=$PATH:/usr/sbin:/sbin lldpcli{sock} -f json0 show neighbors")
        if rc != 0:
            raise NotImplementedError(f"{self.device_name}: no lldpd: {_one_line(err or out)}")
        return parse.lldp_neighbors(json.loads(out or "{}"))  # type: ignore[return-value]

    def _read_conf(self, path: str, what: str) -> str:
        """A host config file; through ``sudo -n`` when the login may not read it (snmpd.conf is 0600)."""
        rc, out, err = self._exec(f"cat {_q(path)} 2>/dev/null || sudo -n cat {_q(path)}")
        if rc != 0:
            raise CommandErrorException(f"{self.device_name}: cannot read the {what} config {path}: "
                                        f"{_one_line(err or out) or f'rc {rc}'}")
        return out

    def get_ntp_servers(self) -> dict[str, models.NTPServerDict]:
        """From chrony's config (``optional_args["ntp_config"]``, default /etc/chrony/chrony.conf)."""
        return parse.ntp_servers(self._read_conf(self.ntp_config, "chrony"))  # type: ignore[return-value]

    def get_snmp_information(self) -> models.SNMPDict:
        """From net-snmp's config (``optional_args["snmp_config"]``, default /etc/snmp/snmpd.conf);
        SNMPv3 users and their keys are never returned."""
        return parse.snmp_information(self._read_conf(self.snmp_config, "snmpd"))  # type: ignore[return-value]

    def get_users(self) -> dict[str, models.UsersDict]:
        """Linux accounts with a login shell; SSH keys from ``optional_args["authorized_keys"]`` (sshd's
        AuthorizedKeysFile tokens %h and %u; default %h/.ssh/authorized_keys)."""
        script = _USERS_SCRIPT.replace("@KEYS@", _q(self.authorized_keys))
        return parse.users(self._sh(script, what="list the users"))  # type: ignore[return-value]

    def ping(self, destination: str, source: str = "", ttl: int = 255, timeout: int = 2, size: int = 100,
             count: int = 5, vrf: str = "", source_interface: str = "") -> models.PingResultDict:
        if vrf:
            return {"error": "vrf is not supported by the FRR driver"}
        args = ["ping", "-n", "-c", str(int(count)), "-i", "0.2", "-W", str(int(timeout)),
                "-t", str(int(ttl)), "-s", str(int(size))]
        if source or source_interface:
            args += ["-I", source or source_interface]
        args.append(destination)
        rc, out, err = self._exec(" ".join(_q(a) for a in args),
                                  timeout=max(self.timeout, count * (0.2 + timeout) + 10))
        res = parse.ping(out, count)
        if "error" in res and err.strip():
            res["error"] = _one_line(err)
        return res  # type: ignore[return-value]


# one line per fact of each user with a login shell (parsed by napalm_frr.parse.users)
_USERS_SCRIPT = r"""k=@KEYS@; getent passwd | while IFS=: read -r u _ uid _ _ home shell; do
  case "$shell" in */nologin|*/false|*/sync|*/halt|*/shutdown|"") continue;; esac
  echo "U $u $uid $shell"; echo "G $(id -nG "$u" 2>/dev/null)"
  echo "P $(getent shadow "$u" 2>/dev/null | cut -d: -f2)"
  f=$(printf '%s' "$k" | sed "s|%h|$home|g; s|%u|$u|g"); [ -r "$f" ] && sed 's/^/K /' "$f"
done; true"""


def _mac(text: str) -> str:
    try:
        return str(normalize_mac(text))
    except Exception:  # noqa: BLE001 - a non-Ethernet link address stays as Linux prints it
        return text


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
