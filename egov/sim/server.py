"""One process serving every simulated router over real SSH on 127.0.0.1, one port each.

Thin by design: a paramiko transport per connection, a line-buffered shell that echoes what it
reads and hands each line to the device model, an SFTP subsystem whose files are the device's
flash, and a control socket (JSON lines) for ``egov sim status|fault|down``. Timers fire from a
ticker thread, so a trial whose controller died still reverts on time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import selectors
import socket
import threading
import time
from pathlib import Path
from typing import Any

import paramiko
from paramiko.common import AUTH_FAILED, AUTH_SUCCESSFUL, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, OPEN_SUCCEEDED
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_OK

from egov.paths import state_dir
from egov.sim.province import Province


def sim_dir() -> Path:
    return state_dir() / "sim"


def state_file() -> Path:
    return sim_dir() / "state.json"


def read_state() -> dict[str, Any] | None:
    """The running simulator's ports and credentials, or None."""
    try:
        return json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None


class _Auth(paramiko.ServerInterface):
    def __init__(self, user: str, password: str):
        self.user, self.password = user, password
        self.shells: dict[int, threading.Event] = {}

    def shell_event(self, chanid: int) -> threading.Event:
        return self.shells.setdefault(chanid, threading.Event())

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username == self.user and secrets.compare_digest(password, self.password)
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return OPEN_SUCCEEDED if kind == "session" else OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args: Any) -> bool:
        return True

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        self.shell_event(channel.get_id()).set()
        return True


class _Handle(paramiko.SFTPHandle):
    def __init__(self, files: dict[str, str], name: str, flags: int):
        super().__init__(flags)
        self.files, self.name = files, name
        self.buf = bytearray(files.get(name, "").encode() if not flags & os.O_TRUNC else b"")
        self.writing = bool(flags & (os.O_WRONLY | os.O_RDWR))

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.buf[offset:offset + length])

    def write(self, offset: int, data: Any) -> int:  # paramiko's stubs say Buffer (typing_extensions)
        self.buf[offset:offset + len(data)] = data
        return SFTP_OK

    def stat(self) -> paramiko.SFTPAttributes:
        a = paramiko.SFTPAttributes()
        a.st_size, a.st_mode = len(self.buf), 0o100644
        return a

    def close(self) -> None:
        if self.writing:
            self.files[self.name] = self.buf.decode(errors="replace")


class _Flash(paramiko.SFTPServerInterface):
    """The device's flash: a flat name -> text map (``flash:/x.cfg``, ``/x.cfg`` and ``x.cfg`` alike)."""

    def __init__(self, server: Any, device: Any, *args: Any, **kwargs: Any):
        super().__init__(server, *args, **kwargs)
        self.device = device

    @staticmethod
    def _name(path: str) -> str:
        return path.split(":", 1)[-1].lstrip("/")

    def open(self, path: str, flags: int, attr: Any) -> Any:
        name = self._name(path)
        if not flags & (os.O_WRONLY | os.O_RDWR) and name not in self.device.files:
            return SFTP_NO_SUCH_FILE
        handle = _Handle(self.device.files, name, flags)
        if flags & (os.O_WRONLY | os.O_RDWR):
            self.device.written.discard(name)  # uploaded: no longer the device's own file
        return handle

    def stat(self, path: str) -> Any:
        name = self._name(path)
        a = paramiko.SFTPAttributes()
        if name in ("", "."):
            a.st_mode = 0o040755
            return a
        if name not in self.device.files:
            return SFTP_NO_SUCH_FILE
        a.st_size, a.st_mode = len(self.device.files[name]), 0o100644
        return a

    lstat = stat

    def list_folder(self, path: str) -> Any:
        out = []
        for name, text in self.device.files.items():
            a = paramiko.SFTPAttributes()
            a.filename, a.st_size, a.st_mode = name, len(text), 0o100644
            out.append(a)
        return out

    def remove(self, path: str) -> int:
        return SFTP_OK if self.device.files.pop(self._name(path), None) is not None \
            else SFTP_NO_SUCH_FILE

    def canonicalize(self, path: str) -> str:
        return "/" + self._name(path)


class SimServer:
    """Serve ``province`` until :meth:`stop`."""

    def __init__(self, province: Province, host: str = "127.0.0.1", user: str = "netops",
                 password: str | None = None):
        self.province = province
        self.host = host
        self.user = user
        self.password = password or secrets.token_urlsafe(12)
        self.key = paramiko.ECDSAKey.generate()
        self.ports: dict[str, int] = {}
        self._socks: dict[socket.socket, str] = {}
        self._sel = selectors.DefaultSelector()
        self._stop = threading.Event()
        self.connections = 0
        self.started = time.time()

    def listen(self, base_port: int = 0) -> None:
        for i, host in enumerate(sorted(self.province.devices)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.host, base_port + i if base_port else 0))
            s.listen(16)
            s.setblocking(False)
            self.ports[host] = s.getsockname()[1]
            self._socks[s] = host
            self._sel.register(s, selectors.EVENT_READ)

    def start(self) -> None:
        threading.Thread(target=self._accept_loop, daemon=True, name="sim-accept").start()
        threading.Thread(target=self._ticker, daemon=True, name="sim-ticker").start()

    def stop(self) -> None:
        self._stop.set()
        for s in self._socks:
            s.close()

    def _ticker(self) -> None:
        while not self._stop.wait(1.0):
            for dev in list(self.province.devices.values()):
                dev.tick()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                events = self._sel.select(timeout=0.5)
            except (OSError, ValueError):
                return
            for key, _ in events:
                lsock = key.fileobj
                try:
                    conn, _addr = lsock.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                host = self._socks[lsock]  # type: ignore[index]
                dev = self.province.devices[host]
                if dev.faults.unreachable:
                    conn.close()
                    continue
                conn.setblocking(True)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=self._serve, args=(conn, host), daemon=True).start()

    def _serve(self, conn: socket.socket, host: str) -> None:
        dev = self.province.devices[host]
        t = paramiko.Transport(conn)
        t.add_server_key(self.key)
        t.set_subsystem_handler("sftp", paramiko.SFTPServer, _Flash, dev)
        auth = _Auth(self.user, self.password)
        try:
            t.start_server(server=auth)
        except (paramiko.SSHException, EOFError, OSError):
            return
        self.connections += 1
        while t.is_active() and not self._stop.is_set():
            chan = t.accept(timeout=1.0)
            if chan is None:
                continue
            threading.Thread(target=self._shell, args=(chan, t, host, auth), daemon=True).start()

    def _shell(self, chan: paramiko.Channel, transport: paramiko.Transport, host: str, auth: _Auth) -> None:
        # SFTP channels never ask for a shell; paramiko serves them in its own thread
        if not auth.shell_event(chan.get_id()).wait(10):
            return
        sess = self.province.session(host)
        dev = sess.device
        dev.sessions += 1
        try:
            chan.sendall((sess.banner() + "\r\n" + sess.prompt()).encode())
            buf = b""
            skip_lf = False
            while not chan.closed:
                data = chan.recv(65536)
                if not data:
                    break
                if skip_lf and data.startswith(b"\n"):
                    data = data[1:]
                skip_lf = False
                buf += data
                while True:
                    cut = _eol(buf)
                    if cut is None:
                        break
                    raw, buf = buf[:cut[0]], buf[cut[1]:]
                    skip_lf = not buf and raw is not None and cut[1] - cut[0] == 1 and data.endswith(b"\r")
                    line = raw.decode(errors="replace")
                    text = sess.handle(line)
                    reply = line + "\r\n" + (text.replace("\n", "\r\n") + "\r\n" if text else "")
                    if sess.drop:
                        chan.sendall(reply.encode())
                        transport.close()
                        return
                    if sess.closed:
                        chan.sendall(reply.encode())
                        chan.close()
                        return
                    chan.sendall((reply + sess.prompt()).encode())
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            dev.sessions -= 1
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                chan.close()  # the client may have closed the connection first

    # --- control ----------------------------------------------------------------------------------
    def control(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        devs = self.province.devices
        if op == "status":
            return {"ok": True, "devices": [
                {"host": h, "platform": d.platform, "port": self.ports.get(h), "sessions": d.sessions,
                 "faults": d.faults.active(),
                 "trial": bool(getattr(d, "trial", None) or getattr(d, "delay", None))}
                for h, d in sorted(devs.items())], "skipped": self.province.skipped,
                "connections": self.connections}
        if op == "fault":
            host = req["host"]
            if host not in devs:
                return {"ok": False, "error": f"{host} is not served"}
            f = devs[host].faults
            kind, arg = req["fault"], req.get("arg")
            if kind == "clear":
                f.__init__()  # type: ignore[misc]
            elif kind == "reject-line":
                f.reject_line = int(str(arg))
            elif kind in ("fail-commit", "drop-after-trial", "unreachable", "rollback-leftover"):
                setattr(f, kind.replace("-", "_"), True)
            else:
                return {"ok": False, "error": f"unknown fault {kind}"}
            return {"ok": True, "faults": f.active()}
        if op == "advance":
            self.province.clock.advance(float(req["seconds"]))
            for d in devs.values():
                d.tick()
            return {"ok": True}
        if op == "down":
            self._stop.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op}"}

    def serve_control(self, path: Path) -> None:
        """Answer control requests on a unix socket until ``down``."""
        path.unlink(missing_ok=True)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        os.chmod(path, 0o600)
        srv.listen(8)
        srv.settimeout(0.5)
        while not self._stop.is_set():
            try:
                c, _ = srv.accept()
            except TimeoutError:
                continue
            with c:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                try:
                    resp = self.control(json.loads(data or b"{}"))
                except (ValueError, KeyError) as exc:
                    resp = {"ok": False, "error": str(exc)}
                c.sendall(json.dumps(resp).encode() + b"\n")
        srv.close()
        path.unlink(missing_ok=True)
        self.stop()


def _eol(buf: bytes) -> tuple[int, int] | None:
    """(end of line, start of the next) for \\r\\n, \\r or \\n."""
    for i, b in enumerate(buf):
        if b == 10:
            return i, i + 1
        if b == 13:
            if i + 1 < len(buf) and buf[i + 1] == 10:
                return i, i + 2
            return i, i + 1
    return None


def ask(req: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """Send one control request to the running simulator."""
    st = read_state()
    if st is None:
        return {"ok": False, "error": "no simulator is up"}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(st["control"])
        s.sendall(json.dumps(req).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        return json.loads(data)
    except OSError as exc:
        return {"ok": False, "error": f"simulator not answering ({exc})"}
    finally:
        s.close()
