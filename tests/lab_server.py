"""A real JupyterLab server and a real Chromium for the browser tests (tests/test_lab_*.py).

``start_lab(root)`` starts ``jupyter lab`` from the course's virtual environment on 127.0.0.1, on
a free port, with a random token, serving ``root`` (a scratch copy of the course), and waits
until it answers. Its Jupyter config, data, runtime and IPython folders are scratch folders too,
so nothing from the user's home leaks in; the extensions installed in the virtual environment
(ipywidgets, nbgrader) are still found through ``sys.prefix``. ``Lab.stop()`` ends the server by
the process id it started.

The fixtures ``lab`` and ``browser`` (module scope: one server and one browser per test module)
are imported by the test modules. ``Notebook`` drives one notebook in the page the way a learner
does: the Run menu, the keyboard, the toolbar.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = ROOT / "_build" / "screenshots"

# The course as a learner or an instructor has it: chapters, release, sources, nbgrader config.
COURSE_PARTS = ("book", "exercises", "solutions", "nbgrader_config.py", "_config.yml", "_toc.yml")
# JupyterLab plug-ins switched off in the scratch server: the news prompt would cover the page, and
# jupyterlab-myst is not in requirements.txt (a fresh clone does not have it), so a copy that
# happens to be installed here must not make the notebooks look better than a learner sees them.
DISABLED_PLUGINS = ("@jupyterlab/apputils-extension:announcements", "jupyterlab-myst")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_course(dest):
    """Copy the course's current state (as it is on disk right now) into ``dest``; return ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "_build", ".jupyter_cache")
    for part in COURSE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, dest / part)
    return dest


class Lab:
    """A running ``jupyter lab`` server (see ``start_lab``)."""

    def __init__(self, root, proc, port, token, log_path):
        self.root, self.proc, self.port, self.token, self.log_path = Path(root), proc, port, token, log_path
        self.base = f"http://127.0.0.1:{port}"

    def url(self, path=""):
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path):
        with urllib.request.urlopen(self.url(f"api/{path}"), timeout=10) as response:
            return json.loads(response.read())

    def request(self, method, path):
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    def shutdown_kernels(self):
        """Shut every running kernel down through the REST API."""
        for kernel in self.api("kernels"):
            self.request("DELETE", f"api/kernels/{kernel['id']}")

    def log(self):
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        """End the server by its own process id: terminate, then kill if it does not exit."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_lab(root, scratch, timeout=90):
    """Start ``jupyter lab`` serving ``root``; Jupyter's own folders go under ``scratch``."""
    root, scratch = Path(root), Path(scratch)
    config, data, runtime, ipython = (scratch / name for name in ("config", "data", "runtime", "ipython"))
    for folder in (config, data, runtime, ipython):
        folder.mkdir(parents=True, exist_ok=True)
    (config / "labconfig").mkdir(exist_ok=True)
    # Every cell in the DOM: JupyterLab's default windowing renders only the cells near the
    # viewport, and the checks must see the whole notebook (a person scrolls; a test reads).
    tracker = config / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in DISABLED_PLUGINS}}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(data),
               JUPYTER_RUNTIME_DIR=str(runtime), IPYTHONDIR=str(ipython), JUPYTER_PLATFORM_DIRS="1",
               PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    # What a learner's kernel gets: no test-run overrides (scripts/test.sh sets MPLBACKEND=Agg;
    # the book build sets CNNLAB_STATIC_WIDGETS), and the CPU unless the caller says otherwise.
    for name in ("MPLBACKEND", "CNNLAB_STATIC_WIDGETS", "JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH"):
        env.pop(name, None)
    log_path = scratch / "jupyter-lab.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.news_url=", "--ServerApp.open_browser=False"]
        + (["--allow-root"] if os.geteuid() == 0 else []),  # CI containers often run as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    lab = Lab(root, proc, port, token, log_path)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{lab.log()[-3000:]}")
        try:
            lab.api("status")
            return lab
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                lab.stop()
                raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{lab.log()[-3000:]}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("course"))
    server = start_lab(course, tmp_path_factory.mktemp("jupyter"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab):
    """A fresh browser tab; afterwards the kernels it started are shut down (2 CPU cores in CI)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()
    lab.shutdown_kernels()


def screenshot(target, name):
    """Save a screenshot (of a page or an element) as _build/screenshots/<name>.png; return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


class Notebook:
    """One notebook opened in JupyterLab in ``page``."""

    def __init__(self, page, lab, path, timeout=120):
        self.page, self.lab, self.path = page, lab, path
        # ?reset: a clean workspace, so notebooks opened by earlier tests are not restored beside it
        page.goto(lab.url(f"lab/tree/{path}?reset"))
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
        self.panel.wait_for(timeout=timeout * 1000)
        self.panel.locator(".jp-Cell").first.wait_for(timeout=timeout * 1000)
        self.wait_kernel_connected(timeout)
        self.wait_idle(timeout)

    def wait_kernel_connected(self, timeout=120):
        """Wait until the server has a kernel for this notebook, idle, with the page connected to it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for session in self.lab.api("sessions"):
                kernel = session.get("kernel") or {}
                if session.get("path") == self.path and kernel.get("connections", 0) > 0 \
                        and kernel.get("execution_state") == "idle":
                    return
            self.page.wait_for_timeout(300)
        raise TimeoutError(f"{self.path}: no connected idle kernel within {timeout} s")

    def kernel_status(self):
        # The kernel status in the notebook toolbar: its title says e.g. "Kernel status: Idle".
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator")
        return (indicator.get_attribute("data-status") or "") if indicator.count() else ""

    def wait_idle(self, timeout=120):
        """Wait until the kernel is started and idle and no cell is queued or running ([*])."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = self.page.evaluate("""(panel) => {
                const prompts = [...panel.querySelectorAll('.jp-InputArea-prompt')].map(p => p.textContent);
                return prompts.some(t => t.includes('*'));
            }""", self.panel.element_handle())
            if not busy and self.kernel_status() == "idle":
                return
            self.page.wait_for_timeout(250)
        raise TimeoutError(f"{self.path}: the kernel did not become idle within {timeout} s "
                           f"(status {self.kernel_status()!r})")

    def menu(self, *labels):
        """Click through the menu bar, e.g. menu("Run", "Run All Cells")."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=labels[0]).first.click()
        for label in labels[1:]:
            item = self.page.locator(".lm-Menu:visible .lm-Menu-itemLabel").filter(has_text=label).first
            item.click()

    def prompts(self):
        return self.panel.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()

    def run_all(self, timeout=240):
        """Run -> Run All Cells; wait until the last code cell ran (or a cell failed) and the kernel is idle."""
        self.menu("Run", "Run All Cells")
        deadline = time.monotonic() + timeout
        retry_at = time.monotonic() + 20
        while time.monotonic() < deadline:
            prompts = self.prompts()
            if retry_at and time.monotonic() > retry_at:
                retry_at = None
                if all(p.strip() in ("", "[ ]:") for p in prompts):
                    # Nothing started (the click came while JupyterLab was still connecting the
                    # kernel): click Run All again, as a person would.
                    self.menu("Run", "Run All Cells")
            if (prompts and re.fullmatch(r"\[\d+\]:", prompts[-1].strip())) or self.visible_tracebacks():
                break
            self.page.wait_for_timeout(500)
        else:
            shot = screenshot(self.page, Path(self.path).stem + "-run-all-timeout")
            raise TimeoutError(f"{self.path}: Run All did not finish within {timeout} s (prompts {self.prompts()}; "
                               f"screenshot {shot})")
        self.wait_idle(timeout)

    def code_cell(self, contains):
        """The code cell whose source contains ``contains``."""
        cell = self.panel.locator(".jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=contains))
        if cell.count() != 1:
            raise LookupError(f"{self.path}: {cell.count()} code cells contain {contains!r}")
        return cell.first

    def output_text(self, cell):
        """Everything the cell's output area shows, as text."""
        return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts())

    def visible_tracebacks(self):
        """Text of every error output on the page (JupyterLab shows errors as stderr with a traceback)."""
        errors = self.panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        return [text for text in errors.all_inner_texts()
                if "Traceback (most recent call last)" in text or re.search(r"^\w*(Error|Exception)\b", text, re.M)]

    def replace_source(self, cell, code):
        """Select all of the cell's code and paste ``code`` in its place, as a learner pasting an answer."""
        cell.locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(code)  # a paste: no auto-indent of each typed line

    def run_cell(self, cell, timeout=120):
        """Select ``cell`` and press Shift+Enter, as a learner does; wait until it has run."""
        prompt = cell.locator(".jp-InputArea-prompt")
        before = prompt.inner_text().strip()
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + timeout
        while True:
            now = prompt.inner_text().strip()
            if re.fullmatch(r"\[\d+\]:", now) and now != before:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.path}: a cell did not finish within {timeout} s (prompt {now!r})")
            self.page.wait_for_timeout(200)
        self.wait_idle(timeout)

    def save(self):
        """Ctrl+S, and wait until JupyterLab no longer marks the notebook as modified."""
        self.panel.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function(
            "() => !document.querySelector('.jp-mod-current.jp-mod-dirty, .lm-TabBar-tab.lm-mod-current.jp-mod-dirty')",
            timeout=30_000)
        self.page.wait_for_timeout(500)
