"""The book build fails on a cell error, as scripts/book.sh runs it (same _config.yml, -W).

A two-page book in a temporary folder: one page that runs, one whose cell raises. The build
must exit non-zero and name the failing notebook; without the failing page it must succeed.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"

pytestmark = pytest.mark.slow


def make_book(folder, with_error):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["sphinx"]["config"].pop("html_extra_path", None)  # no MathJax copy needed here
    (folder / "_config.yml").write_text(yaml.safe_dump(config))
    chapters = [{"file": "good"}] + ([{"file": "bad"}] if with_error else [])
    (folder / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro", "chapters": chapters}))
    (folder / "intro.md").write_text("# Intro\n\nA tiny book.\n")
    for name, code in [("good", "import cnnlab\nprint(cnnlab.__version__)"), ("bad", "1 / 0")]:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), nbformat.v4.new_code_cell(code)]
        nbformat.write(nb, folder / f"{name}.ipynb")


def build(folder):
    return subprocess.run(
        [str(JUPYTER_BOOK), "build", str(folder), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("with_error", [False, True])
def test_a_cell_error_fails_the_build(tmp_path, with_error):
    if not JUPYTER_BOOK.exists():
        pytest.fail(f"jupyter-book is not installed beside {sys.executable}: run scripts/setup.sh")
    make_book(tmp_path, with_error)
    result = build(tmp_path)
    log = result.stdout + result.stderr
    if with_error:
        assert result.returncode != 0, "a notebook whose cell raises built without error"
        assert "bad.ipynb" in log and "Executing notebook failed" in log, log[-3000:]
        report = tmp_path / "_build" / "html" / "reports" / "bad.err.log"
        assert "ZeroDivisionError" in report.read_text(), "the saved traceback does not name the error"
    else:
        assert result.returncode == 0, log[-3000:]
        assert (tmp_path / "_build" / "html" / "good.html").exists()
    shutil.rmtree(tmp_path / "_build", ignore_errors=True)
