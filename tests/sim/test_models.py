"""The device models on the project's own rendered configs, and their transactional behaviour.

Every line the templates render for profile ``shaanxi`` must be accepted by the grammar of its
platform (except the template defects listed in KNOWN_DEFECTS, which a real router would reject
too); a mistyped line is rejected with the device's own caret and error.
"""

from __future__ import annotations

import pytest

from egov.render.engine import Renderer
from egov.render.secrets import placeholders
from egov.sim.comware7 import ComwareDevice, ComwareSession
from egov.sim.fabric import Fabric
from egov.sim.model import Session, SimClock, command
from egov.sim.vrp8 import Vrp8Device, Vrp8Session
from egov.topology.validate import build_plan

#: rendered lines the NE40E V800R012C10 grammar refuses: (platform, view line, line). Empty since the
#: VRP8 template stopped rendering `isis silent` under LoopBack0 (the grammar has it in 18 interface
#: views, not in "Loopback interface view"; a loopback is advertised without it)
KNOWN_DEFECTS: set[tuple[str, str, str]] = set()


@pytest.fixture(scope="module")
def shaanxi():
    plan = build_plan("shaanxi")
    renderer = Renderer(plan, placeholders())
    return plan, renderer


def _sample(plan, platform: str, n: int):
    nodes = [x for x in plan.topology.nodes.values() if x.platform == platform]
    tiers: dict[str, object] = {}
    for x in nodes:
        tiers.setdefault(x.tier, x)
    return list(tiers.values())[:n]


@pytest.mark.parametrize("platform,cls", [("huawei_vrp", Vrp8Device), ("h3c_comware", ComwareDevice)])
def test_every_rendered_line_is_accepted(shaanxi, platform, cls):
    plan, renderer = shaanxi
    nodes = _sample(plan, platform, 6)
    assert nodes
    for node in nodes:
        text = renderer.render_node(node)[f"{node.hostname}.cfg"]
        dev = cls(node.hostname)
        tree, errors = dev.parse(text)
        lines = text.splitlines()
        found = set()
        for no, line, _why in errors:
            view = next(ln for ln in reversed(lines[:no - 1]) if ln and not ln.startswith((" ", "#")))
            found.add((platform, view, line))
        assert found <= KNOWN_DEFECTS, f"{node.hostname}: {sorted(found - KNOWN_DEFECTS)}"
        # what the device displays is what was rendered (so a second plan is empty)
        shown = [ln for ln in dev.render(tree).splitlines()
                 if not ln.startswith("!") and not ln.startswith(" version ")]
        wanted = [ln for ln in lines if (platform, "interface LoopBack0", ln.strip()) not in KNOWN_DEFECTS
                  or not ln.startswith(" ")]
        if platform == "h3c_comware":
            shown = shown[1:]  # the "#" before the version line
        assert shown == wanted


def test_isis_silent_is_refused_in_the_vrp8_loopback_view():
    """Why the template no longer renders it: the same line is fine in a GE view, not under LoopBack0."""
    dev = Vrp8Device("r1")
    s = Vrp8Session(dev)
    s.handle("system-view")
    s.handle("interface GigabitEthernet0/1/1")
    assert s.handle("isis silent") == ""
    s.handle("interface LoopBack0")
    assert "Unrecognized command" in s.handle("isis silent")


def test_vrp8_mistyped_lines_get_the_device_error():
    dev = Vrp8Device("sn-a")
    s = Vrp8Session(dev)
    assert s.prompt() == "<sn-a>"
    assert s.handle("system-view") == "Enter system view, return user view with return command."
    assert s.prompt() == "[~sn-a]"
    s.handle("interface GigabitEthernet0/1/1")
    assert s.prompt() == "[~sn-a-GigabitEthernet0/1/1]"
    out = s.handle("isis cots 10")
    caret, msg = out.splitlines()
    assert msg == "Error: Unrecognized command found at '^' position."
    assert caret.index("^") == len("[~sn-a-GigabitEthernet0/1/1]") + len("isis ")
    assert s.handle("isis cost 0").endswith("Error: Wrong parameter found at '^' position.")
    assert s.handle("isis cost").endswith("Error: Incomplete command found at '^' position.")
    assert s.handle("isis cost 10 level-2 extra").endswith("Error: Too many parameters found at '^' position.")
    assert s.prompt().startswith("[~")  # nothing was accepted
    # a system-view command typed in an interface view moves up, as pasted configs rely on
    assert s.handle("sysname other") == ""
    assert s.prompt() == "[*sn-a]"  # the name changes only after commit
    s.handle("commit")
    assert s.prompt() == "[~other]"


def test_comware_mistyped_line():
    dev = ComwareDevice("sn-xa-x01")
    s = ComwareSession(dev)
    s.handle("system-view")
    s.handle("interface GigabitEthernet1/0/1")
    out = s.handle("isis cots 10")
    assert out.splitlines()[1] == " % Unrecognized command found at '^' position."
    assert s.handle("bfd detect-multiplier 99").endswith(" % Wrong parameter found at '^' position.")


def _vrp(lines: list[str], dev: Vrp8Device | None = None) -> tuple[Vrp8Device, Vrp8Session]:
    dev = dev or Vrp8Device("r1")
    s = Vrp8Session(dev)
    s.handle("system-view")
    for ln in lines:
        assert s.handle(ln) == "", ln
    return dev, s


def test_vrp8_trial_reverts_on_its_own_and_confirm_keeps():
    dev, s = _vrp(["interface GigabitEthernet0/1/1", "description new"])
    assert "+  description new" in s.handle("display configuration candidate changes")
    out = s.handle("commit trial 60 label chg-1")
    assert "trial configuration mode" in out and "60 seconds" in out
    assert "Trial status: ACTIVE" in s.handle("display configuration trial status")
    other = Vrp8Session(dev)
    assert other.handle("rollback configuration last 1") == "Error: The system is in trial configuration mode."
    dev.clock.advance(61)
    assert "INACTIVE" in s.handle("display configuration trial status")
    assert dev.running.child("interface GigabitEthernet0/1/1") is None
    assert dev.history[-1].kind == "ROLLBACK"
    # confirm in the same session keeps it
    s.handle("interface GigabitEthernet0/1/1")
    s.handle("description new")
    s.handle("commit trial 120")
    assert "confirmed" in s.handle("commit")
    dev.clock.advance(200)
    dev.tick()
    assert dev.running.child("interface GigabitEthernet0/1/1") is not None


def test_vrp8_abort_trial_and_exit_prompt():
    dev, s = _vrp(["interface GigabitEthernet0/1/1", "description x"])
    s.handle("commit trial 300")
    assert s.handle("abort trial").endswith("[Y/N]:")
    assert s.handle("y") == "Info: The trial configuration rollback succeeded."
    assert dev.running.child("interface GigabitEthernet0/1/1") is None
    s.handle("interface GigabitEthernet0/1/2")
    s.handle("description y")
    q = s.handle("return")
    assert q.endswith("[Y(yes)/N(no)/C(cancel)]:") and s.prompt() == ""
    assert s.handle("maybe").startswith("Error: Please choose 'YES', 'NO' or 'CANCEL'")
    assert s.handle("c") == "" and s.prompt().startswith("[*")
    s.handle("return")
    s.handle("n")
    assert s.prompt() == "<r1>" and dev.running.child("interface GigabitEthernet0/1/2") is None


def test_vrp8_rollback_to_label_and_leftovers():
    dev, s = _vrp(["interface GigabitEthernet0/1/1", "description one"])
    s.handle("commit label base")
    s.handle("interface GigabitEthernet0/1/1")
    s.handle("description two")
    s.handle("ntp-service server disable")
    s.handle("commit")
    s.handle("return")
    assert s.handle("rollback configuration to label base").endswith("Continue? [Y/N]:")
    assert "Configuration rollback succeeded." in s.handle("y")
    assert dev.running.child("interface GigabitEthernet0/1/1").children[0].text == "description one"
    assert "No difference" in s.handle("display configuration rollback result")
    assert [c.kind for c in dev.history][-1] == "ROLLBACK"
    # a rollback that leaves something behind says so
    s.handle("system-view")
    s.handle("ntp-service server disable")
    s.handle("commit label two")
    s.handle("return")
    dev.faults.rollback_leftover = True
    s.handle("rollback configuration to label base")
    assert "some differences remain" in s.handle("y")
    assert "There are still several differences" in s.handle("display configuration rollback result")


def test_vrp8_replace_from_flash_and_commit_list():
    dev, s = _vrp([])
    dev.files["cand.cfg"] = "sysname r1\n#\ninterface GigabitEthernet0/1/1\n description from-file\n#\nreturn\n"
    assert "loaded successfully" in s.handle("load configuration file flash:/cand.cfg replace")
    changes = s.handle("display configuration candidate changes")
    assert "+  description from-file" in changes
    s.handle("commit label chg-2")
    listing = s.handle("display configuration commit list 1")
    assert listing.splitlines()[3].split()[1:3] == [dev.history[-1].id, "chg-2"]
    dev.files["bad.cfg"] = "sysname r1\ninterface GigabitEthernet0/1/1\n isis cots 5\n"
    assert s.handle("load configuration file bad.cfg replace").startswith("Error: Failed to load")


def test_comware_commit_delay_reverts_and_commit_keeps():
    dev = ComwareDevice("c1")
    s = ComwareSession(dev)
    s.handle("system-view")
    assert s.handle("configuration commit delay 2") == ""
    s.handle("interface GigabitEthernet1/0/1")
    s.handle("description now")  # takes effect at once
    assert dev.running.child("interface GigabitEthernet1/0/1") is not None
    dev.clock.advance(121)
    dev.tick()
    assert dev.running.child("interface GigabitEthernet1/0/1") is None
    s.handle("quit")
    s.handle("configuration commit delay 2")
    s.handle("interface GigabitEthernet1/0/1")
    s.handle("description now")
    s.handle("quit")
    s.handle("configuration commit")
    dev.clock.advance(600)
    dev.tick()
    assert dev.running.child("interface GigabitEthernet1/0/1") is not None


def test_comware_replace_file_and_diff():
    dev = ComwareDevice("c1")
    s = ComwareSession(dev)
    dev.files["cand.cfg"] = "#\n sysname c1\n#\ninterface GigabitEthernet1/0/1\n description replaced\n#\nreturn\n"
    diff = s.handle("display diff current-configuration configfile flash:/cand.cfg")
    assert "+interface GigabitEthernet1/0/1" in diff
    s.handle("system-view")
    assert s.handle("configuration replace file flash:/cand.cfg").endswith("[Y/N]:")
    assert "Succeeded in replacing" in s.handle("n")
    assert s.handle("display diff current-configuration configfile flash:/cand.cfg") == ""


VENDORS = [pytest.param(Vrp8Device, Vrp8Session, "GigabitEthernet0/1/1", id="vrp8"),
           pytest.param(ComwareDevice, ComwareSession, "GigabitEthernet1/0/1", id="comware")]


def test_each_vendor_numbers_its_own_sessions():
    """``abort trial session N`` names a VRP8 session: Comware sessions opened meanwhile do not count."""
    first = Vrp8Session(Vrp8Device("r1"))
    ComwareSession(ComwareDevice("c1"))
    assert Vrp8Session(first.device).id == first.id + 1


@pytest.mark.parametrize("dev_cls,sess_cls,port", VENDORS)
def test_a_question_waits_for_one_of_its_answers(dev_cls, sess_cls, port):
    s = sess_cls(dev_cls("r1"))
    question = s.handle("save")
    assert question.endswith("[Y/N]:") and s.prompt() == ""
    assert s.handle("maybe") == question
    assert s.handle("c") == question  # cancel is not offered by a Y/N question
    assert s.handle("n") == "" and s.prompt() == "<r1>"


@pytest.mark.parametrize("dev_cls,sess_cls,port", VENDORS)
def test_reject_line_counts_configuration_lines_since_system_view(dev_cls, sess_cls, port):
    dev = dev_cls("r1")
    dev.faults.reject_line = 2
    s = sess_cls(dev)
    s.handle("system-view")
    assert not s.handle("display this").endswith("position.")  # a command, not a configuration line
    assert s.handle(f"interface {port}") == ""
    assert s.handle("description a").endswith("Unrecognized command found at '^' position.")
    assert s.handle("description b") == ""


@pytest.mark.parametrize("dev_cls,sess_cls,port", VENDORS)
def test_reject_line_spares_the_files_the_device_wrote(dev_cls, sess_cls, port):
    dev = dev_cls("r1")
    s = sess_cls(dev)
    s.handle("save")
    s.handle("y")
    (saved,) = dev.files
    dev.files["uploaded.cfg"] = dev.files[saved]
    dev.faults.reject_line = 1
    assert dev.read_file(saved)[1] == []
    assert [(line, why) for _, line, why in dev.read_file("uploaded.cfg")[1]] == [
        ("sysname r1", "Unrecognized command (fault reject-line)")]


def test_comware_commit_delay_below_the_system_view_is_a_configuration_line():
    """The command table passes it on, so the grammar refuses it there, as the device does."""
    dev = ComwareDevice("c1")
    s = ComwareSession(dev)
    s.handle("system-view")
    s.handle("interface GigabitEthernet1/0/1")
    assert s.handle("configuration commit delay 2").endswith(" % Unrecognized command found at '^' position.")
    assert dev.delay is None


def test_a_command_table_must_name_methods():
    with pytest.raises(TypeError, match="_nope"):
        type("Broken", (Session,), {"COMMANDS": [command("any", r"^x", "_nope")]})


def test_adjacencies_come_from_both_ends(shaanxi):
    plan, renderer = shaanxi
    a = next(n for n in plan.topology.nodes.values() if n.platform == "h3c_comware"
             and any(plan.topology.nodes[i.peer].platform == "h3c_comware" for i in n.interfaces))
    peers = {i.peer for i in a.interfaces if plan.topology.nodes[i.peer].platform == "h3c_comware"}
    devices: dict = {}
    fabric = Fabric(plan, devices)
    clock = SimClock()
    for host in {a.hostname} | peers:
        node = plan.topology.nodes[host]
        d = ComwareDevice(host, clock, fabric)
        d.running = d.parse(renderer.render_node(node)[f"{host}.cfg"])[0]
        devices[host] = d
    s = ComwareSession(devices[a.hostname])
    full = s.handle("display isis peer")
    assert full.count("State: Up") == len(a.interfaces)
    assert f"Up Session Num: {len(a.interfaces)}" in s.handle("display bfd session")
    # break one side: remove IS-IS from the peer's interface -> that adjacency disappears
    iface = next(i for i in a.interfaces if i.peer in peers)
    ps = ComwareSession(devices[iface.peer])
    ps.handle("system-view")
    ps.handle(f"interface {iface.peer_name}")
    ps.handle("undo isis enable")
    ps.handle("undo isis ipv6 enable")
    assert s.handle("display isis peer").count("State: Up") == len(a.interfaces) - 1
