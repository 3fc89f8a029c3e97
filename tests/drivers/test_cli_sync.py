"""The CLI session never takes a stale prompt for a command's answer (a plan that said "no changes")."""

from __future__ import annotations

from napalm_huawei_vrp8.cli import prompt, send


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
