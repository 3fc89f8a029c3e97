"""A Huawei VRP8 router (NE40E / NE8000): two-stage configuration, trials, commit history.

Behaviour and wording come from ../shared/notes/chinese-nos.md (sections 1 and 8) and the NE40E
V800R012C10 command reference; what the notes mark unverified is listed in docs/vrp-comware.md.
Configuration lines are accepted only where the NE40E grammar allows them (egov/sim/grammar.py).
"""

from __future__ import annotations

import copy
import ipaddress
import re
from dataclasses import dataclass

from egov.sim import outputs
from egov.sim.cli import Cursor, View, ViewRule
from egov.sim.grammar import Verdict, vrp8_grammar
from egov.sim.model import (Commit, Device, FileErrors, Node, Revert, Session, SimClock, apply_line, command,
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
YNC_AGAIN = "Error: Please choose 'YES', 'NO' or 'CANCEL' first before pressing 'Enter'. [Y/N/C]:"
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
        """``candidate`` becomes running and a rollback point (ids from 1000000001, the last 80 kept)."""
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
        """End the trial; unconfirmed, the config before it comes back as a ROLLBACK point of its own."""
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


class Vrp8Session(Session[Vrp8Device]):
    """One CLI session (one SSH channel) on a :class:`Vrp8Device`: its own candidate (two-stage
    configuration), committed, confirmed or thrown away by this session only."""

    BANNER = "\nInfo: The max number of VTY users is 10, and the number\n      of current VTY users on line is 1.\n"
    ENTER_SYSTEM = "Enter system view, return user view with return command."
    COMMANDS = [
        command("any", r"^(?:display|dis) ", "_display", nocase=True),
        command("any", r"^ping ", "_ping", nocase=True),
        command("any", r"^screen-(?:length|width)", "_screen", nocase=True),
        command("user", r"^system-view immediately$", "_immediate"),
        command("user", r"^(?:system-view|sys)$", "_system_view"),
        command("user", r"^(?:quit|exit)$", "_close"),
        command("user", r"^return$", "_nothing"),
        command("user", r"^save", "_save_question"),
        command("user", r"^rollback configuration (?:to (commit-id|label|file) (\S+)|last (\d+))$", "_rollback"),
        command("user", r"^set configuration commit (\d+) label (\S+)$", "_set_label"),
        command("user", r"^clear configuration commit (\d+) label$", "_clear_label"),
        command("user", r"^clear configuration commit oldest (\d+)$", "_clear_oldest"),
        command("user", r"^delete ", "_delete"),
        command("user", r"^clock timezone", "_nothing"),
        command("system", r"^return$", "_return"),
        command("system", r"^quit$", "_quit"),
        command("system", r"^commit(?: (trial)(?: (\d+))?)?(?: label (\S+))?(?: description (.+))?$", "_commit_line"),
        command("system", r"^abort trial(?: session (\d+))?$", "_abort_trial"),
        command("system", r"^clear configuration candidate$", "_clear_candidate"),
        command("system", r"^refresh configuration candidate$", "_refresh_candidate"),
        command("system", r"^load configuration file (\S+) (replace|merge)(?: relative)?$", "_load_line"),
    ]

    def __init__(self, device: Vrp8Device, user: str = "netops"):
        super().__init__(device, user)
        self.candidate: Node | None = None
        self.changed = False

    def _mark(self) -> str:
        return "*" if self.changed else "~"

    def _display(self, m: re.Match[str]) -> str:
        return outputs.vrp_display(self, m.string)

    def _screen(self, m: re.Match[str]) -> str:
        return "Info: The configuration takes effect on the current user terminal interface only." \
            if self.mode == "user" else ""

    # --- user view ------------------------------------------------------------------------------
    def _immediate(self, m: re.Match[str]) -> str:
        return "Error: The immediate mode is not simulated."

    def _save_question(self, m: re.Match[str]) -> str:
        return self.ask("Warning: The current configuration will be written to the device. Continue? [Y/N]:",
                        self._save)

    def _save(self, ans: str) -> str:
        if ans == "N":
            return ""
        self.device.write_running("vrpcfg.cfg")
        return "Info: Save the configuration successfully."

    def _set_label(self, m: re.Match[str]) -> str:
        dev = self.device
        cid, label = m.group(1), m.group(2)
        if problem := _label_problem(label, dev):
            return problem
        for c in dev.history:
            if c.id == cid:
                c.label = label
                return ""
        return "Error: The commit ID does not exist."

    def _clear_label(self, m: re.Match[str]) -> str:
        for c in self.device.history:
            if c.id == m.group(1):
                c.label = "-"
                return ""
        return "Error: The commit ID does not exist."

    def _clear_oldest(self, m: re.Match[str]) -> str:
        del self.device.history[:int(m.group(1))]
        return ""

    def _delete(self, m: re.Match[str]) -> str:
        name = flash_name(m.string.split()[-1])
        if self.device.files.pop(name, None) is None:
            return "Error: The file does not exist."
        return f"Info: Deleting file flash:/{name}...succeeded."

    def _rollback(self, m: re.Match[str]) -> str:
        """``rollback configuration``: the target is found (or refused) now, rolled back on Y."""
        dev = self.device
        if dev.trial:
            return TRIAL_MODE
        target = self._rollback_target(m.group(1), m.group(2), m.group(3))
        if isinstance(target, str):
            return target

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
                        "Continue? [Y/N]:", go)

    def _rollback_target(self, kind: str, ref: str, last: str) -> Node | str:
        """The config a rollback goes to (``last N``: before the Nth last commit), or the error."""
        dev = self.device
        if last:
            n = int(last)
            if n < 1 or n > len(dev.history):
                return "Error: The number of rollback points is out of range."
            return dev.history[-n].before
        if kind == "commit-id":
            target = next((c.after for c in dev.history if c.id == ref), None)
            return target if target is not None else "Error: The commit ID does not exist."
        if kind == "label":
            target = next((c.after for c in dev.history if c.label == ref), None)
            return target if target is not None else "Error: The label does not exist."
        name = flash_name(ref)
        if name not in dev.files:
            return "Error: The file does not exist."
        return dev.parse(dev.files[name])[0]

    # --- system view and below ------------------------------------------------------------------
    def _apply(self, raw: str) -> Verdict:
        """A configuration line edits this session's candidate (a copy of running until commit)."""
        if self.candidate is None:
            self.candidate = self.device.snapshot()
        verdict, changed = self.cursor.apply(self.candidate, raw)
        if verdict.ok:
            self.changed = self.changed or changed
        return verdict

    def _abort_trial(self, m: re.Match[str]) -> str | None:
        if m.group(1) is not None and m.group(1) != str(self.id):
            return None  # another session's number: not a command of this session
        dev = self.device
        if not dev.trial:
            return "Error: The system is not in trial configuration mode."
        if dev.trial.session != self.id:
            return "Error: The trial configuration was started by another session."

        def abort(ans: str) -> str:
            if ans == "N":
                return ""
            dev.end_trial(confirmed=False, why="aborted")
            return "Info: The trial configuration rollback succeeded."
        return self.ask("Warning: The trial configuration will be rolled back. Continue? [Y/N]:", abort)

    def _clear_candidate(self, m: re.Match[str]) -> str:
        self.candidate = None
        self.changed = False
        return ""

    def _refresh_candidate(self, m: re.Match[str]) -> str:
        dev = self.device
        if self.candidate is not None:
            mine = diff_trees(dev.running, self.candidate)
            self.candidate = dev.snapshot()
            self.changed = bool(mine)
        return ""

    def _load_line(self, m: re.Match[str]) -> str:
        return self._load_file(flash_name(m.group(1)), m.group(2))

    def _leave(self) -> str:
        """``return`` (or ``quit`` from the system view) asks first when the candidate has changes."""
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
                        answer, "YNC", again=YNC_AGAIN)

    def _commit_line(self, m: re.Match[str]) -> str:
        return self._commit(trial=bool(m.group(1)), seconds=int(m.group(2) or 600),
                            label=m.group(3) or "", description=m.group(4) or "")

    def _commit_problem(self, trial: bool, seconds: int, label: str, description: str) -> str:
        """Why a commit is refused before anything changes ("" when it may go ahead)."""
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
        return ""

    def _commit(self, trial: bool, seconds: int, label: str, description: str) -> str:
        """``commit [trial N] [label L] [description D]``: the candidate becomes running (a rollback
        point); a trial reverts unless this session commits again within N seconds."""
        if problem := self._commit_problem(trial, seconds, label, description):
            return problem
        dev = self.device
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
        """``load configuration file F replace|merge`` into the candidate, all or nothing."""
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
                self.candidate = dev.snapshot()
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
