"""The SNMP poller: IF-MIB and ISIS-MIB of every router, concurrently, one slot per router.

Built on gufo_snmp (asyncio, with its BER and USM in Rust). pysnmp 7 was measured first and spends
~70 % of its time decoding BER in pyasn1: 7.6x snmp_exporter's CPU per router, against a goal of
3x; gufo_snmp is at 0.6x (bench/poll.py prints all three in one run). pysnmp stays for what it
does well here: receiving traps (egov.measure.traps).

Each router keeps one session (engine ID, boots and time, localised keys) between polls. A poll
walks the IF-MIB columns the exporter serves plus ifName and ifLastChange, and the ISIS-MIB
adjacency table where the agent has it. Every request has a timeout and retries; a router that is
slow, dead or answers garbage fails with a reason and holds only its own concurrency slot, and
never longer than its deadline.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Callable, Iterable

from gufo.snmp import (
    Aes128Key,
    NoSuchInstance,
    Sha1Key,
    Sha256Key,
    SnmpAuthError,
    SnmpDecodeError,
    SnmpError,
    SnmpVersion,
    User,
)
from gufo.snmp.aio import SnmpSession

from egov.measure.model import (
    IF_COLUMNS,
    ISIS_ADJ_STATE,
    ISIS_ADJ_UP,
    ISIS_CIRC_IFINDEX,
    SYS_UPTIME,
    IfState,
    Poll,
    Reason,
    SnmpAuth,
    Target,
)


class PollError(Exception):
    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail


def classify(exc: BaseException) -> tuple[Reason, str]:
    """Why a request failed, in the words of egov_poll_errors_total{reason}."""
    if isinstance(exc, PollError):
        return exc.reason, exc.detail
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        if "refused" in str(exc.__cause__ or ""):  # gufo reports ICMP port unreachable as a timeout
            return "refused", "port unreachable (nothing listens there)"
        return "timeout", "no answer"
    if isinstance(exc, SnmpAuthError):
        return "auth", f"authentication failed ({exc})"
    if isinstance(exc, SnmpDecodeError):
        return "decode", f"undecodable answer ({exc})"
    if isinstance(exc, (ConnectionRefusedError, ConnectionError)):
        return "refused", f"port unreachable ({exc})"
    return "error", f"{exc.__class__.__name__}: {exc}"


def _user(auth: SnmpAuth) -> User:
    key = Sha256Key if auth.auth == "sha256" else Sha1Key
    return User(auth.user, auth_key=key(auth.auth_key.encode()), priv_key=Aes128Key(auth.priv_key.encode()))


def raise_fd_limit(wanted: int) -> None:
    """One UDP socket per router: a province needs ~2,000 descriptors, over the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class Poller:
    """Polls targets with bounded concurrency; keeps a session per router between polls."""

    def __init__(self, *, timeout: float = 2.0, retries: int = 1, concurrency: int = 200,
                 deadline: float | None = None, clock: Callable[[], float] = time.time):
        self.timeout = timeout
        self.retries = retries
        self.deadline = deadline or max(10.0, timeout * (retries + 1) * 4)
        self.clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._sessions: dict[str, SnmpSession] = {}
        self._rows: dict[str, int] = {}

    async def _session(self, t: Target) -> SnmpSession:
        s = self._sessions.get(t.router)
        if s is None:
            if t.auth.version == "v2c":
                s = SnmpSession(addr=t.address, port=t.port, community=t.auth.community,
                                version=SnmpVersion.v2c, timeout=self.timeout)
            else:
                s = SnmpSession(addr=t.address, port=t.port, user=_user(t.auth), engine_id=t.engine_id,
                                timeout=self.timeout)
            await self._retry(s.__aenter__)  # engine discovery and key localisation, once
            self._sessions[t.router] = s
        return s

    async def _retry(self, call: Callable[[], object]) -> object:
        for attempt in range(self.retries + 1):
            try:
                return await call()  # type: ignore[misc]
            except (TimeoutError, asyncio.TimeoutError):
                if attempt == self.retries:
                    raise
        raise AssertionError("unreachable")

    async def _walk(self, s: SnmpSession, oid: str, reps: int) -> list[tuple[str, object]]:
        async def run() -> list[tuple[str, object]]:
            return [(o, v) async for o, v in s.getbulk(oid, max_repetitions=reps)]

        return await self._retry(run)  # type: ignore[return-value]

    async def poll(self, t: Target) -> Poll:
        """One router, within its slot and its deadline; never raises."""
        async with self._slots:
            t0 = time.perf_counter()
            at = self.clock()
            try:
                return await asyncio.wait_for(self._poll(t, at, t0), self.deadline)
            except BaseException as exc:  # noqa: BLE001 - every failure becomes a reason
                if isinstance(exc, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
                    raise
                reason: Reason
                if isinstance(exc, asyncio.TimeoutError) and time.perf_counter() - t0 >= self.deadline:
                    reason, detail = "timeout", f"no complete answer within {self.deadline:.0f} s"
                else:
                    reason, detail = classify(exc)
                self.forget(t.router)  # rediscover next time (agent restarted, keys changed...)
                return Poll(t.router, at, False, time.perf_counter() - t0, reason, detail)

    async def _poll(self, t: Target, at: float, t0: float) -> Poll:
        s = await self._session(t)
        got = await self._retry(lambda: s.get_many([SYS_UPTIME]))
        try:
            uptime = int(got[SYS_UPTIME])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            raise PollError("decode", "sysUpTime missing or not a number") from None
        reps = self._rows.get(t.router, 24) + 1
        cols: dict[str, dict[int, object]] = {}
        for name, oid in IF_COLUMNS.items():
            cols[name] = {int(o.rsplit(".", 1)[1]): v for o, v in await self._walk(s, oid, reps)}
        self._rows[t.router] = max((len(c) for c in cols.values()), default=0)
        ifaces: dict[str, IfState] = {}
        for index, raw in cols["name"].items():
            name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)

            def num(col: str, index: int = index) -> int:
                v = cols[col].get(index, 0)
                return int(v) if isinstance(v, int) else 0

            ifaces[name] = IfState(index=index, name=name, admin_up=num("admin") == 1, oper_up=num("oper") == 1,
                                   last_change=num("last_change"), in_octets=num("in_octets"),
                                   out_octets=num("out_octets"), speed_bps=num("high_speed") * 1_000_000,
                                   in_errors=num("in_errors"), out_errors=num("out_errors"),
                                   in_discards=num("in_discards"), out_discards=num("out_discards"))
        isis = await self._isis(s, {i.index: i.name for i in ifaces.values()})
        return Poll(t.router, at, True, time.perf_counter() - t0, uptime_ticks=uptime, interfaces=ifaces, isis=isis)

    async def _isis(self, s: SnmpSession, names: dict[int, str]) -> dict[str, bool] | None:
        """Interface -> adjacency up, from ISIS-MIB; None when the agent does not serve it."""
        try:
            circuits = await self._walk(s, ISIS_CIRC_IFINDEX, 32)
            adjs = await self._walk(s, ISIS_ADJ_STATE, 32)
        except NoSuchInstance:
            return None
        if not circuits:
            return None
        circ_if = {int(o.rsplit(".", 1)[1]): int(v) for o, v in circuits if isinstance(v, int)}  # type: ignore[arg-type]
        out = {names[i]: False for i in circ_if.values() if i in names}
        for o, v in adjs:
            circ = int(o.split(".")[-2])
            ifname = names.get(circ_if.get(circ, -1))
            if ifname is not None and v == ISIS_ADJ_UP:
                out[ifname] = True
        return out

    async def poll_all(self, targets: Iterable[Target]) -> list[Poll]:
        return list(await asyncio.gather(*(self.poll(t) for t in targets)))

    def engine_id(self, router: str) -> bytes | None:
        """The router's SNMP engine ID once a session learnt it (traps are signed with it)."""
        s = self._sessions.get(router)
        try:
            return s.get_engine_id() if s is not None else None
        except (NotImplementedError, SnmpError):
            return None

    def forget(self, router: str) -> None:
        """Drop a router's session (its socket closes with it): the next poll starts afresh."""
        self._sessions.pop(router, None)

    def close(self) -> None:
        for router in list(self._sessions):
            self.forget(router)


__all__ = ["Poller", "PollError", "SnmpError", "classify", "raise_fd_limit"]
