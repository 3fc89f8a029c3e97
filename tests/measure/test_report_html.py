"""The HTML report renders offline in a real browser (Debian's chromium, headless)."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import egov

WIDTH, HEIGHT = 1280, 2200
GREEN = (0x2D, 0xA4, 0x4E)   # bars that meet the target
RED = (0xCF, 0x22, 0x2E)     # bars and dots that miss it
BLUE = (0x05, 0x50, 0xAE)    # the target line


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB/RGBA non-interlaced PNG (what chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = ctype = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    bpp = 3 if ctype == 2 else 4
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rgb = bytes(line) if bpp == 3 else bytes(b for i, b in enumerate(line) if i % 4 != 3)
        rows.append(rgb)
        prev = line
    return width, height, rows


def count_near(rows: list[bytes], colour: tuple[int, int, int], tol: int = 12) -> int:
    n = 0
    for row in rows:
        for i in range(0, len(row), 3):
            if abs(row[i] - colour[0]) <= tol and abs(row[i + 1] - colour[1]) <= tol and abs(row[i + 2] - colour[2]) <= tol:
                n += 1
    return n


@pytest.fixture
def report_html(tmp_path, lab_yaml) -> Path:
    env = {"EGOV_STATE_DIR": str(tmp_path / "state")}
    csv = tmp_path / "tickets.csv"
    csv.write_text("id,kind,target,start,cleared,planned\n"
                   "T-1,link,sn-a~sn-xa-a,2024-03-01T10:00:00+08:00,2024-03-01T11:30:00+08:00,false\n"
                   "T-2,router,sn-xa-yt,2024-03-02T10:00:00+08:00,2024-03-02T14:00:00+08:00,false\n"
                   "T-3,service,portal,2024-05-03T10:00:00+08:00,2024-05-23T10:30:00+08:00,false\n"  # 480.5 h

                   "T-4,router,sn-bj-jt,2024-09-30T23:00:00+08:00,2024-10-01T01:00:00+08:00,false\n")
    assert egov("faults", "import", str(csv), "--profile", str(lab_yaml), env=env).returncode == 0
    out = tmp_path / "report" / "sla-2024.html"
    r = egov("sla", "report", "--profile", str(lab_yaml), "--period", "2024", "--html", str(out), "--as-of",
             "2025-06-01T00:00:00+08:00", env=env)
    assert r.returncode == 0, r.stderr
    assert "overall: FAIL" in r.stdout and f"HTML report -> {out}" in r.stderr
    return out


def test_html_is_self_contained(report_html):
    text = report_html.read_text()
    assert text.count("<svg") == 2  # availability, fault durations
    assert "target 3 h" in text and "target 95%" in text  # the 3-hour line and the 2023 uptime target
    assert "94.530%" in text  # the cloud: 1 - 480.5 h / 8784 h, under its target
    assert "default-src 'none'" in text  # the page may load nothing
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|<script|<link""", text, re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<]+", text)) == {"http://www.w3.org/2000/svg"}
    assert "sn-xa-yt" in text and "portal" in text


@pytest.mark.slow
def test_html_report_renders_in_a_real_browser(report_html, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed; run ./bootstrap.sh (it installs chromium)")
    png = tmp_path / "shot.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", f"--screenshot={png}",
           f"--window-size={WIDTH},{HEIGHT}", report_html.as_uri()]
    r = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and png.exists(), r.stderr[-2000:]
    width, height, rows = read_png(png)
    assert (width, height) == (WIDTH, HEIGHT)
    colours = {row[i:i + 3] for row in rows[::7] for i in range(0, len(row), 21)}
    assert len(colours) > 20, "the screenshot is (nearly) one colour"
    white = sum(1 for row in rows[::4] for i in range(0, len(row), 12) if row[i:i + 3] == b"\xff\xff\xff")
    assert white < 0.97 * (height // 4) * (width // 4)
    # the charts were drawn: passing bars (green), the missed cloud target and the late faults (red), the target
    assert count_near(rows, GREEN) > 2000
    assert count_near(rows, RED) > 5000
    assert count_near(rows, BLUE) > 100
