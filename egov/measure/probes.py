"""Service probes, the way blackbox_exporter does them: an HTTP GET that must answer 2xx, or a TCP connect."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    name: str
    router: str
    city: str
    url: str  # http://host:port/path or tcp://host:port
    cloud: bool = True


@dataclass(slots=True)
class ProbeResult:
    service: str
    ok: bool
    at: float
    duration: float
    detail: str = ""


async def probe(t: ServiceTarget, timeout: float = 3.0, client: httpx.AsyncClient | None = None) -> ProbeResult:
    """One probe; never raises. ``detail`` says why it failed, in one line."""
    at, t0 = time.time(), time.perf_counter()
    try:
        if t.url.startswith("tcp://"):
            u = urlsplit(t.url)
            _, writer = await asyncio.wait_for(asyncio.open_connection(u.hostname, u.port), timeout)
            writer.close()
            await writer.wait_closed()
            return ProbeResult(t.name, True, at, time.perf_counter() - t0)
        own = client is None
        c = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)
        try:
            r = await c.get(t.url, timeout=timeout)
        finally:
            if own:
                await c.aclose()
        ok = 200 <= r.status_code < 300
        return ProbeResult(t.name, ok, at, time.perf_counter() - t0, "" if ok else f"HTTP {r.status_code}")
    except (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException):
        return ProbeResult(t.name, False, at, time.perf_counter() - t0, f"no answer within {timeout:g} s")
    except (OSError, httpx.HTTPError) as exc:
        return ProbeResult(t.name, False, at, time.perf_counter() - t0,
                           f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
