"""`grade.py similarity A`: copy detection (copydetect fingerprints, as MOSS) finds the copies, and only them.

A class of 8 submissions of 02_convolution is forged in a scratch copy of the course (never in the
repository): six honest students who each wrote corr2d and conv2d their own way (scalar loops,
shift-and-add, sliding windows + einsum, a hand-made im2col, list comprehensions, as_strided), one
who copied an honest one (``ben``) with every name changed, the helper functions moved around and
the notebook's cells in another order, and one who pasted the course's own ``cnnlab/reference``
code with its comments and docstrings stripped. The copied pair and the pasted submission must
rank above every pair of honest students. The copier's code also carries an HTML/script injection
in a comment, and one honest student's id is markup: both must reach the report escaped. Links and
special files in submitted/ are refused, and the release's template code does not count.
"""

import ast
import inspect
import io
import json
import os
import re
import shutil
import textwrap
import tokenize

import numpy as np
import pytest

from course_copy import INDEPENDENT_02, REPO, cell_index, copy_course, load_grade_script, read_nb, set_source, write_nb

from cnnlab.grading import similarity
from cnnlab.reference import conv as reference_conv

NAME = "02_convolution"
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
INJECTION = "</script><script>alert(1)</script> <img src=x onerror=alert(2)>"
HOSTILE_ID = "fay<img src=x onerror=alert(3)>"
HONEST = ("ann", "ben", "cat", "dan", "eve", HOSTILE_ID)
COPIER, COPIED, PASTER = "gus", "ben", "hal"
REFERENCE_KEY = similarity.KEY_PREFIX + "cnnlab/reference/conv.py"

# Each honest student's cells: (code before the template function, its body, code after it). The
# template (the def line and the docstring of the release) is kept, as a student fills it in.
ANN = {  # scalar loops; conv2d sums corr2d over the channels
    "corr2d": ("", """
    rows = x.shape[0] - k.shape[0] + 1
    cols = x.shape[1] - k.shape[1] + 1
    result = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            acc = 0.0
            for u in range(k.shape[0]):
                for v in range(k.shape[1]):
                    acc += x[r + u, c + v] * k[u, v]
            result[r, c] = acc
    return result
""", ""),
    "conv2d": ("", """
    N, C, H, W = x.shape
    F, C2, KH, KW = w.shape
    if C != C2:
        raise ValueError("channel mismatch")
    out = np.zeros((N, F, H - KH + 1, W - KW + 1), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for c in range(C):
                out[n, f] += corr2d(x[n, c], w[f, c])
            if b is not None:
                out[n, f] += b[f]
    return out
""", ""),
}
BEN = {  # shift and add: one slice of the input per kernel offset, with two helper functions
    "corr2d": ("", """
    oh, ow = valid_size(x.shape[0], k.shape[0]), valid_size(x.shape[1], k.shape[1])
    total = np.zeros((oh, ow), dtype=np.result_type(x, k))
    for a in range(k.shape[0]):
        for c in range(k.shape[1]):
            total += k[a, c] * x[a:a + oh, c:c + ow]
    return total
""", '''

def valid_size(n, size):
    if size > n:
        raise ValueError(f"kernel of size {size} does not fit in {n}")
    return n - size + 1
'''),
    "conv2d": ('''def shifted_products(images, filters, a, c, oh, ow):
    patch = images[:, :, a:a + oh, c:c + ow]
    return np.einsum("nchw,fc->nfhw", patch, filters[:, :, a, c])


''', """
    if x.shape[1] != w.shape[1]:
        raise ValueError("x and w have different numbers of channels")
    oh = valid_size(x.shape[2], w.shape[2])
    ow = valid_size(x.shape[3], w.shape[3])
    y = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=x.dtype)
    for a in range(w.shape[2]):
        for c in range(w.shape[3]):
            y += shifted_products(x, w, a, c, oh, ow)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y
""", ""),
}
# ben's code, copied: every name changed, the helpers on the other side of the functions, the
# order of independent statements changed, an injection in a comment (and the cells swapped below).
GUS = {
    "corr2d": (f'''def fit(length, ksize):
    # {INJECTION}
    if ksize > length:
        raise ValueError(f"a kernel of {{ksize}} is too big for {{length}}")
    return length - ksize + 1


''', """
    height_out, width_out = fit(x.shape[0], k.shape[0]), fit(x.shape[1], k.shape[1])
    acc_map = np.zeros((height_out, width_out), dtype=np.result_type(x, k))
    for row_off in range(k.shape[0]):
        for col_off in range(k.shape[1]):
            acc_map += k[row_off, col_off] * x[row_off:row_off + height_out, col_off:col_off + width_out]
    return acc_map
""", ""),
    "conv2d": ("", """
    if x.shape[1] != w.shape[1]:
        raise ValueError("channel counts of x and w differ")
    width_out = fit(x.shape[3], w.shape[3])
    height_out = fit(x.shape[2], w.shape[2])
    result = np.zeros((x.shape[0], w.shape[0], height_out, width_out), dtype=x.dtype)
    for row_off in range(w.shape[2]):
        for col_off in range(w.shape[3]):
            result += slab_product(x, w, row_off, col_off, height_out, width_out)
    if b is not None:
        result += b.reshape(1, -1, 1, 1)
    return result
""", '''

def slab_product(inp, ker, row_off, col_off, height_out, width_out):
    piece = inp[:, :, row_off:row_off + height_out, col_off:col_off + width_out]
    return np.einsum("nchw,fc->nfhw", piece, ker[:, :, row_off, col_off])
'''),
}
DAN = {  # im2col by hand: a matrix of flattened windows, then one matrix product
    "corr2d": ("", """
    height, width = k.shape
    patches = []
    for top in range(x.shape[0] - height + 1):
        row = [x[top:top + height, left:left + width].ravel() for left in range(x.shape[1] - width + 1)]
        patches.append(row)
    patches = np.array(patches)
    return patches @ k.ravel()
""", ""),
    "conv2d": ("", """
    batch, channels, height, width = x.shape
    filters, kc, kh, kw = w.shape
    if kc != channels:
        raise ValueError("w and x disagree on channels")
    oh, ow = height - kh + 1, width - kw + 1
    cols = np.empty((batch, oh * ow, channels * kh * kw), dtype=x.dtype)
    idx = 0
    for i in range(oh):
        for j in range(ow):
            cols[:, idx, :] = x[:, :, i:i + kh, j:j + kw].reshape(batch, -1)
            idx += 1
    result = cols @ w.reshape(filters, -1).T
    if b is not None:
        result = result + b
    return result.transpose(0, 2, 1).reshape(batch, filters, oh, ow)
""", ""),
}
EVE = {  # nested list comprehensions and per-image, per-filter lists
    "corr2d": ("", """
    m, n = k.shape
    return np.array([[float((x[p:p + m, q:q + n] * k).sum()) for q in range(x.shape[1] - n + 1)]
                     for p in range(x.shape[0] - m + 1)])
""", ""),
    "conv2d": ("", """
    if w.shape[1] != x.shape[1]:
        raise ValueError("bad channels")
    outputs = []
    for image in x:
        maps = []
        for index, filt in enumerate(w):
            response = sum(corr2d(image[ch], filt[ch]) for ch in range(len(filt)))
            if b is not None:
                response = response + b[index]
            maps.append(response)
        outputs.append(np.stack(maps))
    return np.stack(outputs).astype(x.dtype)
""", ""),
}
FAY = {  # as_strided windows and tensordot; conv2d one expression
    "corr2d": ("", """
    s0, s1 = x.strides
    shape = (x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1) + k.shape
    view = np.lib.stride_tricks.as_strided(x, shape=shape, strides=(s0, s1, s0, s1))
    return np.tensordot(view, k, axes=([2, 3], [0, 1]))
""", ""),
    "conv2d": ("", """
    n_img, n_ch = x.shape[:2]
    assert w.shape[1] == n_ch, f"{w.shape[1]} filter channels for {n_ch} image channels"
    offset = np.zeros(w.shape[0]) if b is None else b
    planes = [[sum(corr2d(x[i, c], w[f, c]) for c in range(n_ch)) + offset[f] for f in range(w.shape[0])]
              for i in range(n_img)]
    return np.array(planes, dtype=x.dtype)
""", ""),
}


def full_cell(template, parts):
    """A solved cell: ``before`` + the template with its stub replaced by ``body`` + ``after``."""
    before, body, after = parts
    assert STUB in template
    return before + template.replace(STUB, textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")) + after


def strip_comments_and_docstrings(source):
    """``source`` without its comments, docstrings and blank lines (what a paster might hand in)."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)) and ast.get_docstring(node) is not None:
            doc = node.body[0]
            for n in range(doc.lineno - 1, doc.end_lineno):
                lines[n] = ""
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col].rstrip()
    return "\n".join(line for line in lines if line.strip()) + "\n"


def pasted_cells():
    """hal's cells: corr2d, conv2d_naive (renamed conv2d) and its helper _prepare, from cnnlab/reference."""
    corr = strip_comments_and_docstrings(inspect.getsource(reference_conv.corr2d))
    conv = strip_comments_and_docstrings(inspect.getsource(reference_conv._prepare) + "\n\n"
                                         + inspect.getsource(reference_conv.conv2d_naive))
    return {"corr2d": corr, "conv2d": conv.replace("def conv2d_naive(", "def conv2d(")}


def honest_sources(template_nb):
    templates = {gid: "".join(template_nb["cells"][cell_index(template_nb, gid)]["source"])
                 for gid in ("corr2d", "conv2d")}
    cells = {}
    for student, parts in zip(HONEST, (ANN, BEN, None, DAN, EVE, FAY)):
        if parts is None:  # cat: the course's independent implementation (sliding windows + einsum)
            cells[student] = {gid: textwrap.dedent(INDEPENDENT_02[gid]).lstrip() for gid in ("corr2d", "conv2d")}
        else:
            cells[student] = {gid: full_cell(templates[gid], parts[gid]) for gid in ("corr2d", "conv2d")}
    cells[COPIER] = {gid: full_cell(templates[gid], GUS[gid]) for gid in ("corr2d", "conv2d")}
    cells[PASTER] = pasted_cells()
    return cells


def submit(root, student, nb):
    write_nb(nb, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    """The class of 8 (and three refused entries) in a scratch course, and one similarity run on it."""
    root = copy_course(str(tmp_path_factory.mktemp("similarity") / "course"), [NAME])
    release = read_nb(os.path.join(root, "exercises", NAME, NAME + ".ipynb"))
    sources = honest_sources(release)
    for student, cells in sources.items():
        nb = json.loads(json.dumps(release))
        for gid, source in cells.items():
            set_source(nb, gid, source)
        if student == COPIER:  # the copier also swapped the two solution cells in the notebook
            i, j = cell_index(nb, "corr2d"), cell_index(nb, "conv2d")
            nb["cells"][i], nb["cells"][j] = nb["cells"][j], nb["cells"][i]
        submit(root, student, nb)
    submitted = os.path.join(root, "submitted")
    ben = os.path.join(submitted, COPIED, NAME, NAME + ".ipynb")
    os.makedirs(os.path.join(submitted, "mallory", NAME))
    os.symlink(ben, os.path.join(submitted, "mallory", NAME, NAME + ".ipynb"))  # a linked notebook
    os.symlink(os.path.join(submitted, COPIED), os.path.join(submitted, "trent"))  # a linked student folder
    os.makedirs(os.path.join(submitted, "pipe", NAME))
    os.mkfifo(os.path.join(submitted, "pipe", NAME, NAME + ".ipynb"))  # a FIFO (would block a plain open)
    stream = io.StringIO()
    result = similarity.similarity_report(root, NAME, threshold=0.5, top=12, progress=False, stream=stream)
    with open(result["out"], encoding="utf-8") as f:
        page = f.read()
    return {"root": root, "result": result, "page": page, "printed": stream.getvalue(), "sources": sources}


def score(result, a, b):
    for entry in result["ranking"]:
        if {entry["a"], entry["b"]} == {a, b}:
            return entry
    raise KeyError((a, b))


def test_every_honest_implementation_is_a_correct_one(forged):
    """The honest students really solved the exercise (else the ranking would prove little)."""
    rng = np.random.default_rng(0)
    x, k = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
    xs, ws, bs = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    for student in HONEST + (COPIER,):
        namespace = {"np": np}
        exec(forged["sources"][student]["corr2d"] + "\n" + forged["sources"][student]["conv2d"], namespace)
        assert np.allclose(namespace["corr2d"](x, k), reference_conv.corr2d(x, k)), student
        assert np.allclose(namespace["conv2d"](xs, ws, bs), reference_conv.conv2d(xs, ws, bs)), student


def test_the_copied_pair_and_the_pasted_submission_rank_above_every_honest_pair(forged):
    result = forged["result"]
    assert sorted(result["students"]) == sorted(HONEST + (COPIER, PASTER))
    honest_pairs = [e for e in result["ranking"] if e["kind"] == "pair" and e["a"] in HONEST and e["b"] in HONEST]
    assert len(honest_pairs) == 15
    best_honest = max(e["similarity"] for e in honest_pairs)
    copied = score(result, COPIER, COPIED)
    pasted = score(result, PASTER, REFERENCE_KEY)
    print(f"\ncopied pair {copied['similarity']:.3f} (rank {copied['rank']}), pasted {pasted['similarity']:.3f} "
          f"(rank {pasted['rank']}), best honest pair {best_honest:.3f}; honest pairs: "
          + ", ".join(f"{e['a'][:3]}-{e['b'][:3]} {e['similarity']:.2f}" for e in honest_pairs))
    assert copied["similarity"] > best_honest and pasted["similarity"] > best_honest
    assert copied["similarity"] >= 0.5 > best_honest, "the default threshold separates them"
    assert copied["flagged"] and pasted["flagged"] and not any(e["flagged"] for e in honest_pairs)
    top = [(e["a"], e["b"], e["similarity"]) for e in result["ranking"][:4]]
    assert {copied["rank"], pasted["rank"]} == {1, 2}, top
    # nobody honest looks like the answer key either
    honest_key = max(e["similarity"] for e in result["ranking"] if e["kind"] == "key" and e["a"] in HONEST)
    assert honest_key < 0.5 < pasted["similarity"]


def copydetect_share(doc_a, doc_b):
    """The share of doc_a found in doc_b by copydetect's own functions, cell by cell (no inverted index)."""
    from copydetect.utils import find_fingerprint_overlap, get_copied_slices

    hashes_b = set().union(*(fp.hashes for _, fp in doc_b.cells))
    overlap = coverage = 0
    for _, fp in doc_a.cells:
        idx_a, _ = find_fingerprint_overlap(fp.hashes, hashes_b, fp.hash_idx, {h: [0] for h in hashes_b})
        slices = get_copied_slices(idx_a, fp.k)
        overlap += int(np.sum(slices[1] - slices[0])) if len(idx_a) else 0
        coverage += fp.token_coverage
    return overlap / coverage if coverage else 0.0


def test_scores_are_copydetects_and_the_printed_table_ranks_them(forged):
    result = forged["result"]
    docs = result["documents"]
    for entry in result["ranking"][:40]:
        assert entry["a_in_b"] == pytest.approx(copydetect_share(docs[entry["a"]], docs[entry["b"]])), entry
        if entry["b_in_a"] is not None:
            assert entry["b_in_a"] == pytest.approx(copydetect_share(docs[entry["b"]], docs[entry["a"]])), entry
    printed = forged["printed"].splitlines()
    header = next(i for i, line in enumerate(printed) if line.split()[:2] == ["#", "similarity"])
    assert printed[header + 1].split()[0] == "1" and "above threshold" in printed[header + 1]
    assert len(printed) == header + 1 + 12 + 1, "--top 12 rows and the summary line"
    assert f"report: {result['out']}" in printed[-1]
    assert result["out"] == os.path.join(forged["root"], "similarity", NAME + ".html")
    # the hostile id is printed, but nothing the terminal would act on
    assert all(ch.isprintable() for line in printed for ch in line)


def test_student_code_and_ids_reach_the_report_escaped(forged):
    page = forged["page"]
    assert "alert(1)" in page and "alert(3)" in page, "the copier's comment and the hostile id are shown"
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "fay&lt;img src=x onerror=alert(3)&gt;" in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # side by side, with the matches highlighted: the top pair's section holds both codes
    assert re.search(r'<section id="match-1">.*?<mark>.*?</section>', page, re.S)
    assert 'class="flagged"' in page


def test_links_and_special_files_are_refused_not_followed(forged):
    result = forged["result"]
    refused = {os.path.relpath(path, os.path.join(forged["root"], "submitted")).split(os.sep)[0]: reason
               for path, reason in result["refused"]}
    assert set(refused) == {"mallory", "trent", "pipe"}, refused
    assert refused["mallory"] == "a symbolic link" and "symbolic link" in refused["trent"]
    assert refused["pipe"] == "not a regular file"
    assert not {"mallory", "trent", "pipe"} & set(result["students"])
    assert "warning: refused" in forged["printed"] and "mallory" in forged["printed"]
    assert "Refused submissions" in forged["page"]


def test_read_plain_file_refuses_a_link_swapped_in_after_the_listing(tmp_path):
    target = tmp_path / "real.ipynb"
    target.write_text("{}")
    link = tmp_path / "link.ipynb"
    link.symlink_to(target)
    with pytest.raises(OSError, match="a symbolic link"):
        similarity.read_plain_file(str(link))
    os.link(target, tmp_path / "hard.ipynb")
    with pytest.raises(OSError, match="a hard link"):
        similarity.read_plain_file(str(target))


def test_the_release_template_is_boilerplate_and_broken_notebooks_are_refused(tmp_path):
    root = copy_course(str(tmp_path / "course"), [NAME])
    release = read_nb(os.path.join(root, "exercises", NAME, NAME + ".ipynb"))
    submit(root, "blank1", release)
    submit(root, "blank2", release)
    broken = os.path.join(root, "submitted", "broken", NAME, NAME + ".ipynb")
    os.makedirs(os.path.dirname(broken))
    with open(broken, "w") as f:
        f.write('{"cells": [')
    result = similarity.similarity_report(root, NAME, out=str(tmp_path / "r.html"), progress=False,
                                          stream=io.StringIO())
    assert result["students"] == ["blank1", "blank2"]
    assert result["refused"] == [(broken, "not a notebook (JSONDecodeError)")]
    assert max(e["similarity"] for e in result["ranking"]) == 0.0, "the untouched release matches nothing"
    # without the template as boilerplate the two blank submissions would be identical
    cells = [(title, fp.raw_code) for title, fp in result["documents"]["blank1"].cells]
    plain = [similarity.document(s, "submission", cells) for s in ("blank1", "blank2")]
    assert similarity.containment(plain)[0, 1] == 1.0


def test_grade_py_similarity_prints_the_ranking_and_shows_progress(forged, tmp_path, capsys):
    grade = load_grade_script("cnnlab_grade_script_similarity")
    out = tmp_path / "report.html"
    assert grade.main(["--root", forged["root"], "similarity", NAME, "--out", str(out), "--top", "3",
                       "--threshold", "0.9"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if line.strip()]
    assert len([line for line in lines if re.match(r"\s+\d+\s", line)]) == 3
    assert f"report: {out}" in lines[-1] and "at or above 90.0 %" in lines[-1]
    assert "similarity 02_convolution: comparisons" in captured.err
    assert out.is_file() and not os.path.exists(os.path.join(REPO, "similarity", NAME + ".html"))
    with pytest.raises(SystemExit, match="assignment: unknown assignment"):
        grade.main(["--root", forged["root"], "similarity", "99_nothing"])


def test_bad_arguments_are_rejected_with_their_names(forged, tmp_path):
    root = forged["root"]
    with pytest.raises(ValueError, match="assignment: unknown assignment '99_nothing'"):
        similarity.similarity_report(root, "99_nothing", progress=False)
    with pytest.raises(TypeError, match="assignment"):
        similarity.similarity_report(root, 2, progress=False)
    with pytest.raises(ValueError, match="threshold"):
        similarity.similarity_report(root, NAME, threshold=1.5, progress=False)
    with pytest.raises(TypeError, match="top"):
        similarity.similarity_report(root, NAME, top="3", progress=False)
    with pytest.raises(ValueError, match="root"):
        similarity.similarity_report(str(tmp_path / "nowhere"), NAME, progress=False)
    empty = copy_course(str(tmp_path / "empty"), [NAME])
    with pytest.raises(ValueError, match="submissions: no submissions of 02_convolution"):
        similarity.similarity_report(empty, NAME, progress=False)


def test_containment_in_small_blocks_gives_the_same_matrix(forged, monkeypatch):
    """The memory bound (documents compared a few at a time) changes no score."""
    result = forged["result"]
    documents = list(result["documents"].values())
    monkeypatch.setattr(similarity, "BLOCK_ELEMENTS", 500)
    assert np.array_equal(similarity.containment(documents, rows=range(len(result["students"]))), result["matrix"])


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_the_report_reads_right_in_chromium_and_runs_no_submitted_script(forged):
    """Opened in Debian's Chromium as an instructor would: the first two rows of the ranking are the paste
    and the copy, marked above the threshold; clicking the first rank jumps to its side-by-side view with
    highlighted matches; the hostile comment shows as text and no dialog or script of it runs."""
    from playwright.sync_api import sync_playwright

    dialogs = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto("file://" + forged["result"]["out"])
            page.wait_for_timeout(1000)  # an onerror of a broken image would fire after load
            rows = page.locator("table tbody tr")
            first_two = [rows.nth(i).inner_text() for i in range(2)]
            assert any(PASTER in row for row in first_two) and any(COPIER in row and COPIED in row for row in first_two), \
                first_two
            assert all("above threshold" in row for row in first_two)
            assert rows.nth(0).locator(".flag").is_visible()
            rows.nth(0).locator("a").click()
            page.wait_for_timeout(300)
            section = page.locator("section#match-1")
            assert section.is_visible() and section.bounding_box()["y"] < 900 / 2  # scrolled to it
            marks = section.locator("mark")
            assert marks.count() > 0 and marks.first.is_visible()
            assert "<script>alert(1)</script>" in page.locator("body").inner_text()  # shown as text
            assert page.evaluate("document.querySelectorAll('script, img, iframe').length") == 0
        finally:
            browser.close()
    assert dialogs == []
