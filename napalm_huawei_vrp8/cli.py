"""What both drivers need from a Huawei/H3C CLI session: prompts, questions, error lines, a journal.

Questions are answered deliberately: the caller says which answer each question gets; an
unexpected question is a failure, never a blind "y". Error formats are the ones in
../shared/notes/chinese-nos.md §1.8 (VRP: caret line + ``Error:``) and §2 (Comware: ``%``).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

PROMPT = re.compile(r"(?:<[^<>\r\n]+>|\[[~*]?[^\[\]\r\n]+\])\s*$")
QUESTION = re.compile(r"(\[Y/N\]:|\[Y\(yes\)/N\(no\)/C\(cancel\)\]:|\[Y/N/C\]:)\s*$")
EXPECT = r"(?:<[^<>\r\n]+>|\[[~*]?[^\[\]\r\n]+\]|\[Y/N\]:|\[Y\(yes\)/N\(no\)/C\(cancel\)\]:|\[Y/N/C\]:)\s*$"
VRP_ERROR = re.compile(r"^\s*Error:.*$", re.M)
COMWARE_ERROR = re.compile(r"^\s*%\s*(?:Unrecognized|Incomplete|Ambiguous|Too many|Wrong|Command not available|"
                           r"Parameter error|Failed).*$|^\s*Error:.*$", re.M)


class CliError(Exception):
    """The device answered with an error line."""


def first_error(text: str, pattern: re.Pattern[str]) -> str | None:
    m = pattern.search(text)
    return m.group(0).strip() if m else None


def config_lines(text: str) -> list[str]:
    """Lines to type from a rendered config: no headers, no ``return``, comments kept as '#'."""
    out = []
    for raw in text.splitlines():
        s = raw.rstrip()
        if not s.strip() or s.startswith("!") or s.strip() == "return" or s.strip().startswith("version "):
            continue
        out.append(s)
    return out


#: one writer at a time in this process (flock below serialises processes)
_LOCK = threading.Lock()


class Journal:
    """Pending trials per device in a small JSON file, so has_pending_commit survives the process."""

    def __init__(self, path: str | os.PathLike[str] | None, key: str):
        if path is None:
            base = os.environ.get("EGOV_STATE_DIR") or os.path.join(os.getcwd(), ".egov")
            path = os.path.join(base, "drivers", "pending.json")
        self.path = Path(path)
        self.key = key

    def _all(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def get(self) -> dict[str, Any] | None:
        return self._all().get(self.key)

    def set(self, entry: dict[str, Any] | None) -> None:
        """Read-modify-write under an exclusive lock: many drivers (threads, ansible forks) share the file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _LOCK, open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._all()
            if entry is None:
                data.pop(self.key, None)
            else:
                data[self.key] = entry
            tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, indent=1))
            os.replace(tmp, self.path)


def label_for(message: str = "") -> str:
    """A commit label: letters first (VRP refuses labels starting with a digit), unique per second."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", message)[:40].strip("-") or "egov"
    if not base[0].isalpha():
        base = "egov-" + base
    return f"{base}-{time.strftime('%Y%m%d%H%M%S')}"


def prompt(conn: Any) -> str:
    """The prompt the last command ended at (``send`` keeps it), else asked once with ``find_prompt``.

    Never ``find_prompt`` per step: on a slow link it sends up to a dozen empty lines, and the prompts
    they bring back arrive later as stale "output" of the next command (a plan that says "no changes")."""
    seen = getattr(conn, "_egov_prompt", "")
    if not seen:
        seen = conn.find_prompt()
        conn._egov_prompt = seen
    return str(seen)


_ONLY_PROMPTS = re.compile(r"^(?:\s*(?:<[^<>\r\n]+>|\[[~*]?[^\[\]\r\n]+\]))*\s*$")


def _after_echo(conn: Any, text: str, line: str, timeout: float, strict: bool = False) -> str:
    """What the device printed for ``line``, from its echo on.

    A read that holds nothing but prompts ended early on a stale one (netmiko's ``find_prompt`` sends
    extra empty lines when the device is slow, and hp_comware turns command-echo checks off): keep
    reading until the command's echo and a prompt after it. Output without the echo but with content
    (a device that wraps long echoes) is taken as it is, unless ``strict`` (right after log-in, where
    that content may be the rest of a banner)."""
    if not line:
        return text
    deadline = time.monotonic() + timeout
    while True:
        i = text.find(line)
        if i >= 0:
            if re.search(EXPECT, text[i + len(line):]):
                return text[i:]
        elif not strict and not _ONLY_PROMPTS.match(text):
            return text
        if time.monotonic() > deadline:
            raise CliError(f"no answer to {line!r} within {timeout:.0f} s (last: {text.strip()[-80:]!r})")
        time.sleep(0.02)
        text += conn.read_channel()


def send(conn: Any, line: str, answers: dict[str, str] | None = None, timeout: float = 60) -> str:
    """Type ``line``; answer the questions it raises from ``answers`` ({question regex: answer});
    return everything printed up to the next prompt. A prompt left in the channel never ends the read
    early (``_after_echo``)."""
    out = conn.send_command(line, expect_string=EXPECT, strip_prompt=False, strip_command=False,
                            read_timeout=timeout, cmd_verify=False)
    total = _after_echo(conn, out, line.strip(), timeout)
    for _ in range(5):
        m = QUESTION.search(total.rstrip())
        if not m:
            break
        tail = total.rstrip().splitlines()[-1]
        reply = None
        for rx, ans in (answers or {}).items():
            if re.search(rx, tail):
                reply = ans
                break
        if reply is None:
            conn.send_command("C" if "cancel" in tail.lower() else "N", expect_string=EXPECT, read_timeout=timeout,
                              cmd_verify=False)
            raise CliError(f"unexpected question after {line!r}: {tail.strip()}")
        more = conn.send_command(reply, expect_string=EXPECT, strip_prompt=False, strip_command=False,
                                 read_timeout=timeout, cmd_verify=False)
        total += "\n" + more
    m = PROMPT.search(total.rstrip())
    if m:
        conn._egov_prompt = m.group(0).strip()
    return total


def clean(text: str, command: str) -> str:
    """Output without the echoed command and the trailing prompt."""
    lines = text.replace("\r", "").split("\n")
    if lines and lines[0].strip().endswith(command):
        lines = lines[1:]
    while lines and (not lines[-1].strip() or PROMPT.match(lines[-1].strip())):
        lines = lines[:-1]
    return "\n".join(lines)


#: the abbreviations VRP and Comware print in tables, and the names their configs use
_LONG = (("MGE", "M-GigabitEthernet"), ("XGE", "Ten-GigabitEthernet"), ("GE", "GigabitEthernet"),
         ("Loop", "LoopBack"), ("Vlan", "Vlan-interface"), ("Eth-Trunk", "Eth-Trunk"))


def long_if(name: str) -> str:
    """``GE0/1/1`` -> ``GigabitEthernet0/1/1``: getters answer with the names the configs use."""
    for short, long in _LONG:
        if name.startswith(long):
            return name
        if name.startswith(short) and name[len(short):][:1].isdigit():
            return long + name[len(short):]
    return name


def ping_command(destination: str, source: str = "", count: int = 5, timeout: int = 2, size: int = 100) -> str:
    """The same ``ping`` on VRP8 and Comware 7: ``ping [ipv6] -a SRC -c N -t MS -s SIZE DEST``."""
    v6 = " ipv6" if ":" in destination else ""
    src = f" -a {source}" if source else ""
    return f"ping{v6}{src} -c {int(count)} -t {int(timeout) * 1000} -s {int(size)} {destination}"


def ping_result(text: str, count: int) -> dict[str, Any]:
    """NAPALM's ping result from the statistics both vendors print (``N packet(s) transmitted`` /
    ``received``, ``round-trip min/avg/max[/std-dev]``)."""
    sent = re.search(r"(\d+) packet\(s\) transmitted", text)
    got = re.search(r"(\d+) packet\(s\) received", text)
    if not sent or not got:
        line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "no output")
        return {"error": line[:200]}
    rtt = re.search(r"min/avg/max(?:/std-dev)? = ([\d.]+)/([\d.]+)/([\d.]+)", text)
    mn, avg, mx = (float(x) for x in rtt.groups()) if rtt else (0.0, 0.0, 0.0)
    return {"success": {"probes_sent": int(sent.group(1)), "packet_loss": int(sent.group(1)) - int(got.group(1)),
                        "rtt_min": mn, "rtt_max": mx, "rtt_avg": avg, "rtt_stddev": 0.0, "results": []}}


#: what a login can end at: a prompt, or one of the questions VRP and Comware ask before the first prompt
_LOGIN_END = (r"(?:<[^<>\r\n]+>|\[[~*]?[^\[\]\r\n]+\]|Change now\?.*|Please choose.*|"
              r"Press Y or ENTER to continue, N to exit\.?|\[[Yy]/[Nn]\]:?)\s*$")
_LOGIN_ANSWERS = (
    (re.compile(r"Change now\?|Please choose"), "N"),  # keep the password: changing it is not this tool's call
    (re.compile(r"to continue, N to exit"), "Y"),       # Comware's login banner question
    (re.compile(r"(?i)security risks.*\[y/n\]"), "N"),  # VRP: "save the configuration now?": not a change of ours
)


class QuickSession:
    """netmiko session set-up and tear-down by pattern instead of fixed sleeps.

    netmiko's own ``session_preparation`` and ``cleanup`` for huawei/hp_comware sleep about 0.9 s on
    login and 2.2 s on logout (``find_prompt``, ``clear_buffer``, ``read_channel_timing``): at province
    scale that, not the device, sets the pace. Here login reads until the first prompt (answering the
    password-change and banner questions deliberately), turns paging off through ``send`` and records
    the prompt; logout closes the SSH channel without waiting."""

    paging_command = ""
    ansi = False  # VRP pads its output with cursor-moving escape codes (netmiko strips them); Comware does not
    RETURN: str
    timeout: float

    def special_login_handler(self, delay_factor: float = 1.0) -> None:
        """Nothing here: ``session_preparation`` handles the login questions."""

    def _try_session_preparation(self, force_data: bool = True) -> None:
        try:
            self.session_preparation()
        except Exception:
            self.disconnect()
            raise

    def session_preparation(self) -> None:
        conn: Any = self
        conn.ansi_escape_codes = self.ansi
        data = ""
        for _ in range(4):
            try:
                data = conn.read_until_pattern(pattern=_LOGIN_END, read_timeout=min(self.timeout, 10))
            except Exception:  # no prompt on its own: some devices print it only after a RETURN
                conn.write_channel(self.RETURN)
                data = conn.read_until_pattern(pattern=_LOGIN_END, read_timeout=self.timeout)
            tail = data.rstrip().splitlines()[-1] if data.strip() else ""
            answer = next((a for rx, a in _LOGIN_ANSWERS if rx.search(tail)), None)
            if answer is None:
                break
            conn.write_channel(answer + self.RETURN)
        m = PROMPT.search(data.rstrip())
        if not m:
            raise CliError(f"no prompt after login (last: {data.strip()[-80:]!r})")
        conn._egov_prompt = m.group(0).strip()
        if self.paging_command:
            self._confirm_prompt(conn)
        conn.base_prompt = conn._egov_prompt.strip("<>[]~*")

    def _confirm_prompt(self, conn: Any) -> None:
        """Turn paging off and take the prompt from its answer: the read must hold the command's echo
        and a prompt after it. A banner line that merely looks like a prompt (``[Authorized access
        only]``) may have ended the login read; trusting it would leave every later answer one command
        behind."""
        cmd = self.paging_command
        text = conn.send_command(cmd, expect_string=EXPECT, strip_prompt=False, strip_command=False,
                                 read_timeout=self.timeout, cmd_verify=False)
        answer = _after_echo(conn, text, cmd, self.timeout, strict=True)
        m = PROMPT.search(answer.rstrip())
        if not m:
            raise CliError(f"no prompt after {cmd!r} at log-in (last: {answer.strip()[-80:]!r})")
        conn._egov_prompt = m.group(0).strip()

    def cleanup(self, command: str = "quit") -> None:
        """Nothing to type: closing the SSH channel ends the VTY session on the device (the drivers
        leave the system view first, discarding what they did not commit)."""


def close_session(conn: Any, leave: Callable[[], None]) -> None:
    """``leave`` (back to the user view, discarding what was not committed), then close the SSH session
    whatever leaving did: a session left open holds one of the device's few VTY lines."""
    try:
        leave()
    except Exception:
        pass
    finally:
        try:
            conn.disconnect()
        except Exception:
            pass


_QUICK: dict[str, type] = {}


def open_session(netmiko_type: str, paging_command: str, ansi: bool = False, **kwargs: Any) -> Any:
    """A logged-in netmiko session of ``netmiko_type`` with ``QuickSession``'s set-up and tear-down."""
    if netmiko_type not in _QUICK:
        from netmiko.ssh_dispatcher import CLASS_MAPPER

        base = CLASS_MAPPER[netmiko_type]
        _QUICK[netmiko_type] = type(f"Quick{base.__name__}", (QuickSession, base),
                                    {"paging_command": paging_command, "ansi": ansi})
    return _QUICK[netmiko_type](device_type=netmiko_type, **kwargs)


def journal_path(optional_args: dict[str, Any]) -> str | None:
    """``journal``, else beside the application's pending-commit store (``pending_store``), else the default."""
    if optional_args.get("journal"):
        return str(optional_args["journal"])
    if optional_args.get("pending_store"):
        return str(Path(optional_args["pending_store"]).with_name("vrp-comware-pending.json"))
    return None


class DisplayGetters:
    """The getters VRP8 and Comware 7 share: the same ``display`` commands, each parsed by the driver's
    own ``parse`` module (``_parse``), in the shape napalm_frr gives, so one validation document
    (egov.change.expect) fits every driver."""

    _parse: Any  # the driver package's parse module (isis_peers, bfd_sessions)
    _bfd_command = "display bfd session"

    def _show(self, command: str) -> str:
        raise NotImplementedError

    def _cmd(self, line: str, answers: dict[str, str] | None = None) -> str:
        raise NotImplementedError

    def get_isis_neighbors(self) -> dict[str, dict[str, Any]]:
        """{interface: {"neighbor": system id (the hostname with ``is-name``), "level", "state", "holdtime"}}."""
        return {long_if(p["interface"]): {"neighbor": p["system_id"], "level": p["type"], "state": p["state"],
                                         "holdtime": p.get("hold_time", "")}
                for p in self._parse.isis_peers(self._show("display isis peer"))}

    def get_bfd_peers(self) -> list[dict[str, Any]]:
        """[{"peer", "local", "interface" (config name), "status": "up"|"down"}]."""
        return [{"peer": s["peer"], "local": s.get("local", ""), "interface": long_if(s["interface"]),
                 "status": s["state"].lower()} for s in self._parse.bfd_sessions(self._show(self._bfd_command))]

    def ping(self, destination: str, source: str = "", ttl: int = 255, timeout: int = 2, size: int = 100,
             count: int = 5, vrf: str = "", source_interface: str = "") -> Any:
        """``ping [ipv6] -a SOURCE -c COUNT -t MS -s SIZE DEST`` in the global table (the loopbacks')."""
        if vrf:
            return {"error": "vrf is not supported by this driver"}
        return ping_result(self._cmd(ping_command(destination, source, count, timeout, size)), count)
