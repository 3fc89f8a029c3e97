"""Host-port forwarder: 127.0.0.1:PORT on the host -> a router's management address in the lab.

One small asyncio process for the whole lab. It binds every listening socket
in the host's network namespace first, then moves itself into the management
namespace (``setns``), so every upstream socket it opens afterwards lives
there. Tools on the host (ssh, snmpwalk, netmiko, pysnmp) never need routes
into the lab. TCP is relayed byte for byte; UDP per client address.

Two more kinds of relay serve measurement:

- ``trap``: SNMP traps the routers send to the hub (UDP 162 on a hub address) are passed on
  unchanged to a 127.0.0.1 port on the host, from a socket made on the host before ``setns``.
  The receiver tells routers apart by the v3 message's authoritative engineID, not the source.
- ``probe``: a 127.0.0.1 TCP port per hosted service whose upstream connection is made from inside
  a *vantage* router (a socket created in that namespace), so a probe crosses the backbone as a
  user's request would. When the service cannot be reached the client is reset: with a relay in
  between, a probe must read an answer (HTTP status, or the TCP service's banner line), because
  the connect to 127.0.0.1 itself always succeeds.

    python -m egov.lab.forward SPEC.json HUB_NETNS
      [{"proto": "tcp", "port": 22001, "to": ["172.30.0.1", 22]},
       {"proto": "udp", "port": 16101, "to": ["172.30.0.1", 161]},
       {"proto": "trap", "listen": ["172.30.255.254", 162], "to": ["127.0.0.1", 10162]},
       {"proto": "probe", "port": 18001, "to": ["10.0.0.59", 8080], "netns": "/run/netns/sn-bj-jt-t001",
        "source": "10.255.0.14"}]
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import os
import signal
import socket
import struct
import sys
from typing import Any

CLONE_NEWNET = 0x40000000


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def setns_fd(fd: int) -> None:
    """Move the calling thread into the network namespace open at ``fd`` (os.setns is Python 3.12+)."""
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)
        return
    if _libc().setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


def _nodelay(writer: asyncio.StreamWriter) -> None:
    """Interactive protocols (SSH) relayed hop by hop: without this, Nagle adds ~40 ms per exchange."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _tcp_handler(target: tuple[str, int]):
    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(*target), timeout=10)
        except (OSError, asyncio.TimeoutError):
            cw.close()
            return
        _nodelay(cw)
        _nodelay(uw)
        await asyncio.gather(_pipe(cr, uw), _pipe(ur, cw))
    return handle


class _UdpRelay(asyncio.DatagramProtocol):
    """Client datagrams in on the host socket; one upstream socket per client address."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.transport: asyncio.DatagramTransport | None = None
        self.upstreams: dict[Any, asyncio.DatagramTransport] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        up = self.upstreams.get(addr)
        if up is not None and not up.is_closing():
            up.sendto(data)
            return
        asyncio.get_running_loop().create_task(self._open(data, addr))

    async def _open(self, data: bytes, addr: Any) -> None:
        loop = asyncio.get_running_loop()
        relay = self

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, reply: bytes, _src: Any) -> None:
                if relay.transport is not None:
                    relay.transport.sendto(reply, addr)

        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        up, _ = await loop.create_datagram_endpoint(Back, remote_addr=self.target, family=family)
        self.upstreams[addr] = up
        up.sendto(data)


class _TrapRelay(asyncio.DatagramProtocol):
    """Datagrams in on the hub's trap port, out unchanged to the host's trap port."""

    def __init__(self, out: asyncio.DatagramTransport, to: tuple[str, int]):
        self.out = out
        self.to = to

    def datagram_received(self, data: bytes, _addr: Any) -> None:
        self.out.sendto(data, self.to)


class _Quiet(asyncio.DatagramProtocol):
    def error_received(self, exc: Exception) -> None:
        pass  # nobody listening on the host's trap port yet: traps are dropped, as on a real network


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, so a probing client sees a failure rather than a clean end."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


def _probe_handler(target: tuple[str, int], vantage_fd: int, home_fd: int, source: str | None):
    family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET

    async def handle(cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        setns_fd(vantage_fd)  # the loop runs on this one thread; nothing else happens until we return
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        finally:
            setns_fd(home_fd)
        sock.setblocking(False)
        if source:
            try:  # from the vantage router's loopback: the answer comes back whichever uplink is up
                sock.bind((source, 0))
            except OSError:
                pass  # a bare router has no loopback address yet
        try:
            await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, target), timeout=10)
            ur, uw = await asyncio.open_connection(sock=sock)
        except (OSError, TimeoutError):
            sock.close()
            _reset(cw)
            return
        _nodelay(cw)
        _nodelay(uw)
        await asyncio.gather(_pipe(cr, uw), _pipe(ur, cw))
    return handle


def _bind(port: int, kind: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    if kind == socket.SOCK_STREAM:
        sock.listen(64)
    sock.setblocking(False)
    return sock


async def serve(spec: list[dict[str, Any]], netns_path: str) -> None:
    loop = asyncio.get_running_loop()
    socks = []
    for s in spec:  # bind on the host first
        if s["proto"] == "trap":
            out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # sends from the host namespace
            out.setblocking(False)
            socks.append((s, out))
        else:
            socks.append((s, _bind(int(s["port"]), socket.SOCK_DGRAM if s["proto"] == "udp" else socket.SOCK_STREAM)))
    home_fd = os.open(netns_path, os.O_RDONLY)
    vantage_fds = {p: os.open(p, os.O_RDONLY) for p in {s["netns"] for s in spec if s["proto"] == "probe"}}
    setns_fd(home_fd)  # from here on, new sockets are in the lab's management namespace
    for s, sock in socks:
        target = (str(s["to"][0]), int(s["to"][1]))
        if s["proto"] == "tcp":
            await asyncio.start_server(_tcp_handler(target), sock=sock)
        elif s["proto"] == "probe":
            await asyncio.start_server(_probe_handler(target, vantage_fds[s["netns"]], home_fd, s.get("source")),
                                       sock=sock)
        elif s["proto"] == "trap":
            relay_out, _ = await loop.create_datagram_endpoint(_Quiet, sock=sock)
            host, port = str(s["listen"][0]), int(s["listen"][1])
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            await loop.create_datagram_endpoint(functools.partial(_TrapRelay, relay_out, target),
                                                local_addr=(host, port), family=family)
        else:
            await loop.create_datagram_endpoint(functools.partial(_UdpRelay, target), sock=sock)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ready = os.environ.get("EGOV_FORWARD_READY")
    if ready:
        with open(ready, "w") as fh:
            fh.write(str(os.getpid()))
    await stop.wait()


def main() -> None:
    spec_file, netns_path = sys.argv[1], sys.argv[2]
    with open(spec_file) as fh:
        spec = json.load(fh)
    asyncio.run(serve(spec, netns_path))


if __name__ == "__main__":
    main()
