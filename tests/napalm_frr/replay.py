"""A napalm_frr driver that replays recorded device output (NAPALM's ``mocked_data`` layout).

``mocked_data/<getter>/<case>/`` holds one file per command the getter runs (name: ``command_file``)
and ``expected_result.json`` (and ``kwargs.json``, ``optional_args.json`` when the getter takes any);
``record_mocked_data.py`` beside this file writes them from a lab router.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path

from napalm_frr import FRRDriver

MOCKED = Path(__file__).with_name("mocked_data")


def command_file(command: str) -> str:
    """The file holding ``command``'s output: vtysh's namespace option dropped, words joined by _."""
    command = re.sub(r"\bvtysh -N \S+", "vtysh", command)  # also inside scripts (get_facts)
    words = shlex.split(command)
    if words[:1] == ["vtysh"]:
        words = [w for i, w in enumerate(words) if w != "-N" and (i == 0 or words[i - 1] != "-N")]
        words = ["vtysh", *[w for w in words[1:] if w != "-c"]]
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", " ".join(words)).strip("_")
    if len(name) > 80:  # scripts: a readable head and a hash of the whole command
        name = f"{name[:60]}-{hashlib.sha256(command.encode()).hexdigest()[:12]}"
    return name + ".txt"


class ReplayDriver(FRRDriver):
    """Runs no SSH: every command answers from the case folder (exit 0), a missing file is rc 127."""

    def __init__(self, case: Path) -> None:
        opts_file = case / "optional_args.json"
        opts = json.loads(opts_file.read_text()) if opts_file.exists() else {}
        super().__init__("replay", "u", "", optional_args={**opts, "pathspace": ""})
        self.case = case
        self.device_name = "replay"
        self.pathspace = None

    def _exec(self, command: str, timeout: float | None = None) -> tuple[int, str, str]:
        f = self.case / command_file(command)
        if not f.exists():
            return 127, "", f"no recorded output {f.name}"
        return 0, f.read_text(), ""
