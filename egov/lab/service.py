"""A lab hosted service: the smallest real server for a profile's ``hosted_services`` entry.

Run by `egov lab up` inside the service's own namespace (``svc-<name>``), behind its router, so the
exporter's probes cross the backbone like a citizen's request to the cloud portal would. ``http``
answers 200 on the service's path (404 elsewhere); ``tcp`` sends one banner line and closes.
It binds IPv4 and IPv6 on one socket, then drops root: it is a target, not a tool.

    python -m egov.lab.service --kind http --port 8080 --path /healthz
"""

from __future__ import annotations

import argparse
import os
import pwd
import socket
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _DualStack(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class _TcpOnly(socketserver.ThreadingTCPServer):
    address_family = socket.AF_INET6
    allow_reuse_address = True
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def _http_handler(path: str, name: str) -> type[BaseHTTPRequestHandler]:
    body = f"{name} ok\n".encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = f"egov-lab-{name}"

        def _answer(self, with_body: bool) -> None:
            ok = self.path.split("?", 1)[0] == path.split("?", 1)[0]
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body) if ok else 0))
            self.end_headers()
            if ok and with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: no log
            pass

    return Handler


def _banner(name: str) -> type[socketserver.BaseRequestHandler]:
    class Banner(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            # one line, then close: through the lab's probe relay a connect alone proves nothing
            self.request.sendall(f"{name} ok\n".encode())

    return Banner


def _drop_root() -> None:
    if os.geteuid() != 0:
        return
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="service")
    ap.add_argument("--kind", choices=["http", "tcp"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/")
    args = ap.parse_args(argv)
    server: socketserver.BaseServer
    if args.kind == "http":
        server = _DualStack(("::", args.port), _http_handler(args.path, args.name))
    else:
        server = _TcpOnly(("::", args.port), _banner(args.name))
    _drop_root()
    server.serve_forever()


if __name__ == "__main__":
    main()
