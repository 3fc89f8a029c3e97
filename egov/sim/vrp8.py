"""A Huawei VRP8 router (NE40E / NE8000): two-stage configuration, trials, commit history.

Behaviour and wording come from ../shared/notes/chinese-nos.md (sections 1 and 8) and the NE40E
V800R012C10 command reference; what the notes mark unverified is listed in docs/vrp-comware.md.
Configuration lines are accepted only where the NE40E grammar allows them (egov/sim/grammar.py).
"""

from __future__ import annotations

import copy
import ipaddress
import itertools
import re
from dataclasses import dataclass

from egov.sim import outputs
from egov.sim.cli import Cursor, View, ViewRule
from egov.sim.grammar import caret_column, vrp8_grammar
from egov.sim.model import (Commit, Device, FileErrors, Node, Question, Revert, SimClock, apply_line,
                             diff_trees, flash_name, render_blocks)

SYSTEM = View(("System view",), "")
ALLIF = "all-interface view"

_IF_VIEWS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"^GigabitEthernet\d+/\d+/\d+$"),
     ("GE interface view", "GE electrical interface view", "GE optical interface view")),
    (re.compile(r"^GigabitEthernet\d+/\d+/\d+\.\d+$"), ("GE sub-interface view",)),
    (re.compile(r"^10GE\d+/\d+/\d+$"), ("10GE interface view",)),
    (re.compile(r"^100GE\d+/\d+/\d+$"), ("100GE interface view",)),
    (re.compile(r"^LoopBack\d+$"), ("Loopback interface view",)),
    (re.compile(r"^Eth-Trunk\d+$"), ("Eth-Trunk interface view",)),
    (re.compile(r"^Vlanif\d+$"), ("VLANIF interface view",)),
    (re.compile(r"^NULL0$"), ("NULL interface view",)),
]


def _interface(m: re.Match[str], parent: View) -> View:
    name = m.group(1)
    for rx, names in _IF_VIEWS:
        if rx.match(name):
            return View(names + (ALLIF,), f"-{name}", m.group(0))
    return View((ALLIF,), f"-{name}", m.group(0))


def _acl(m: re.Match[str], parent: View) -> View:
    n = int(m.group(1))
    kind = "basic" if 2000 <= n <= 2999 else "adv" if 3000 <= n <= 3999 else "l2"
    names = {"basic": ("Basic ACL view",), "adv": ("Advanced ACL view",), "l2": ("Layer 2 ACL view",)}[kind]
    return View(names, f"-acl4-{kind}-{n}", m.group(0))


def _acl6(m: re.Match[str], parent: View) -> View:
    n = int(m.group(1))
    kind = "basic" if 2000 <= n <= 2999 else "adv"
    names = ("Basic ACL6 view",) if kind == "basic" else ("Advanced ACL6 view",)
    return View(names, f"-acl6-{kind}-{n}", m.group(0))


def _family(af: str):
    def make(m: re.Match[str], parent: View) -> View:
        name = f"VPN instance IPv{af[-1]} address family view"
        return View((name,), f"{parent.suffix}-af-{af}", m.group(0))
    return make


#: which lines enter a view, from the NE40E command reference's examples (prompts in `examples`)
RULES: list[ViewRule] = [
    (re.compile(r"^interface (\S+)$"), "System view", _interface),
    (re.compile(r"^isis(?: (\d+))?(?: vpn-instance \S+)?$"), "System view",
     lambda m, p: View(("IS-IS view",), f"-isis-{m.group(1) or 1}", m.group(0))),
    (re.compile(r"^ip vpn-instance (\S+)$"), "System view",
     lambda m, p: View(("VPN instance view",), f"-vpn-instance-{m.group(1)}", m.group(0))),
    (re.compile(r"^ipv4-family(?: unicast)?$"), "VPN instance view", _family("ipv4")),
    (re.compile(r"^ipv6-family(?: unicast)?$"), "VPN instance view", _family("ipv6")),
    (re.compile(r"^bfd$"), "System view", lambda m, p: View(("BFD view",), "-bfd", m.group(0))),
    (re.compile(r"^acl (?:number )?(\d+)(?: match-order \S+)?$"), "System view", _acl),
    (re.compile(r"^acl ipv6 (?:number )?(\d+)(?: match-order \S+)?$"), "System view", _acl6),
    (re.compile(r"^aaa$"), "System view", lambda m, p: View(("AAA view",), "-aaa", m.group(0))),
    (re.compile(r"^user-interface vty (\d+)(?: (\d+))?$"), "System view",
     lambda m, p: View(("VTY-type user interface view",),
                       f"-ui-vty{m.group(1)}" + (f"-{m.group(2)}" if m.group(2) else ""), m.group(0))),
]

ERRORS = {
    "unrecognized": "Error: Unrecognized command found at '^' position.",
    "wrong": "Error: Wrong parameter found at '^' position.",
    "incomplete": "Error: Incomplete command found at '^' position.",
    "too-many": "Error: Too many parameters found at '^' position.",
}
YN = "[Y/N]:"
YNC = "[Y(yes)/N(no)/C(cancel)]:"
TRIAL_MODE = "Error: The system is in trial configuration mode."
VERSION = ("Huawei Versatile Routing Platform Software\n"
           "VRP (R) software, Version 8.180 (NE40E V800R012C10SPC300)\n"
           "Copyright (C) 2012-2019 Huawei Technologies Co., Ltd.\n"
           "HUAWEI NE40E-X8A uptime is {uptime}\n"
           "Patch Version: V800R012SPH001\n")


def normalise(line: str) -> str:
    """The device shows input in canonical form: ``ip address A 30`` becomes a dotted mask."""
    m = re.match(r"^ip address (\S+) (\d{1,2})( sub)?$", line)
    if m:
        mask = ipaddress.IPv4Network(f"0.0.0.0/{m.group(2)}").netmask
        return f"ip address {m.group(1)} {mask}{m.group(3) or ''}"
    return line


def render(root: Node, header: bool = True, updated: str = "") -> str:
    """``display current-configuration``: '#' between top-level blocks, one space per view level."""
    head = []
    if header:
        head.append("!Software Version V800R012C10SPC300")
        if updated:
            head.append(f"!Last configuration was updated at {updated}")
    return render_blocks(root, head)


@dataclass(slots=True, kw_only=True)
class Trial(Revert):
    """A ``commit trial``: only its own session may confirm or abort it."""

    session: int
    commit_id: str


class Vrp8Device(Device):
    """Running config, commit history (rollback points) and the one trial of a VRP8 router."""

    platform = "huawei_vrp"
    error_texts = ERRORS
    header_prefixes = ("!",)

    def __init__(self, hostname: str, clock: SimClock | None = None, fabric: object | None = None):
        self.trial: Trial | None = None
        self.rollback_left: list[str] = []
        self.replace_failed: FileErrors = []  # of the last `load configuration file`
        self.next_id = 1000000001
        self.updated = ""
        super().__init__(hostname, clock, fabric)

    def cursor(self) -> Cursor:
        return Cursor(vrp8_grammar(), RULES, SYSTEM, normalise)

    def render(self, root: Node) -> str:
        return render(root, updated=self.updated)

    def stamp(self, when: float | None = None) -> str:
        return self.local_time(when).strftime("%Y-%m-%d %H:%M:%S+08:00")

    def commit(self, candidate: Node, user: str, label: str = "", description: str = "",
               kind: str = "CLI") -> Commit:
        c = Commit(str(self.next_id), label or "-", user, kind, self.clock.now(), description or "-",
                   self.running, copy.deepcopy(candidate))
        self.next_id += 1
        self.history.append(c)
        del self.history[:-80]  # at most 80 rollback points, the oldest go first
        self.running = copy.deepcopy(candidate)
        self.updated = self.stamp()
        return c

    def timer(self) -> Trial | None:
        return self.trial

    def expire(self, timer: Revert) -> None:
        self.end_trial(confirmed=False, why="timer expired")

    def end_trial(self, confirmed: bool, why: str = "") -> None:
        trial = self.trial
        self.trial = None
        if trial is None or confirmed:
            return
        self.commit(trial.before, "system", kind="ROLLBACK",
                    description=f"trial {trial.commit_id} rolled back")
        self.log.append(f"{self.stamp()} trial {trial.commit_id} rolled back ({why})")

    def rollback_to(self, target: Node, user: str) -> list[str]:
        """Roll running back to ``target``; returns leftover differences (a fault may leave one)."""
        result = copy.deepcopy(target)
        left: list[str] = []
        if self.faults.rollback_leftover:
            extra = [c for c in self.running.children if not c.view and target.child(c.text) is None]
            gone = [c for c in target.children if not c.view and self.running.child(c.text) is None]
            if extra:
                result.children.append(copy.deepcopy(extra[0]))
                left = [f"-{extra[0].text}"]
            elif gone:
                result.children = [c for c in result.children if c.text != gone[0].text]
                left = [f"+{gone[0].text}"]
        self.commit(result, user, kind="ROLLBACK")
        self.rollback_left = left
        return left


class Vrp8Session:
    """One CLI session (one SSH channel) on a :class:`Vrp8Device`."""

    _ids = itertools.count(1)

    def __init__(self, device: Vrp8Device, user: str = "netops"):
        self.device = device
        self.user = user
        self.id = next(self._ids)
        self.mode = "user"  # user | system
        self.cursor = device.cursor()
        self.candidate: Node | None = None
        self.changed = False
        self.question: Question | None = None
        self.config_lines = 0
        self.closed = False
        self.drop = False  # the server should cut the connection now (fault)

    # --- prompt ---------------------------------------------------------------------------------
    def prompt(self) -> str:
        if self.question:
            return ""
        host = self.device.sysname
        if self.mode == "user":
            return f"<{host}>"
        mark = "*" if self.changed else "~"
        return f"[{mark}{host}{self.cursor.view.suffix}]"

    def banner(self) -> str:
        return "\nInfo: The max number of VTY users is 10, and the number\n      of current VTY users on line is 1.\n"

    # --- input ----------------------------------------------------------------------------------
    def handle(self, raw: str) -> str:
        """One input line -> what the device prints before the next prompt."""
        dev = self.device
        dev.tick()
        with dev.lock:
            if self.question:
                q = self.question
                ans = raw.strip().upper()
                if ans in ("Y", "YES", "N", "NO", "C", "CANCEL") and ans[0] in q.choices:
                    self.question = None
                    return q.answer(ans[0])
                if q.choices == "YNC":
                    return "Error: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:"
                return q.text
            line = " ".join(raw.split())
            if not line:
                return ""
            return self._dispatch(line, raw)

    def ask(self, text: str, choices: str, answer) -> str:
        self.question = Question(text, choices, answer)
        return text

    def _dispatch(self, line: str, raw: str) -> str:
        low = line.lower()
        if low.startswith("display ") or low.startswith("dis "):
            return outputs.vrp_display(self, line)
        if low.startswith("ping "):
            text = outputs.ping(self.device, line, "huawei_vrp")
            return text if text is not None else self._error(line, 1, "wrong")
        if low.startswith("screen-length") or low.startswith("screen-width"):
            return "Info: The configuration takes effect on the current user terminal interface only." \
                if self.mode == "user" else ""
        if self.mode == "user":
            return self._user(line)
        return self._system(line, raw)

    def _error(self, line: str, word: int, kind: str) -> str:
        col = len(self.prompt()) + caret_column(line, word)
        return " " * col + "^\n" + ERRORS[kind]

    # --- user view ------------------------------------------------------------------------------
    def _user(self, line: str) -> str:
        dev = self.device
        if line in ("system-view", "sys", "system-view immediately"):
            if line.endswith("immediately"):
                return "Error: The immediate mode is not simulated."
            self.mode = "system"
            self.cursor.reset()
            self.config_lines = 0
            return "Enter system view, return user view with return command."
        if line in ("quit", "exit"):
            self.closed = True
            return ""
        if line == "return":
            return ""
        if line.startswith("save"):
            return self.ask("Warning: The current configuration will be written to the device. Continue? [Y/N]:",
                            "YN", lambda a: self._save(a))
        m = re.match(r"^rollback configuration (?:to (commit-id|label|file) (\S+)|last (\d+))$", line)
        if m:
            return self._rollback(m)
        m = re.match(r"^set configuration commit (\d+) label (\S+)$", line)
        if m:
            return self._set_label(m.group(1), m.group(2))
        m = re.match(r"^clear configuration commit (\d+) label$", line)
        if m:
            for c in dev.history:
                if c.id == m.group(1):
                    c.label = "-"
                    return ""
            return "Error: The commit ID does not exist."
        m = re.match(r"^clear configuration commit oldest (\d+)$", line)
        if m:
            del dev.history[:int(m.group(1))]
            return ""
        if line.startswith("delete "):
            name = flash_name(line.split()[-1])
            if dev.files.pop(name, None) is None:
                return "Error: The file does not exist."
            return f"Info: Deleting file flash:/{name}...succeeded."
        if line.startswith("clock timezone"):
            return ""
        return self._error(line, 0, "unrecognized")

    def _save(self, ans: str) -> str:
        if ans == "N":
            return ""
        self.device.write_running("vrpcfg.cfg")
        return "Info: Save the configuration successfully."

    def _set_label(self, cid: str, label: str) -> str:
        dev = self.device
        if problem := _label_problem(label, dev):
            return problem
        for c in dev.history:
            if c.id == cid:
                c.label = label
                return ""
        return "Error: The commit ID does not exist."

    def _rollback(self, m: re.Match[str]) -> str:
        dev = self.device
        if dev.trial:
            return TRIAL_MODE
        kind, ref, last = m.group(1), m.group(2), m.group(3)
        target: Node | None = None
        if last:
            n = int(last)
            if n < 1 or n > len(dev.history):
                return "Error: The number of rollback points is out of range."
            target = dev.history[-n].before
        elif kind == "commit-id":
            target = next((c.after for c in dev.history if c.id == ref), None)
            if target is None:
                return "Error: The commit ID does not exist."
        elif kind == "label":
            target = next((c.after for c in dev.history if c.label == ref), None)
            if target is None:
                return "Error: The label does not exist."
        else:
            name = flash_name(ref)
            if name not in dev.files:
                return "Error: The file does not exist."
            target, errors = dev.parse(dev.files[name])

        def go(ans: str, target: Node = target) -> str:
            if ans == "N":
                return ""
            left = dev.rollback_to(target, self.user)
            text = "Loading rollback changes\nCommitting\nCheck rollback result\n"
            if left:
                return text + ("Warning: Configuration rollback completed, but some differences remain. "
                               "Use 'display configuration rollback result' to view them.")
            return text + ("Configuration rollback succeeded.\n"
                           "Please use 'display configuration commit changes last 1' to view the changes.")

        return self.ask("Warning: This operation will revert configuration changes to the previous status. "
                        "Continue? [Y/N]:", "YN", go)

    # --- system view and below ------------------------------------------------------------------
    def _system(self, line: str, raw: str) -> str:
        dev = self.device
        if line in ("return",) or (line == "quit" and len(self.cursor.stack) == 1):
            return self._leave()
        if line == "quit":
            self.cursor.stack.pop()
            return ""
        m = re.match(r"^commit(?: (trial)(?: (\d+))?)?(?: label (\S+))?(?: description (.+))?$", line)
        if m:
            return self._commit(trial=bool(m.group(1)), seconds=int(m.group(2) or 600),
                                label=m.group(3) or "", description=m.group(4) or "")
        if line in ("abort trial", "abort trial session " + str(self.id)):
            if not dev.trial:
                return "Error: The system is not in trial configuration mode."
            if dev.trial.session != self.id:
                return "Error: The trial configuration was started by another session."

            def abort(ans: str) -> str:
                if ans == "N":
                    return ""
                dev.end_trial(confirmed=False, why="aborted")
                return "Info: The trial configuration rollback succeeded."
            return self.ask("Warning: The trial configuration will be rolled back. Continue? [Y/N]:", "YN", abort)
        if line == "clear configuration candidate":
            self.candidate = None
            self.changed = False
            return ""
        if line == "refresh configuration candidate":
            if self.candidate is not None:
                mine = diff_trees(dev.running, self.candidate)
                self.candidate = copy.deepcopy(dev.running)
                self.changed = bool(mine)
            return ""
        m = re.match(r"^load configuration file (\S+) (replace|merge)(?: relative)?$", line)
        if m:
            return self._load_file(flash_name(m.group(1)), m.group(2))
        # a configuration line
        self.config_lines += 1
        if dev.faults.reject_line and self.config_lines == dev.faults.reject_line:
            return self._error(line, 0, "unrecognized")
        if self.candidate is None:
            self.candidate = copy.deepcopy(dev.running)
        verdict, changed = self.cursor.apply(self.candidate, raw)
        if not verdict.ok:
            return self._error(line, verdict.pos, verdict.kind)
        self.changed = self.changed or changed
        return ""

    def _leave(self) -> str:
        if not self.changed:
            self._to_user()
            return ""

        def answer(ans: str) -> str:
            if ans == "C":
                return ""
            out = ""
            if ans == "Y":
                out = self._commit(False, 0, "", "")
                if out.startswith("Error"):
                    return out
            self.candidate = None
            self.changed = False
            self._to_user()
            return out

        return self.ask("Warning: Uncommitted configurations found, commit them before exiting? " + YNC,
                        "YNC", answer)

    def _to_user(self) -> None:
        self.mode = "user"
        self.cursor.reset()

    def _commit(self, trial: bool, seconds: int, label: str, description: str) -> str:
        dev = self.device
        if dev.faults.fail_commit:
            return "Error: Failed to commit the configuration. The system is busy."
        if dev.trial and dev.trial.session != self.id:
            return TRIAL_MODE
        if trial and not 60 <= seconds <= 65535:
            return self._error(f"commit trial {seconds}", 2, "wrong")
        if label and (problem := _label_problem(label, dev)):
            return problem
        if description and len(description) > 60:
            return "Error: The description is too long."
        out = []
        if self.changed and self.candidate is not None:
            before = dev.running
            c = dev.commit(self.candidate, self.user, label, description)
            if trial and not dev.trial:
                dev.trial = Trial(dev.clock.now() + seconds, before, session=self.id, commit_id=c.id)
            elif trial and dev.trial:
                dev.trial.deadline = dev.clock.now() + seconds
        elif trial:
            if dev.trial:
                dev.trial.deadline = dev.clock.now() + seconds
            else:
                c = dev.commit(dev.running, self.user, label, description)
                dev.trial = Trial(dev.clock.now() + seconds, c.before, session=self.id, commit_id=c.id)
        elif label:
            dev.commit(dev.running, self.user, label, description)
        self.candidate = None
        self.changed = False
        if trial:
            out.append("Info: The system enters the trial configuration mode.")
            out.append("The system will revert to previous configuration if the trial configuration is "
                       f"not confirmed in {seconds} seconds.")
            if dev.faults.drop_after_trial:
                self.drop = True
        elif dev.trial and dev.trial.session == self.id:
            dev.end_trial(confirmed=True)
            out.append("Info: The trial configuration was confirmed.")
        return "\n".join(out)

    def _load_file(self, name: str, how: str) -> str:
        dev = self.device
        if name not in dev.files:
            return "Error: The file does not exist."
        tree, errors = dev.read_file(name)
        if errors:
            dev.replace_failed = errors
            no, text, why = errors[0]
            return (f"Error: Failed to load the configuration file. {len(errors)} command(s) failed, "
                    f"the first at line {no} ({text}): {why} "
                    "Run 'display configuration replace failed' to view them.")
        dev.replace_failed = []
        if how == "replace":
            self.candidate = tree
        else:
            if self.candidate is None:
                self.candidate = copy.deepcopy(dev.running)
            _merge(self.candidate, tree)
        self.changed = bool(diff_trees(dev.running, self.candidate))
        return "Info: The configuration file was loaded successfully."


def _merge(into: Node, new: Node) -> None:
    for c in new.children:
        node = apply_line(into, c.text, c.view, c.sep)
        if c.view:
            _merge(node, c)


def _label_problem(label: str, dev: Vrp8Device) -> str:
    if label[0].isdigit() or label == "-" or not 1 <= len(label) <= 256:
        return "Error: The label must be 1 to 256 characters, cannot start with a digit, and cannot be '-'."
    if any(c.label == label for c in dev.history):
        return "Error: The label already exists."
    return ""
