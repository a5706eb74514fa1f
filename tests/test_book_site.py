"""Checks of the built book in _build/html, as a reader's browser sees it.

scripts/test.sh builds the book before pytest runs, so these tests read what was just built.
They check that every chapter of _toc.yml rendered, that no cell printed an error, that no page
loads anything from the network, and, in headless Chromium, that figures and math render.
"""

import functools
import http.server
import json
import re
import shutil
import socketserver
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.book


def toc_pages():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


@pytest.fixture(scope="module")
def built():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `bash scripts/book.sh` (scripts/test.sh does it first)")
    return HTML


@pytest.mark.parametrize("page", toc_pages())
def test_every_toc_page_rendered_without_error_output(built, page):
    html_file = built / f"{page}.html"
    assert html_file.exists(), f"{page} is in _toc.yml but {html_file} was not built"
    text = html_file.read_text(encoding="utf-8")
    # myst-nb marks error outputs with these classes; a traceback would also show its name.
    for marker in ('class="output traceback', "output_error", "Traceback (most recent call last)"):
        assert marker not in text, f"{page}: found {marker!r} in the rendered page"
    # Every glue reference was resolved to a value (an unresolved one renders as the raw role).
    assert "{glue:" not in text, f"{page}: an unresolved glue role is shown to the reader"


@pytest.mark.parametrize("page", [p for p in toc_pages() if (ROOT / f"{p}.ipynb").exists()])
def test_every_chapter_has_figures_and_was_executed(built, page):
    text = (built / f"{page}.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]+)"', text)
    figures = [src for src in images if "_images/" in src or src.startswith("data:image")]
    assert figures, f"{page}: no executed figure in the page"
    for src in figures:
        if src.startswith("data:"):
            continue
        path = (built / page).parent / src
        assert path.exists() and path.stat().st_size > 1000, f"{page}: figure {src} missing or empty"


def test_no_page_loads_anything_from_the_network(built):
    offenders = []
    for html_file in built.rglob("*.html"):
        text = html_file.read_text(encoding="utf-8")
        for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", text):
            if re.search(r'(?:src|href)="(?:https?:)?//', tag) and "rel=\"canonical\"" not in tag:
                offenders.append(f"{html_file.relative_to(built)}: {tag[:120]}")
    assert not offenders, "pages load from the network:\n" + "\n".join(offenders[:10])


def test_mathjax_is_served_locally(built):
    assert (built / "mathjax" / "MathJax.js").exists()
    text = (built / "book" / "06_stride.html").read_text(encoding="utf-8")
    scripts = re.findall(r'<script[^>]+src="([^"]*MathJax[^"]*)"', text)
    assert scripts == ["../_static/../mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML"], scripts


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(built):
    handler = functools.partial(_QuietHandler, directory=str(built))
    with socketserver.TCPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


def chromium(args, tmp_path, timeout=90):
    if CHROMIUM is None:
        pytest.fail("Chromium is missing: scripts/setup.sh installs Debian's `chromium`")
    base = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600",
    ]
    return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout)


# A page served beside the book: it loads a chapter in a frame, waits for MathJax, and writes what
# the browser actually rendered (image sizes, math nodes, error outputs) into its own DOM.
PROBE = """<!doctype html><html><body><pre id="report">pending</pre>
<iframe id="page" src="{page}" style="width:1200px;height:1600px"></iframe>
<script>
document.getElementById('page').addEventListener('load', function () {{
  setTimeout(function () {{
    var doc = this.contentDocument;
    var imgs = Array.from(doc.querySelectorAll('img'));
    var report = {{
      images: imgs.length,
      broken: imgs.filter(function (i) {{ return !(i.complete && i.naturalWidth > 0); }}).map(function (i) {{ return i.src; }}),
      math_rendered: doc.querySelectorAll('.MathJax, .MathJax_Display, mjx-container').length,
      math_source: doc.querySelectorAll('.math').length,
      errors: doc.querySelectorAll('.output.traceback, .output.error').length,
      title: doc.title
    }};
    document.getElementById('report').textContent = JSON.stringify(report);
  }}.bind(this), 4000);
}});
</script></body></html>"""


@pytest.mark.parametrize("page", ["book/index.html", "book/06_stride.html"])
def test_chromium_renders_figures_and_math(built, server, tmp_path, page):
    probe = built / f"_probe_{Path(page).stem}.html"
    probe.write_text(PROBE.format(page=page))
    try:
        result = chromium(["--virtual-time-budget=15000", "--dump-dom", f"{server}/{probe.name}"], tmp_path)
    finally:
        probe.unlink()
    match = re.search(r'<pre id="report">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no report from Chromium: {result.stderr[-2000:]}"
    report = json.loads(match.group(1).replace("&quot;", '"'))
    assert report["broken"] == [], f"{page}: images that did not load: {report['broken']}"
    assert report["errors"] == 0, f"{page}: {report['errors']} error outputs"
    if page != "book/index.html":
        assert report["images"] > 0, f"{page}: no images"
        assert report["math_source"] > 0 and report["math_rendered"] > 0, f"{page}: math not typeset: {report}"


@pytest.mark.parametrize("page", ["book/index.html", "book/03_convolution.html"])
def test_chromium_screenshot_is_a_real_page(built, server, tmp_path, page):
    shot = tmp_path / "shot.png"
    result = chromium(["--virtual-time-budget=10000", f"--screenshot={shot}", f"{server}/{page}"], tmp_path)
    assert shot.exists(), f"no screenshot: {result.stderr[-2000:]}"
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)[..., :3]
    # A blank or error page is one flat colour; a rendered page has text, a sidebar and figures.
    assert pixels.std() > 0.05, f"{page}: the screenshot is nearly uniform (std {pixels.std():.3f})"
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.005 < dark < 0.6, f"{page}: {dark:.1%} dark pixels: not a normal page"
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, out / (Path(page).stem + ".png"))
    assert np.isfinite(pixels).all()
