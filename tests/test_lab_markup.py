"""What JupyterLab cannot render must not be in a notebook (static and cheap; the browser test
in test_lab_browser.py looks at the rendered result for the explorer chapters).

JupyterLab renders plain Markdown with math. MyST roles ({glue:text}`x`, {ref}`y`) and
directives (```{note} ... ```, :::{admonition}) show as raw text there, so the chapters state
measured numbers as the Markdown output of a cell (cnnlab.course.prose.say) and answers as
<details> blocks instead.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("book/*.ipynb")) + sorted(ROOT.glob("exercises/*/*.ipynb"))
# A role is {name}`...` or {name:sub}`...`; a directive is a fence (``` or :::) opening with {name}.
ROLE = re.compile(r"\{[a-z][\w-]*(?::[\w-]+)?\}`")
DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\s*\{[a-z][\w-]*\}", re.M)


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_there_are_notebooks_to_check():
    assert len([p for p in NOTEBOOKS if p.parent.name == "book"]) >= 12 and len(NOTEBOOKS) >= 20


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_no_myst_roles_or_directives_in_markdown(path):
    found = []
    for i, cell in enumerate(cells(path)):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            found += [f"cell {i}: {m.group(0)!r}" for m in ROLE.finditer(source)]
            found += [f"cell {i}: {m.group(0).strip()!r}" for m in DIRECTIVE.finditer(source)]
            if "{glue" in source:
                found.append(f"cell {i}: {{glue")
        elif cell["cell_type"] == "code" and re.search(r"\bmyst_nb\b|\bglue\(", source):
            found.append(f"cell {i}: uses myst_nb glue")
    assert not found, f"{path.name}: MyST markup that JupyterLab shows raw:\n" + "\n".join(found)


def test_the_checks_catch_what_they_should():
    sample = ("The error is {glue:text}`err:.1%`.\n\n```{admonition} Answer\n42\n```\n"
              ":::{note}\nx\n:::\n$\\frac{a}{b}$ and a dict {'a': 1} are fine.")
    assert [m.group(0) for m in ROLE.finditer(sample)] == ["{glue:text}`"]
    assert len(DIRECTIVE.findall(sample)) == 2
