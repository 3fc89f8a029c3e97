"""Host-port forwarder: 127.0.0.1:PORT on the host -> a router's management address in the lab.

One small asyncio process for the whole lab. It binds every listening socket
in the host's network namespace first, then moves itself into the management
namespace (``setns``), so every upstream socket it opens afterwards lives
there. Tools on the host (ssh, snmpwalk, netmiko, pysnmp) never need routes
into the lab. TCP is relayed byte for byte; UDP per client address.

    python -m egov.lab.forward SPEC.json     # [{"proto": "tcp", "port": 22001, "to": ["172.30.0.1", 22]}, ...]
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import socket
import sys
from typing import Any

CLONE_NEWNET = 0x40000000


def setns(path: str) -> None:
    """Move this process into the network namespace at ``path`` (os.setns is Python 3.12+)."""
    if hasattr(os, "setns"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.setns(fd, CLONE_NEWNET)
        finally:
            os.close(fd)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


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


async def serve(spec: list[dict[str, Any]], netns_path: str) -> None:
    loop = asyncio.get_running_loop()
    socks = []
    for s in spec:  # bind on the host first
        kind = socket.SOCK_STREAM if s["proto"] == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET, kind)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", int(s["port"])))
        if kind == socket.SOCK_STREAM:
            sock.listen(64)
        sock.setblocking(False)
        socks.append((s, sock))
    setns(netns_path)  # from here on, new sockets are in the lab's management namespace
    for s, sock in socks:
        target = (str(s["to"][0]), int(s["to"][1]))
        if s["proto"] == "tcp":
            await asyncio.start_server(_tcp_handler(target), sock=sock)
        else:
            await loop.create_datagram_endpoint(lambda t=target: _UdpRelay(t), sock=sock)
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
