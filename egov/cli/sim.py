"""``egov sim``: every VRP8 and Comware router of a profile as a simulated device over real SSH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Annotated, NoReturn

import typer
from rich.table import Table

from egov.cli.common import ProfileOpt, fail, out, say
from egov.errors import Problem

sim_app = typer.Typer(no_args_is_help=True, help="Simulated Huawei VRP8 / H3C Comware 7 routers on 127.0.0.1.")


def _problem(message: str, fix: str) -> NoReturn:
    fail([Problem("egov sim", "", message, fix)])


@sim_app.command("up")
def up(profile: ProfileOpt,
       limit: Annotated[str, typer.Option("--limit", help="Comma-separated hostname globs.")] = "",
       bare: Annotated[bool, typer.Option("--bare", help="Start with hostname and management access only.")] = False,
       base_port: Annotated[int, typer.Option("--base-port", help="First port (default: any free ports).")] = 0,
       timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the devices.")] = 300) -> None:
    """Start the simulator in the background; returns once every device listens."""
    from egov.sim.server import read_state, sim_dir, state_file

    st = read_state()
    if st and _alive(st["pid"]):
        _problem(f"a simulator is already up (pid {st['pid']}, profile {st['profile']})", "run `egov sim down` first")
    sim_dir().mkdir(parents=True, exist_ok=True)
    state_file().unlink(missing_ok=True)
    log = open(sim_dir() / "sim.log", "ab")  # noqa: SIM115 (the child owns it)
    cmd = [sys.executable, "-m", "egov.sim.serve", "--profile", profile, "--limit", limit,
           "--base-port", str(base_port)] + (["--bare"] if bare else [])
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < timeout:
        st = read_state()
        if st and st.get("pid") == proc.pid:
            say(f"sim: {len(st['ports'])} devices up on {st['host']} ({len(st['skipped'])} other routers "
                f"skipped) in {time.time() - t0:.1f} s; `egov sim status` lists them", stderr=True)
            return
        if proc.poll() is not None:
            tail = (sim_dir() / "sim.log").read_text(errors="replace").strip().splitlines()[-1:]
            _problem(f"the simulator exited ({tail[0] if tail else 'no output'})", f"see {sim_dir() / 'sim.log'}")
        time.sleep(0.2)
    proc.kill()
    _problem(f"the simulator did not come up in {timeout:.0f} s", "raise --timeout or narrow --limit")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


@sim_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False) -> None:
    """The served devices: port, platform, open sessions, faults, pending trial."""
    from egov.sim.server import ask, read_state

    st = read_state()
    if st is None:
        _problem("no simulator is up", "run `egov sim up --profile P`")
    resp = ask({"op": "status"})
    if not resp.get("ok"):
        _problem(resp.get("error", "no answer"), "run `egov sim down` and `egov sim up` again")
    devices = resp["devices"]
    if as_json:
        print(json.dumps({"profile": st["profile"], "host": st["host"], "devices": devices,
                          "skipped": sorted(resp["skipped"])}, indent=1))
        return
    t = Table(title=f"simulated routers of {st['profile']} on {st['host']}", title_justify="left")
    for col in ("host", "platform", "port", "sessions", "trial", "faults"):
        t.add_column(col)
    for d in devices:
        t.add_row(d["host"], d["platform"], str(d["port"]), str(d["sessions"]), "yes" if d["trial"] else "",
                  ", ".join(d["faults"]))
    out.print(t)
    say(f"{len(devices)} served, {len(resp['skipped'])} other routers skipped")


@sim_app.command("fault")
def fault(host: str,
          kind: Annotated[str, typer.Argument(help="reject-line | fail-commit | drop-after-trial | unreachable "
                                                   "| rollback-leftover | clear")],
          arg: Annotated[str, typer.Argument(help="N for reject-line")] = "") -> None:
    """Switch a fault on one simulated device (``clear`` switches them all off)."""
    from egov.sim.server import ask

    kinds = ("reject-line", "fail-commit", "drop-after-trial", "unreachable", "rollback-leftover", "clear")
    if kind not in kinds:
        _problem(f"unknown fault {kind!r}", f"use one of {', '.join(kinds)}")
    if kind == "reject-line" and not arg.isdigit():
        _problem("reject-line needs a line number", f"egov sim fault {host} reject-line 3")
    resp = ask({"op": "fault", "host": host, "fault": kind, "arg": arg})
    if not resp.get("ok"):
        _problem(resp.get("error", "no answer"), "check the hostname with `egov sim status`")
    say(f"{host}: {', '.join(resp['faults']) or 'no faults'}")


@sim_app.command("down")
def down() -> None:
    """Stop the simulator (trials and commit delays in flight are lost with it)."""
    from egov.sim.server import ask, read_state, state_file

    st = read_state()
    if st is None:
        say("sim: nothing is up", stderr=True)
        return
    ask({"op": "down"}, timeout=5)
    for _ in range(50):
        if not _alive(st["pid"]):
            break
        time.sleep(0.1)
    else:
        os.kill(st["pid"], 15)
    state_file().unlink(missing_ok=True)
    say("sim: down", stderr=True)
