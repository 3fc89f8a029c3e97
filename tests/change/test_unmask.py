"""Restoring a backup never sends <masked> to a device: each mask is filled from the same line, in
the same view, of the device's running config; a line that cannot be filled refuses the restore."""

from __future__ import annotations

from typing import Any

from egov.change import device
from egov.change.contract import Target
from egov.change.mask import MASK, mask, unmask

VRP = """sysname sn-xa-a
aaa
 local-user netops password irreversible-cipher $1d$g8wLJ2$Mz0H@vV*/Ue.$
 local-user netops service-type ssh
#
snmp-agent usm-user v3 nms authentication-mode sha cipher %^%#a1b2%^%# privacy-mode aes128 cipher %^%#c3d4%^%#
user-interface vty 0 4
 set authentication password cipher %^%#VTY%^%#
user-interface con 0
 set authentication password cipher %^%#CON%^%#
return
"""
JUNOS = """system {
    login {
        user admin {
            authentication {
                encrypted-password "$6$admin$hash";
            }
        }
        user netops {
            authentication {
                encrypted-password "$6$abc$def";
            }
        }
    }
}
"""


def test_a_masked_backup_is_filled_back_exactly_from_the_device():
    for text in (VRP, JUNOS):
        masked = mask(text)
        assert MASK in masked
        assert unmask(masked, text) == (text, [])


def test_the_same_line_in_two_views_keeps_each_views_secret():
    """vty and console both say ``set authentication password cipher``: each gets its own back."""
    filled, missing = unmask(mask(VRP), VRP)
    assert missing == []
    assert "user-interface vty 0 4\n set authentication password cipher %^%#VTY%^%#" in filled
    assert "user-interface con 0\n set authentication password cipher %^%#CON%^%#" in filled


def test_a_secret_the_device_no_longer_has_is_named_not_guessed():
    now = VRP.replace(" local-user netops password irreversible-cipher $1d$g8wLJ2$Mz0H@vV*/Ue.$\n", "")
    filled, missing = unmask(mask(VRP), now)
    assert missing == [3]
    assert filled.splitlines()[2] == " local-user netops password irreversible-cipher <masked>"


class Restorable:
    """A driver that records what it was asked to load."""

    def __init__(self, running: str):
        self.running, self.loaded, self.calls = running, "", []

    def get_config(self, retrieve: str = "all") -> dict[str, str]:
        return {"running": self.running, "startup": "", "candidate": ""}

    def load_replace_candidate(self, filename: Any = None, config: str = "") -> None:
        self.loaded = config

    def compare_config(self) -> str:
        """Every line of the candidate, as a device that shows the whole new config would."""
        return "" if self.loaded == self.running else "".join(f"+{ln}\n" for ln in self.loaded.splitlines())

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        self.calls.append("commit")

    def confirm_commit(self) -> None:
        self.calls.append("confirm")

    def discard_config(self) -> None:
        self.calls.append("discard")

    def has_pending_commit(self) -> bool:
        return False

    def close(self) -> None:
        pass


T = Target(host="r1", driver="huawei_vrp8", address="192.0.2.1", username="u")


def test_a_rollback_loads_the_device_secret_never_the_mask(monkeypatch):
    drifted = VRP.replace("sysname sn-xa-a", "sysname drifted")
    d = Restorable(drifted)
    monkeypatch.setattr(device, "connect", lambda _t, _store=None: d)
    res = device.run_action("rollback", T, candidate=mask(VRP))
    assert res["status"] == "changed", res
    assert d.loaded == VRP and MASK not in d.loaded
    assert d.calls == ["commit", "confirm"]
    assert MASK in res["diff"] and "%^%#VTY" not in res["diff"]  # what is shown and journaled stays masked


def test_a_rollback_that_cannot_fill_a_secret_changes_nothing(monkeypatch):
    d = Restorable(VRP.replace("snmp-agent usm-user v3 nms", "snmp-agent usm-user v3 other"))
    monkeypatch.setattr(device, "connect", lambda _t, _store=None: d)
    res = device.run_action("rollback", T, candidate=mask(VRP))
    assert res["status"] == "failed"
    assert res["msg"].startswith("not restored: backup line(s) 6 hold a masked secret")
    assert d.loaded == "" and d.calls == []


def test_each_junos_user_keeps_its_own_hash_and_a_removed_user_is_not_given_anothers():
    """Both users' hashes sit under ``authentication {``: the whole chain of views tells them apart."""
    filled, missing = unmask(mask(JUNOS), JUNOS)
    assert missing == [] and filled == JUNOS
    admin = JUNOS.index("        user admin {")
    gone = JUNOS[:admin] + JUNOS[JUNOS.index("        user netops {"):]
    filled, missing = unmask(mask(JUNOS), gone)
    assert missing == [5]
    assert '"$6$abc$def"' in filled and "$6$admin$hash" not in filled


def test_one_line_matching_two_secrets_is_refused():
    """Two OSPF processes' area keys under their own chains are told apart; the same line twice under
    one chain with different secrets would be a guess: refused."""
    running = ("ospf 1\n area 0.0.0.0\n  authentication-mode md5 1 cipher %^%#K1%^%#\n"
               "ospf 2\n area 0.0.0.0\n  authentication-mode md5 1 cipher %^%#K2%^%#\n")
    assert unmask(mask(running), running) == (running, [])
    flat = " authentication-mode md5 1 cipher %^%#K1%^%#\n authentication-mode md5 1 cipher %^%#K2%^%#\n"
    _, missing = unmask(" authentication-mode md5 1 cipher <masked>\n", flat)
    assert missing == [1]
