"""The CLI session never takes a stale prompt for a command's answer (a plan that said "no changes"),
and logs in by pattern, answering the log-in questions deliberately."""

from __future__ import annotations

import re

import pytest

from napalm_huawei_vrp8.cli import CliError, QuickSession, prompt, send


class FakeConn:
    """netmiko as seen under load: the read ends on a prompt left over from ``find_prompt``'s extra
    empty lines; the command's echo, output and prompt arrive afterwards."""

    def __init__(self, first: str, later: list[str]):
        self.first, self.later = first, list(later)
        self.find_prompt_calls = 0

    def send_command(self, line, **kw):
        return self.first

    def read_channel(self):
        return self.later.pop(0) if self.later else ""

    def find_prompt(self):
        self.find_prompt_calls += 1
        return "<r1>"


def test_a_stale_prompt_does_not_end_the_read():
    cmd = "display diff current-configuration configfile flash:/egov-candidate.cfg"
    conn = FakeConn("\n<r1>", ["", cmd + "\n+ isis 1\n", "+ is-level level-2\n<r1>"])
    out = send(conn, cmd, timeout=5)
    assert out.startswith(cmd) and "+ is-level level-2" in out and out.rstrip().endswith("<r1>")


def test_output_without_an_echo_but_with_content_is_taken_as_it_is():
    conn = FakeConn("some output\n<r1>", [])
    assert send(conn, "display version", timeout=5) == "some output\n<r1>"


def test_the_prompt_comes_from_the_last_answer_not_from_find_prompt():
    conn = FakeConn("system-view\nEnter system view, return user view with return command.\n[~r1]", [])
    send(conn, "system-view", timeout=5)
    assert prompt(conn) == "[~r1]" and conn.find_prompt_calls == 0


# --- log-in by pattern (QuickSession): questions answered deliberately, the prompt recorded ---------
class ScriptedLogin(QuickSession):
    """A device's log-in as netmiko sees it: ``script`` holds what it prints, then what it prints after
    each line written to it; reads end where netmiko's ``read_until_pattern`` would."""

    RETURN = "\n"
    timeout = 5

    def __init__(self, script: list[str], paging: str = "screen-length 0 temporary", prompt: str = "<r1>",
                 late: str = ""):
        self.pending, self.script, self.written = script[0], script[1:], []
        self.paging_command, self.prompt_text, self.late, self.unread = paging, prompt, late, ""

    def read_until_pattern(self, pattern: str, read_timeout: float = 10, **_kw) -> str:
        if not re.search(pattern, self.pending):
            raise TimeoutError(f"pattern not found in {self.pending!r}")
        out, self.pending = self.pending, ""
        return out

    def write_channel(self, text: str) -> None:
        self.written.append(text)
        self.pending += self.script.pop(0) if self.script else ""

    def send_command(self, line: str, **_kw) -> str:
        """The answer; with ``late`` set, what was still in the channel comes first and ends the read
        (netmiko stops at the first thing that looks like a prompt), the answer follows."""
        self.written.append(line + "\n")
        answer = f"{line}\nInfo: The configuration takes effect on the current user terminal interface only.\n" \
                 f"{self.prompt_text}"
        if self.late:
            self.unread = answer
            return self.late
        return answer

    def read_channel(self) -> str:
        out, self.unread = self.unread, ""
        return out

    def disconnect(self) -> None:
        self.written.append("<disconnect>")


def test_log_in_keeps_the_password_when_vrp_asks_to_change_it():
    s = ScriptedLogin(["Info: The password needs to be changed. Change now? [Y/N]:", "\n<r1>"])
    s.session_preparation()
    assert s.written == ["N\n", "screen-length 0 temporary\n"]
    assert s._egov_prompt == "<r1>" and s.base_prompt == "r1"  # type: ignore[attr-defined]


def test_log_in_does_not_save_the_configuration_when_vrp_warns_of_security_risks():
    s = ScriptedLogin(["Warning: There are security risks in the configuration file. Are you sure to save "
                       "the configuration? [y/n]:", "\n<r1>"])
    s.session_preparation()
    assert s.written[0] == "N\n"


def test_log_in_passes_the_comware_banner_question():
    s = ScriptedLogin(["******\n* Copyright (c) 2004-2021 New H3C *\nPress Y or ENTER to continue, N to exit.",
                       "\n<h3c>"], paging="screen-length disable", prompt="<h3c>")
    s.session_preparation()
    assert s.written == ["Y\n", "screen-length disable\n"] and s.base_prompt == "h3c"  # type: ignore[attr-defined]


def test_a_log_in_that_never_shows_a_prompt_fails_and_disconnects():
    s = ScriptedLogin(["Welcome", "still no prompt"])
    with pytest.raises((CliError, TimeoutError)):
        s._try_session_preparation()
    assert s.written[-1] == "<disconnect>"


def test_a_banner_line_that_looks_like_a_prompt_is_not_taken_for_one():
    """The login read ends on ``[Authorized access only]``; the rest of the banner and the real prompt
    are still in the channel and end the paging command's first read. The prompt and the end of that
    command come from its echo and the prompt after it, so later answers are not one command behind."""
    s = ScriptedLogin(["Welcome\n[Authorized access only]", ""],
                      late="\nInfo: The max number of VTY users is 10.\n<r1>")
    s.session_preparation()
    assert s._egov_prompt == "<r1>" and s.base_prompt == "r1"  # type: ignore[attr-defined]
    assert s.unread == ""  # the paging command's answer was read to its end
