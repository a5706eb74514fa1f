"""The notebooks as a learner meets them: JupyterLab 4 in Chromium, driven like a person would.

One ``jupyter lab`` server (started here on 127.0.0.1, a free port and a token, serving a scratch
copy of the course taken when this module starts, stopped by its process id) and one Chromium
(Debian's, through Playwright) serve every test in this module; see tests/lab_server.py.

- Each chapter with an explorer: Run All ends without an error output; every control of the
  explorer is changed with the keyboard (sliders) or the menu (dropdowns); its picture changes
  and its caption states the new value; the explorer stays one picture in one cell output.
  Screenshots go to _build/screenshots/.
- No raw MyST markup ({glue:...}, {admonition}, ```{...}```) in the rendered notebooks.
- An exercise end to end: a visible test of an unsolved function, a wrong answer, a pasted
  correct answer, nbgrader's Validate button.
- The formgrader (Nbgrader -> Formgrader) loads and lists the assignments.
"""

import json
import re

import pytest

from lab_server import Notebook, browser, lab, page, screenshot  # noqa: F401 - fixtures used by name

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # slow: still runs in plain `pytest` (CI)

# Rendered markdown must not contain MyST syntax that JupyterLab does not understand: roles such
# as {glue:text}`x` or {ref}`y`, and directives (```{note} or :::{admonition}). Any "{word}" or
# "{word:word}" left in rendered prose is one of those (math is typeset by MathJax, so its braces
# never reach the text).
RAW_MYST = re.compile(r"\{(?:glue|admonition|note|warning|tip|dropdown|figure|math|ref|doc|numref|eq|cite|code-cell)"
                      r"(?::[\w-]+)?\}|```\{")


def image_digest(page, img):
    """SHA-256 and length of the bytes behind an <img> (the PNG the kernel sent)."""
    return page.evaluate("""async (img) => {
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const hash = await crypto.subtle.digest('SHA-256', bytes);
        return [...new Uint8Array(hash)].map(b => b.toString(16).padStart(2, '0')).join('') + ':' + bytes.byteLength;
    }""", img.element_handle())


def saved_error_outputs(notebook):
    """Save the notebook (Ctrl+S) and return the error outputs of the saved file."""
    notebook.save()
    saved = json.loads((notebook.lab.root / notebook.path).read_text())
    return [f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
            for i, cell in enumerate(saved["cells"]) for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


def raw_markup(notebook):
    """Pieces of raw MyST markup shown in rendered markdown cells or in outputs."""
    texts = notebook.panel.locator(".jp-MarkdownCell .jp-RenderedMarkdown").all_inner_texts()
    texts += notebook.panel.locator(".jp-OutputArea-output").all_inner_texts()
    return [match.group(0) + " in: " + text[max(0, match.start() - 60):match.end() + 40].replace("\n", " ")
            for text in texts for match in RAW_MYST.finditer(text)]


# For each chapter: the cell with the explorer, then each control as (label, how to change it,
# the words the caption must show afterwards). Sliders are moved with the arrow keys.
EXPLORERS = {
    "03_convolution": ("conv_explorer(", [
        ("kernel", ("select", "box_blur"), r"kernel: box_blur"),
        ("stride", ("key", "ArrowRight"), r"stride 2, padding 0: floor\(\(\d+ \+ 2·0 - 3\) / 2\) \+ 1 = \d+"),
        ("padding", ("key", "ArrowRight"), r"stride 2, padding 1: floor\(\(\d+ \+ 2·1 - 3\) / 2\) \+ 1 = \d+"),
    ]),
    "06_stride": ("stride_padding_explorer(", [
        ("n (input)", ("key", "ArrowRight"), r"floor\(\(8 \+ 2 - 3\) / 2\) \+ 1 = 4 · n=8, p=1 \(shaded\), f=3, s=2"),
        ("f (kernel)", ("key", "ArrowRight"), r"floor\(\(8 \+ 2 - 4\) / 2\) \+ 1 = 4 · n=8, p=1 \(shaded\), f=4, s=2"),
        ("s (stride)", ("key", "ArrowRight"), r"floor\(\(8 \+ 2 - 4\) / 3\) \+ 1 = 3 · n=8, p=1 \(shaded\), f=4, s=3"),
        ("p (padding)", ("key", "ArrowLeft"), r"floor\(\(8 \+ 0 - 4\) / 3\) \+ 1 = 2 · n=8, p=0 \(shaded\), f=4, s=3"),
    ]),
    "07_pooling": ("pooling_explorer(", [
        ("mode", ("select", "avg"), r"avg pool 2×2, stride 2 → 48×48"),
        ("kernel", ("key", "ArrowRight"), r"avg pool 3×3, stride 2 → 47×47"),
        ("stride", ("key", "ArrowRight"), r"avg pool 3×3, stride 3 → 32×32"),
    ]),
}


def change_control(page, explorer, label, how):
    kind, value = how
    control = explorer.locator(".widget-inline-hbox").filter(
        has=page.locator("label.widget-label", has_text=re.compile(f"^{re.escape(label)}$")))
    assert control.count() == 1, f"no control labelled {label!r} in the explorer"
    if kind == "select":
        control.locator("select").select_option(value)
    else:
        control.locator(".noUi-handle").focus()
        page.keyboard.press(value)


@pytest.mark.parametrize("chapter", list(EXPLORERS))
def test_explorer_redraws_on_every_control(lab, page, chapter):
    notebook = Notebook(page, lab, f"book/{chapter}.ipynb")
    notebook.run_all()
    assert not notebook.visible_tracebacks(), f"{chapter}: error output after Run All"
    assert saved_error_outputs(notebook) == []
    assert raw_markup(notebook) == [], f"{chapter}: raw MyST markup shown in JupyterLab"

    call, controls = EXPLORERS[chapter]
    cell = notebook.code_cell(call)
    cell.scroll_into_view_if_needed()
    outputs = cell.locator(".jp-OutputArea-output")
    explorer = cell.locator(".cnnlab-explorer")
    # One explorer, and no figure from the first call left outside it.
    assert explorer.count() == 1 and outputs.count() == 1, f"{chapter}: {outputs.count()} outputs in the explorer's cell"
    img = explorer.locator("img.cnnlab-explorer-image")
    caption = explorer.locator(".cnnlab-explorer-caption")
    images_in_notebook = notebook.panel.locator("img").count()

    for label, how, words in controls:
        before_image, before_caption = image_digest(page, img), caption.inner_text()
        assert not re.search(words, before_caption), f"{chapter}: caption already shows {words!r}"
        change_control(page, explorer, label, how)
        try:
            page.wait_for_function("([el, pattern]) => new RegExp(pattern).test(el.innerText)",
                                   arg=[caption.element_handle(), words], timeout=20_000)
        except Exception:
            screenshot(cell, f"{chapter}-explorer-failed")
            pytest.fail(f"{chapter}: after changing {label!r} the caption reads {caption.inner_text()!r}, "
                        f"expected {words!r}")
        for _ in range(50):  # the new PNG follows the caption by a moment at most
            if image_digest(page, img) != before_image:
                break
            page.wait_for_timeout(200)
        else:
            pytest.fail(f"{chapter}: {label} changed but the picture did not")
        assert explorer.count() == 1 and outputs.count() == 1 and img.count() == 1
        assert notebook.panel.locator("img").count() == images_in_notebook  # redrawn in place, not added
    notebook.wait_idle()
    assert not notebook.visible_tracebacks()
    screenshot(cell, f"{chapter}-explorer-moved")


CORR2D = '''def corr2d(x, k):
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1), dtype=x.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return out'''

CONV2D = '''def conv2d(x, w, b=None):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    out = np.zeros((n, f, h - kh + 1, wd - kw + 1), dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i:i + kh, j:j + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b.reshape(1, f, 1, 1)
    return out'''


def passed(shown):
    return not re.search(r"Error|Traceback|differ|wrong", shown) and len(shown.strip().splitlines()) <= 2


def test_exercise_in_lab_unsolved_wrong_solved_validated(lab, page):
    notebook = Notebook(page, lab, "exercises/02_convolution/02_convolution.ipynb")
    imports = notebook.code_cell("from cnnlab import grading")
    solution = notebook.code_cell("def corr2d(x, k):")
    test = notebook.code_cell('grading.check(corr2d, "cnnlab.reference.corr2d"')
    notebook.run_cell(imports)
    notebook.run_cell(solution)

    # Unsolved: the visible test says so in a few lines, not a wall of traceback.
    notebook.run_cell(test)
    shown = notebook.output_text(test)
    assert "corr2d is not written yet" in shown and "NotImplementedError" in shown, shown
    assert "Traceback" not in shown and len(shown.strip().splitlines()) <= 3, f"a wall of traceback:\n{shown}"
    screenshot(test, "02_convolution-unsolved-test")

    # A wrong answer (the kernel flipped: a true convolution): the message names the case, the
    # shape and the first wrong index.
    notebook.replace_source(solution, CORR2D.replace("* k)", "* k[::-1, ::-1])"))
    notebook.run_cell(solution)
    notebook.run_cell(test)
    shown = notebook.output_text(test)
    assert "MismatchError" in shown and "corr2d(" in shown and "First wrong value at index" in shown, shown

    # The correct answer, pasted: the test passes (no error; at most a line saying all cases match).
    notebook.replace_source(solution, CORR2D)
    notebook.run_cell(solution)
    notebook.run_cell(test)
    assert passed(notebook.output_text(test)), notebook.output_text(test)
    conv = notebook.code_cell("def conv2d(x, w, b=None):")
    notebook.replace_source(conv, CONV2D)
    notebook.run_cell(conv)
    conv_test = notebook.code_cell('grading.check(conv2d, "cnnlab.reference.conv2d"')
    notebook.run_cell(conv_test)
    assert passed(notebook.output_text(conv_test)), notebook.output_text(conv_test)

    # nbgrader's Validate button in the notebook toolbar runs the saved notebook from the top. The
    # written answer is still empty, and Validate says so.
    result = validate(page, notebook)
    assert "You did not provide a response" in result and "YOUR ANSWER HERE" in result, result
    answer = notebook.panel.locator(".jp-MarkdownCell", has_text="YOUR ANSWER HERE")
    assert answer.count() == 1
    answer.click()
    page.keyboard.press("Enter")  # command mode -> edit the selected cell's markdown
    answer.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("1,792 weights and 64 biases (64 x 3 x 3 x 3 + 64); a dense layer needs "
                              "150,528 x 3,154,176 weights. A filter is shared by every position.")
    page.keyboard.press("Shift+Enter")
    notebook.panel.locator(".jp-MarkdownCell .jp-RenderedMarkdown", has_text="A filter is shared").wait_for(timeout=10_000)
    result = validate(page, notebook)
    assert "Success! Your notebook passes all the tests." in result, result


def validate(page, notebook):
    """Save, click Validate, wait for nbgrader's result dialog; return its text and close it."""
    notebook.save()
    notebook.panel.locator(".jp-Toolbar").get_by_text("Validate", exact=True).click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=120_000)
    page.wait_for_function("(el) => /passes all the tests|failed|error/i.test(el.innerText)",
                           arg=dialog.element_handle(), timeout=120_000)
    result = dialog.inner_text()
    screenshot(dialog, "02_convolution-validate")
    dialog.get_by_text("Ok", exact=True).click()
    dialog.wait_for(state="detached", timeout=10_000)
    return result


def test_formgrader_lists_the_assignments(lab, page):
    page.goto(lab.url("lab"))
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
    page.locator(".lm-Menu:visible .lm-Menu-itemLabel", has_text="Formgrader").first.click()
    frame = page.frame_locator("iframe[src*='formgrader']")
    assignments = sorted(p.name for p in (lab.root / "solutions").iterdir() if p.is_dir())
    assert len(assignments) >= 8
    for name in assignments:
        frame.locator("#main-table td.name", has_text=name).wait_for(timeout=90_000)
    screenshot(page, "formgrader")
