"""The one device-action contract: a request in, a ``DeviceResult`` out.

Every layer carries these two shapes unchanged: the runner builds requests, the thread pool or the
Ansible module (playbooks/library/egov_device.py, one parameterised playbook) hands them to
``egov.change.device.run``, and results come back as ``DeviceResult``. Each default lives here once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

from egov.endpoints import Endpoint
from egov.platforms import CHECK_GETTERS, Platform

Action = Literal["backup", "plan", "apply", "verify", "rollback", "show"]
ACTIONS: tuple[str, ...] = ("backup", "plan", "apply", "verify", "rollback", "show")
TRANSPORTS: tuple[str, ...] = ("napalm", "netmiko")
Status = Literal["ok", "changed", "failed", "unreachable", "not_checked"]
#: what a device ends an action as (also the journal's change_device.status)
STATUSES: tuple[str, ...] = ("ok", "changed", "failed", "unreachable", "not_checked")
#: post-check names, as ``--accept-unchecked`` takes them
CHECKS: tuple[str, ...] = tuple(CHECK_GETTERS)

#: seconds a commit waits for confirmation before the device reverts it on its own
REVERT_IN = 120
#: seconds post-checks are retried after a commit (adjacencies and BFD take a while)
VERIFY_WAIT = 45.0
#: seconds for an SSH connect or one command
TIMEOUT = 30


def one_of(kind: str, value: str, allowed: Collection[str]) -> None:
    """Refuse a mode string outside ``allowed``: a typo must fail, never fall through to a commit."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; use one of {', '.join(allowed)}")


@dataclass(frozen=True)
class Target:
    """A device and how to reach it; the driver facts come from its ``Platform`` (``for_platform``)."""

    host: str
    driver: str
    address: str
    username: str
    port: int = 22
    key_file: str | None = None
    password: str = ""
    optional_args: dict[str, Any] = field(default_factory=dict)
    timeout: int = TIMEOUT
    transport: str = "napalm"
    netmiko_device_type: str = ""

    @classmethod
    def for_platform(cls, host: str, platform: Platform, ep: Endpoint) -> Target:
        return cls(host=host, driver=platform.napalm_driver, address=ep.address, username=ep.username,
                   port=ep.port, key_file=ep.key_file, password=ep.password, transport=platform.transport,
                   netmiko_device_type=platform.netmiko_device_type)


class CheckResult(TypedDict):
    """One entry of the validation document: complies True / False, or None when not run."""

    check: str
    getter: str
    name: str
    complies: bool | None
    detail: str


class DeviceResult(TypedDict, total=False):
    host: str
    status: str  # one of STATUSES
    changed: bool
    diff: str
    msg: str  # one line
    checks: list[CheckResult]
    unchecked: list[str]  # post-checks that could not run on this driver
    config: str | None  # backup: the running config, masked
    output: dict[str, str]  # show: command -> output, masked
    wave: str  # set by the runner


def result(host: str, status: str = "ok", msg: str = "", **kw: Any) -> DeviceResult:
    """A ``DeviceResult`` with every always-present key filled."""
    one_of("device status", status, STATUSES)
    out: DeviceResult = {"host": host, "status": status, "changed": status == "changed", "diff": "",
                         "msg": msg, "checks": [], "unchecked": []}
    out.update(kw)  # type: ignore[typeddict-item]
    return out


@dataclass
class DeviceRequest:
    """One action on one device. ``candidate`` (text) or ``candidate_file``: the config to plan,
    apply or restore; ``validation``: the expected state (egov.change.expect), NAPALM
    ``compliance_report`` style. ``secrets`` are masked out of everything returned and never
    serialised."""

    action: str
    target: Target
    candidate: str | None = None
    candidate_file: str | None = None
    validation: list[dict[str, Any]] | None = None
    revert_in: int = REVERT_IN
    verify_wait: float = VERIFY_WAIT
    change_id: str = ""
    commands: list[str] = field(default_factory=list)
    accept_unchecked: list[str] = field(default_factory=list)
    #: plan: also return the running config the diff is against (an apply's pre-change backup, read once)
    with_config: bool = False
    pending_store: str | None = None
    secrets: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        one_of("device action", self.action, ACTIONS)
        one_of("transport", self.target.transport, TRANSPORTS)
        for name in self.accept_unchecked:
            one_of("post-check", name, CHECKS)

    def config_text(self) -> str | None:
        if self.candidate is not None:
            return self.candidate
        return Path(self.candidate_file).read_text() if self.candidate_file else None

    def to_vars(self) -> dict[str, Any]:
        """JSON for the Ansible module: no password, no secrets (those travel as no_log options)."""
        d = asdict(self)
        d.pop("secrets")
        d.pop("action")
        d["target"].pop("password")
        return d

    @classmethod
    def from_vars(cls, action: str, d: dict[str, Any], password: str = "",
                  secrets: list[str] | None = None) -> DeviceRequest:
        d = dict(d)
        target = Target(**{**d.pop("target"), "password": password})
        return cls(action=action, target=target, secrets=list(secrets or []), **d)
