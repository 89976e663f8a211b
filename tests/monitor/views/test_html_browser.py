"""The HTML report in a real browser (issue 25): Debian's chromium, headless, renders the
report of a 40-sender compressed run with outages; its charts are there and as wide as
the page, no sender's name wraps, the console stays quiet, and a screenshot shows a page.

Skipped only when no chromium binary is installed (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from html import unescape
from pathlib import Path

import pytest

from monitor.views.html import report_html
from tests.monitor.views.test_html_charts import fleet_report

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no chromium binary installed")
WIDTH = 1280
PROBE = "sms-sim-probe"  # logged on purpose: the console is seen, so its silence means much

# Measures the laid-out page into an attribute --dump-dom then prints; it runs in a copy of
# the report only (the report itself has no script).
MEASURE = """<script>
const body = document.body.getBoundingClientRect().width;
const wide = [...document.querySelectorAll("svg")].filter(s => !s.classList.contains("dist"))
  .map(s => [s.getAttribute("class"), s.getBoundingClientRect().width]);
const dist = [...document.querySelectorAll("svg.dist")].map(s => s.getBoundingClientRect());
const lines = node => { const r = document.createRange(); r.selectNodeContents(node);
  return r.getClientRects().length; };  // the line boxes its text takes
const names = [...document.querySelectorAll("table.senders td:first-child")].map(lines);
document.body.setAttribute("data-probe", JSON.stringify({
  body, wide, names, dist: dist.length,
  distWidths: [...new Set(dist.map(r => Math.round(r.width)))],
  pageScroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
}));
console.error("PROBE");
</script>""".replace("PROBE", PROBE)


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert BROWSER is not None
    command = [
        BROWSER,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},2000",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


def console(stderr: str) -> list[str]:
    """What the page wrote to its console (chromium logs each as ``...:CONSOLE...``),
    errors thrown and resources that failed to load among them."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed scanlines of a PNG (enough to tell a page from
    a blank one)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    at, idat = 8, b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        if kind == b"IDAT":
            idat += data[at + 8 : at + 8 + length]
        at += 12 + length
    return width, height, zlib.decompress(idat)


def test_the_report_renders_in_a_real_browser(tmp_path: Path) -> None:
    page = report_html(fleet_report())
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")

    dumped = chromium("--dump-dom", measured.as_uri(), profile=tmp_path / "profile-1")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    said = console(dumped.stderr)
    assert any(PROBE in line for line in said), "the console is not seen: " + dumped.stderr[-2000:]
    assert [line for line in said if PROBE not in line] == []  # no error, no warning
    found = dumped.stdout.split('data-probe="', 1)[1].split('"', 1)[0]
    probe = json.loads(unescape(found))

    # the charts are there: four over time, one attempt-time chart per sender
    classes = [css for css, _ in probe["wide"]]
    assert classes == ["delivered", "timeline", "waits", "per-sender"]
    assert probe["dist"] == 40
    # as wide as the page (its content box), and the page never scrolls sideways
    for css, width in probe["wide"]:
        assert width >= 0.95 * (probe["body"] - 48), css
    assert probe["body"] >= 0.9 * (WIDTH - 48)
    assert probe["pageScroll"] == 0
    assert len(probe["distWidths"]) == 1 and 200 <= probe["distWidths"][0] <= 420
    # 40 senders' names on one line each (the wide table scrolls in its own box)
    assert probe["names"] == [1] * 40

    shot = tmp_path / "report.png"
    taken = chromium(f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "profile-2")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert console(taken.stderr) == []
    width, height, pixels = png_pixels(shot.read_bytes())
    assert (width, height) == (WIDTH, 2000)
    assert len(set(pixels[::97])) > 16  # text and charts, not a blank page
