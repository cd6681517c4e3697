"""`marketing-elt report`: the page renders its charts in a real browser (Debian's headless Chromium).

The screenshot is checked for each chart's own series colours (html_report gives every chart colours no
other chart uses), so a page whose scripts failed, or whose charts came out empty, fails: a file that
merely exists does not pass. Without Chromium the test is skipped locally and fails in CI (`CI=true`);
`make test` installs it (target `chromium`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.reporting import html_report

from .conftest import World

WINDOW = (1280, 4200)
# A chart counts as drawn when at least this many pixels show colours of its own series.
MIN_PIXELS = {"traffic": 1500, "activity": 3000, "channels": 15000, "conversions": 2000}
CHART_COLORS = {
    "traffic": html_report.TRAFFIC_COLORS,
    "activity": html_report.ACTIVITY_COLORS,
    "channels": {k: v for k, v in html_report.CHANNEL_COLORS.items() if k != "other"},  # grey is everywhere
    "conversions": html_report.CONVERSION_COLORS,
}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "no Chromium to render the report (apt-get install chromium; `make chromium`)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must render the report: {message}")
    pytest.skip(message)


def browse(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium as root on a closed network (flags from the machine notes: no sandbox, no GPU,
    no background connections), with time for the inlined plotly to draw."""
    argv = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--virtual-time-budget=20000",
        *args,
        page.as_uri(),
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def colour_pixels(png: Path, colors: dict[str, str], tolerance: int = 6) -> dict[str, int]:
    """Pixels within `tolerance` of each colour (anti-aliasing and colour management shift edges a little)."""
    from PIL import Image

    counts = dict.fromkeys(colors, 0)
    wanted = {name: _rgb(color) for name, color in colors.items()}
    with Image.open(png) as image:
        histogram = image.convert("RGB").getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    for count, pixel in histogram or []:
        for name, (r, g, b) in wanted.items():
            if abs(pixel[0] - r) <= tolerance and abs(pixel[1] - g) <= tolerance and abs(pixel[2] - b) <= tolerance:
                counts[name] += count
    return counts


@pytest.fixture(scope="module")
def report(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in world.env.items():
            patch.setenv(key, value)
        assert main(["report", "--out", str(out)]) == 0
    return out


class Fetches(HTMLParser):
    """Every tag attribute that would make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.found.append((tag, value))


def test_report_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    parser = Fetches()
    parser.feed(page)
    assert parser.found == []  # no script, stylesheet, image or font is fetched when the page opens
    assert "Plotly.newPlot" in page and 'id="chart-traffic"' in page
    for source in ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics"):
        assert f"<td>{source}</td>" in page  # the freshness table names every source


def test_report_renders_its_charts_in_chromium(report: Path, tmp_path: Path) -> None:
    dom = browse(report, tmp_path / "profile-dom", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for name in CHART_COLORS:  # plotly replaced each chart's empty div by its SVG
        start = dom.stdout.index(f'id="chart-{name}"')
        assert "main-svg" in dom.stdout[start : start + 5000], name

    shot = tmp_path / "report.png"
    result = browse(report, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    for chart, colors in CHART_COLORS.items():
        pixels = colour_pixels(shot, colors)
        drawn = {name: n for name, n in pixels.items() if n >= 50}
        assert sum(pixels.values()) >= MIN_PIXELS[chart], (chart, pixels)
        assert len(drawn) >= min(2, len(colors)), (chart, pixels)  # more than one series of the chart is visible


def test_report_without_views_says_what_to_do(world: World, tmp_path: Path, monkeypatch, capsys) -> None:
    for key, value in world.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MARKETING_ELT__REPORTING_DATASET", "no_such_schema")
    assert main(["report", "--out", str(tmp_path / "r.html")]) == 2
    assert "no reporting views yet" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
