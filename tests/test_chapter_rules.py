"""Rules every chapter keeps so that its results hold wherever the book is built."""

import re
from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parent.parent / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))


def sources(path, kind):
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == kind]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_exact_equality_of_float_results(path):
    """Floats from different computations differ by rounding: compare them with a tolerance."""
    for source in sources(path, "code"):
        assert not re.search(r"==\s*0\.0\b|\b0\.0\s*==", source), f"{path.name}: exact float comparison in\n{source}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_pages_speak_about_the_subject_not_the_course_history(path):
    text = "\n".join(sources(path, "markdown") + sources(path, "code"))
    found = re.findall(r"(?:an? |the )?(?:earlier|previous|older) version of this (?:chapter|book|course)", text, re.I)
    assert not found, f"{path.name}: {found}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_seeds_go_through_cnnlab(path):
    """torch.manual_seed and np.random.default_rng in a chapter would ignore CNNLAB_SEED_OFFSET."""
    for source in sources(path, "code"):
        assert not re.search(r"\btorch\.manual_seed\(|np\.random\.default_rng\(|np\.random\.seed\(", source), (
            f"{path.name}: seed through cnnlab.seed_everything / cnnlab.runtime.rng instead:\n{source}")


def test_the_rules_catch_what_they_should(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("assert error == 0.0\ntorch.manual_seed(0)"),
                nbformat.v4.new_markdown_cell("An earlier version of this chapter said so.")]
    bad = tmp_path / "bad.ipynb"
    nbformat.write(nb, bad)
    for rule in (test_no_exact_equality_of_float_results, test_pages_speak_about_the_subject_not_the_course_history,
                 test_seeds_go_through_cnnlab):
        with pytest.raises(AssertionError):
            rule(bad)
