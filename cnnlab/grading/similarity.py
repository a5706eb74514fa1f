"""Copy detection for one assignment, as MOSS does it: ``python scripts/grade.py similarity A``.

What is compared
    Each submission's *solution cells*: the code cells whose ``metadata.nbgrader.solution`` is true
    in the source notebook ``solutions/<A>/<A>.ipynb``, found in ``submitted/<student>/<A>/<A>.ipynb``
    by their ``metadata.nbgrader.grade_id`` (so moving cells around changes nothing). Every pair of
    submissions is compared, and every submission with the course's own answer key, which a
    student can read: each file of ``cnnlab/reference/*.py`` and the solution cells of
    ``solutions/<A>/<A>.ipynb``.

How
    copydetect's :class:`copydetect.CodeFingerprint` tokenizes the code (names become ``V``/``F``,
    strings ``S``; comments and white space go), and fingerprints it by hashing every k-gram of
    that text (winnowing with a window of 1: every k-gram is kept, which makes the scores
    independent of Python's per-process string-hash salt). Each cell is fingerprinted on its own,
    as the notebook runs it, so no k-gram spans two cells. The release's template code (the
    solution-cell stubs of ``exercises/<A>/<A>.ipynb``: the ``def`` line, the docstring,
    ``raise NotImplementedError()``) is *boilerplate*, as MOSS's base files are: its k-grams are
    removed from every fingerprint. (This module removes them itself instead of passing
    ``boilerplate=`` to copydetect 0.5.0, whose ``np.intersect1d(..., assume_unique=True)`` on a
    list with repeated hashes also drops repeated k-grams that are not boilerplate.)

    The similarity of document *i* to document *j* is copydetect's, summed over *i*'s cells: the
    number of characters of *i*'s filtered code covered by k-grams that also occur in *j*, divided
    by the number covered by *i*'s fingerprints (``token_coverage``). A pair of submissions scores
    the larger of its two directions (a student who copied one function of two still shows); a
    submission and a key file score the fraction of the submission found in the key.

    Each document is fingerprinted once; an inverted index (a sparse document x hash matrix)
    gives, for every k-gram of one submission, the documents that contain it, so one pass per
    submission scores it against all the others at once (300 submissions, 44,850 pairs: seconds).
    copydetect's :func:`copydetect.compare_files` (cell by cell) is called only for the ``top``
    comparisons, to highlight them side by side in the report.

The report
    ``similarity/<A>.html`` (``out=`` to choose): a ranked table of the comparisons, those at or
    above ``threshold`` marked, and for the ``top`` ones the two codes side by side with the
    matching parts highlighted. Student code is hostile: every piece of it (and every student id)
    is HTML-escaped, and the page carries a Content-Security-Policy that allows no script at all.

Submissions are read without following links: a student folder, an assignment folder or a
notebook that is a symbolic link, a hard link, a FIFO or a device is refused with a warning (as
``grade.py collect`` refuses them), and so is a file that is not a notebook.
"""

import collections
import errno
import html
import io
import itertools
import json
import os
import stat
import sys
import time

import numpy as np

DEFAULT_THRESHOLD = 0.5  # a comparison at or above this similarity is marked in the report
DEFAULT_TOP = 10  # comparisons shown side by side in the report (and printed)
TABLE_ROWS = 100  # the ranked table lists at least this many comparisons (and all marked ones)
NOISE_K = 25  # copydetect's default noise threshold: characters of filtered code per k-gram
MAX_NOTEBOOK_BYTES = 64 * 2**20  # one submitted notebook (as grade.py collect)
MAX_CODE_CHARS = 200_000  # solution code kept per submission; the rest is cut (and said so)
CONTEXT_LINES = 3  # lines kept around a match when a long document (a key file) is shown
LONG_DOCUMENT_LINES = 120  # documents longer than this are shown around their matches only
KEY_PREFIX = "answer key: "
BLOCK_ELEMENTS = 1 << 22  # containment: at most this many (document x character) counters at once
REFERENCE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "reference")


# ---------------------------------------------------------------------------------------------
# Reading notebooks
# ---------------------------------------------------------------------------------------------


def read_plain_file(path, limit=MAX_NOTEBOOK_BYTES):
    """The bytes of ``path``, opened without following a link; OSError unless it is a plain file.

    The checks are made on the open descriptor (``O_NOFOLLOW``, then ``fstat``), so a file swapped
    for a link or a FIFO after it was listed is refused, not followed.

    Args:
        path (str): a submitted notebook.
        limit (int): the largest size accepted, in bytes.

    Returns:
        bytes: the file's content.

    Example:
        >>> read_plain_file("/dev/null")
        Traceback (most recent call last):
        ...
        OSError: /dev/null: not a regular file
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise OSError(f"{path}: a symbolic link") from None
        raise OSError(f"{path}: unreadable ({error.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path}: not a regular file")
        if info.st_nlink != 1:
            raise OSError(f"{path}: a hard link ({info.st_nlink} names)")
        if info.st_size > limit:
            raise OSError(f"{path}: larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise OSError(f"{path}: larger than {limit} bytes")
        return data
    finally:
        os.close(fd)


def find_submissions(root, assignment):
    """The submissions of ``assignment`` in ``root/submitted``, and those refused (links, special files).

    A student folder, an assignment folder or a notebook that is a symbolic link, or a notebook
    that is not a regular file, is refused (never followed); a student without the notebook is
    left out silently (they did not submit this assignment).

    Args:
        root (str): the course directory.
        assignment (str): the assignment name.

    Returns:
        tuple: ``({student: notebook path}, [(path, reason), ...])``.

    Example:
        >>> find_submissions("/nonexistent", "02_convolution")
        ({}, [])
    """
    base = os.path.join(root, "submitted")
    found, refused = {}, []
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return found, refused
    for student in entries:
        if student.startswith("."):
            continue
        folder = os.path.join(base, student)
        if os.path.islink(folder):
            refused.append((folder, "the student folder is a symbolic link"))
            continue
        if not os.path.isdir(folder):
            continue
        work = os.path.join(folder, assignment)
        if os.path.islink(work):
            refused.append((work, "the assignment folder is a symbolic link"))
            continue
        notebook = os.path.join(work, assignment + ".ipynb")
        try:
            info = os.lstat(notebook)
        except FileNotFoundError:
            continue
        except OSError as error:
            refused.append((notebook, f"unreadable ({error.strerror})"))
            continue
        if stat.S_ISLNK(info.st_mode):
            refused.append((notebook, "a symbolic link"))
        elif not stat.S_ISREG(info.st_mode):
            refused.append((notebook, "not a regular file"))
        else:
            found[student] = notebook
    return found, refused


def cell_source(cell):
    """The source of a notebook cell as one string ("" when it is not text).

    Args:
        cell (dict): a notebook cell (``source`` a string or a list of strings).

    Returns:
        str: the source.

    Example:
        >>> cell_source({"source": ["a = 1\\n", "b = 2"]}), cell_source({"source": 3})
        ('a = 1\\nb = 2', '')
    """
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def nbgrader_metadata(cell):
    """The ``metadata.nbgrader`` dict of a cell ({} when there is none or it is malformed).

    Example:
        >>> nbgrader_metadata({"metadata": {"nbgrader": {"grade_id": "f"}}}), nbgrader_metadata({"metadata": 1})
        ({'grade_id': 'f'}, {})
    """
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def notebook_cells(nb):
    """The list of cells of a notebook, [] when ``nb`` is not a notebook.

    Example:
        >>> notebook_cells({"cells": [{"cell_type": "code"}]}), notebook_cells([1, 2])
        ([{'cell_type': 'code'}], [])
    """
    cells = nb.get("cells") if isinstance(nb, dict) else None
    return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else []


def solution_cells(nb):
    """The solution code cells of a notebook: ``[(grade_id, source), ...]`` in notebook order.

    A solution cell is a code cell whose ``metadata.nbgrader.solution`` is true.

    Args:
        nb (dict): a notebook (as ``json.load`` reads it).

    Returns:
        list of (str, str): grade_id and source of each solution code cell.

    Example:
        >>> nb = {"cells": [{"cell_type": "code", "source": "def f(x):\\n    return x",
        ...                  "metadata": {"nbgrader": {"grade_id": "f", "solution": True}}},
        ...                 {"cell_type": "code", "source": "assert f(1) == 1",
        ...                  "metadata": {"nbgrader": {"grade_id": "test_f", "solution": False}}}]}
        >>> solution_cells(nb)
        [('f', 'def f(x):\\n    return x')]
    """
    cells = []
    for cell in notebook_cells(nb):
        meta = nbgrader_metadata(cell)
        if cell.get("cell_type") == "code" and meta.get("solution") is True and isinstance(meta.get("grade_id"), str):
            cells.append((meta["grade_id"], cell_source(cell)))
    return cells


def submission_cells(nb, grade_ids):
    """The solution cells of a submission: ``[(grade_id, source or None), ...]`` in the order of ``grade_ids``.

    Each cell is found by ``metadata.nbgrader.grade_id`` (the first code cell with that id), so a
    student who moved cells around changes nothing; a missing cell is None.

    Args:
        nb (dict): the submitted notebook.
        grade_ids (list of str): the solution cells of the source notebook.

    Returns:
        list of (str, str or None): each grade_id and the submitted source.

    Example:
        >>> nb = {"cells": [{"cell_type": "code", "source": "def g():\\n    pass\\n",
        ...                  "metadata": {"nbgrader": {"grade_id": "g", "solution": True}}}]}
        >>> submission_cells(nb, ["f", "g"])
        [('f', None), ('g', 'def g():\\n    pass\\n')]
    """
    by_id = {}
    for cell in notebook_cells(nb):
        grade_id = nbgrader_metadata(cell).get("grade_id")
        if cell.get("cell_type") == "code" and isinstance(grade_id, str) and grade_id not in by_id:
            by_id[grade_id] = cell_source(cell)
    return [(grade_id, by_id.get(grade_id)) for grade_id in grade_ids]


def load_json(path):
    """A course notebook (trusted: the course's own ``solutions/`` and ``exercises/``)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Fingerprints and scores
# ---------------------------------------------------------------------------------------------


def boilerplate_hashes(codes, k=NOISE_K):
    """The set of k-gram hashes of the template code (every k-gram: a window of 1).

    Args:
        codes (list of str): template code (the release's solution-cell stubs).
        k (int): k-gram length in characters of filtered code.

    Returns:
        set of int: hashes to remove from every fingerprint.

    Example:
        >>> len(boilerplate_hashes(["def f(x):\\n    raise NotImplementedError()\\n"], k=5)) > 0
        True
    """
    from copydetect import CodeFingerprint

    hashes = set()
    for i, code in enumerate(codes):
        fingerprint = CodeFingerprint(f"template{i}.py", k, 1, fp=io.StringIO(code), language="python")
        hashes.update(int(h) for h in fingerprint.hashes)
    return hashes


def fingerprint(name, code, k=NOISE_K, boilerplate=()):
    """copydetect's fingerprint of ``code`` (window 1), with the k-grams in ``boilerplate`` removed.

    Args:
        name (str): what the document is called (shown in the report; not opened).
        code (str): Python code.
        k (int): k-gram length in characters of filtered code.
        boilerplate (set of int): hashes to drop (:func:`boilerplate_hashes`).

    Returns:
        copydetect.CodeFingerprint: with ``hashes``, ``hash_idx`` and ``token_coverage`` without
        the boilerplate (so :func:`copydetect.compare_files` gives this module's scores).

    Example:
        >>> fp = fingerprint("a", "def f(x):\\n    return x + 1\\n", k=5)
        >>> fp.filtered_code, int(fp.token_coverage)
        ('defF(V):returnV+1', 17)
    """
    from copydetect import CodeFingerprint
    from copydetect.utils import get_token_coverage

    fp = CodeFingerprint(name, k, 1, fp=io.StringIO(code), language="python")
    boilerplate = set(boilerplate)
    if boilerplate:
        kept = {h: idx for h, idx in fp.hash_idx.items() if int(h) not in boilerplate}
        fp.hash_idx = kept
        fp.hashes = set(kept)
        fp.token_coverage = get_token_coverage(kept, k, len(fp.filtered_code))
    return fp


Document = collections.namedtuple("Document", "label kind cells")
Document.__doc__ = """One compared document: ``label``, ``kind`` ("submission" or "key") and ``cells``, a list of
(title, copydetect.CodeFingerprint): each cell is fingerprinted on its own, so no k-gram spans two cells."""


def document(label, kind, cells, k=NOISE_K, boilerplate=()):
    """A :class:`Document` of ``cells`` ([(title, code or None)]: None is a missing cell), fingerprinted.

    Args:
        label (str): the student id or the key file.
        kind (str): "submission" or "key".
        cells (list of (str, str or None)): each cell's title and code.
        k (int): k-gram length in characters of filtered code.
        boilerplate (set of int): hashes to drop (:func:`boilerplate_hashes`).

    Returns:
        Document: with one fingerprint per cell (a missing cell: an empty one, titled so).

    Example:
        >>> doc = document("ann", "submission", [("f", "def f(x):\\n    return x + 1\\n"), ("g", None)], k=5)
        >>> [(title, int(fp.token_coverage)) for title, fp in doc.cells]
        [('f', 17), ('g: missing', 0)]
    """
    fingerprinted = []
    for title, code in cells:
        fp = fingerprint(f"{label}:{title}", code or "", k, boilerplate)
        fingerprinted.append((title if code is not None else f"{title}: missing", fp))
    return Document(label, kind, fingerprinted)


def containment(documents, rows=None, progress=None):
    """``sim[i, j]``: the fraction of document i's fingerprinted code also found in document j.

    This is copydetect's similarity (:func:`copydetect.compare_files`) summed over the cells: the
    characters of i's filtered code covered by k-grams that also occur in j, over those covered by
    all of i's fingerprints. It is computed through an inverted index, a sparse (documents x
    hashes) matrix: for one row document, the columns of its k-grams say which documents hold
    each of them, all at once.

    Args:
        documents (list of Document): every document, one ``k``.
        rows (iterable of int): the documents i to compute (default: all); other rows are 0.
        progress (callable): called with no argument after each row (a progress bar's update).

    Returns:
        numpy.ndarray: (n, n) float64; the diagonal is 1 for a document with fingerprints.

    Example:
        >>> a = document("a", "submission", [("f", "def f(x):\\n    return x * 2 + 1\\n")], k=5)
        >>> b = document("b", "submission", [("f", "def g(y):\\n    return y * 2 + 1\\n\\ndef h():\\n    pass\\n")],
        ...              k=5)
        >>> sim = containment([a, b])
        >>> round(float(sim[0, 1]), 2), round(float(sim[1, 0]), 2)  # all of a is in b; "def h" is not in a
        (1.0, 0.8)
        >>> from copydetect import compare_files
        >>> [round(float(s), 2) for s in compare_files(a.cells[0][1], b.cells[0][1])[1]]  # the same, one pair
        [1.0, 0.8]
    """
    from scipy import sparse

    n = len(documents)
    ks = {fp.k for doc in documents for _, fp in doc.cells}
    if len(ks) > 1:
        raise ValueError(f"documents: fingerprinted with different k {sorted(ks)}")
    k = ks.pop() if ks else NOISE_K
    positions, hash_ids, lengths, coverage, vocabulary = [], [], [], [], {}
    doc_of, col_of = [], []
    for d, doc in enumerate(documents):
        pos, ids, start, covered = [], [], 0, 0
        for _, fp in doc.cells:  # the cells end to end: k-grams start and end inside their own cell
            for h, idx in fp.hash_idx.items():
                column = vocabulary.setdefault(int(h), len(vocabulary))
                doc_of.append(d)
                col_of.append(column)
                pos.extend(start + int(i) for i in idx)
                ids.extend([column] * len(idx))
            start += len(fp.filtered_code)
            covered += fp.token_coverage
        positions.append(np.asarray(pos, dtype=np.int64))
        hash_ids.append(np.asarray(ids, dtype=np.int64))
        lengths.append(start)
        coverage.append(covered)
    index = sparse.csc_matrix((np.ones(len(doc_of), dtype=np.int8), (doc_of, col_of)), shape=(n, len(vocabulary)))
    index.sum_duplicates()  # a hash in two cells of one document: still one document
    index.data[:] = 1
    counter = np.int16 if k < 2**15 else np.int64  # a character is covered by at most k k-grams
    sim = np.zeros((n, n), dtype=np.float64)
    for i in (range(n) if rows is None else rows):
        pos = positions[i]
        if len(pos) and coverage[i] > 0:
            holders = index[:, hash_ids[i]].tocsr()  # (n, k-grams of i): does document j hold this k-gram?
            block = max(1, BLOCK_ELEMENTS // (lengths[i] + 1))  # documents j at a time: bounded memory
            for j in range(0, n, block):
                holds = holders[j: j + block].toarray().astype(counter)
                edges = np.zeros((holds.shape[0], lengths[i] + 1), dtype=counter)
                edges[:, pos] += holds  # positions are distinct: plain fancy indexing adds once each
                edges[:, pos + k] -= holds  # a character is covered by at most k k-grams
                covered = (np.cumsum(edges, axis=1, dtype=counter)[:, : lengths[i]] > 0).sum(axis=1)
                sim[i, j: j + block] = covered / coverage[i]
        if progress is not None:
            progress()
    return sim


def matching_slices(doc_a, doc_b):
    """Where the two documents match: copydetect's slices of every cell of a, and of every cell of b.

    Args:
        doc_a, doc_b (Document): two documents.

    Returns:
        tuple: two lists (one entry per cell of a, of b) of 2 x N arrays of starts and ends in
        the cell's raw code (:func:`copydetect.compare_files` with every cell of the other).

    Example:
        >>> a = document("a", "submission", [("f", "def f(x):\\n    return x * 2 + 1\\n")], k=5)
        >>> b = document("b", "submission", [("f", "print(1)\\n"), ("g", "y = x * 2 + 1\\n")], k=5)
        >>> slices_a, slices_b = matching_slices(a, b)
        >>> a.cells[0][1].raw_code[slices_a[0][0][0]:slices_a[0][1][-1]]
        'x * 2 + 1'
        >>> [s.tolist() for s in slices_b]  # nothing in b's first cell; characters 4 to 13 of its second
        [[[], []], [[4], [13]]]
    """
    from copydetect import compare_files

    slices_a = [[] for _ in doc_a.cells]
    slices_b = [[] for _ in doc_b.cells]
    for i, (_, fa) in enumerate(doc_a.cells):
        for j, (_, fb) in enumerate(doc_b.cells):
            if fa.hashes & fb.hashes:
                _, _, (sa, sb) = compare_files(fa, fb)
                slices_a[i].append(np.asarray(sa, dtype=np.int64).reshape(2, -1))
                slices_b[j].append(np.asarray(sb, dtype=np.int64).reshape(2, -1))
    join = lambda parts: np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), dtype=np.int64)  # noqa: E731
    return [join(p) for p in slices_a], [join(p) for p in slices_b]


def rank(sim, labels, students, threshold=DEFAULT_THRESHOLD):
    """Every comparison, most similar first: pairs of submissions and submission x key file.

    Args:
        sim (numpy.ndarray): :func:`containment` of the documents ``labels``.
        labels (list of str): the documents: the ``students`` first, then the key files.
        students (int): how many of ``labels`` are submissions.
        threshold (float): comparisons at or above it are ``flagged``.

    Returns:
        list of dict: ``rank``, ``a``, ``b``, ``kind`` ("pair" or "key"), ``similarity``, ``a_in_b``
        (fraction of a found in b), ``b_in_a`` (None for a key file), ``flagged``.

    Example:
        >>> sim = np.array([[1, .8, .1], [.6, 1, .2], [0, 0, 1]])
        >>> [(r["a"], r["b"], r["similarity"]) for r in rank(sim, ["ann", "bob", "key"], 2)]
        [('ann', 'bob', 0.8), ('bob', 'key', 0.2), ('ann', 'key', 0.1)]
    """
    entries = []
    for i in range(students):
        for j in range(i + 1, students):
            a_in_b, b_in_a = float(sim[i, j]), float(sim[j, i])
            entries.append({"a": labels[i], "b": labels[j], "kind": "pair", "similarity": max(a_in_b, b_in_a),
                            "a_in_b": a_in_b, "b_in_a": b_in_a})
        for j in range(students, len(labels)):
            entries.append({"a": labels[i], "b": labels[j], "kind": "key", "similarity": float(sim[i, j]),
                            "a_in_b": float(sim[i, j]), "b_in_a": None})
    entries.sort(key=lambda e: (-e["similarity"], e["kind"] != "pair", e["a"], e["b"]))
    for position, entry in enumerate(entries, 1):
        entry["rank"] = position
        entry["flagged"] = entry["similarity"] >= threshold
    return entries


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


def matched_mask(code, slices):
    """A boolean per character of ``code``: inside one of the ``slices`` (2 x N: starts, ends)?

    Example:
        >>> matched_mask("abcdef", np.array([[1, 4], [3, 9]])).astype(int).tolist()
        [0, 1, 1, 0, 1, 1]
    """
    mask = np.zeros(len(code), dtype=bool)
    slices = np.asarray(slices)
    if slices.ndim == 2 and slices.shape[0] == 2:
        for start, end in zip(slices[0], slices[1]):
            start, end = max(0, int(start)), min(len(code), int(end))
            if end > start:
                mask[start:end] = True
    return mask


def highlighted_html(code, slices, context=None):
    """``code`` as escaped HTML lines, the characters in ``slices`` inside ``<mark>``.

    Every piece of ``code`` goes through :func:`html.escape`; nothing of it is markup.

    Args:
        code (str): the document (hostile).
        slices (numpy.ndarray): 2 x N starts and ends of the matching parts (copydetect's slices).
        context (int): keep only the lines within this many of a match (None: every line).

    Returns:
        str: HTML for a ``<pre>``, with line numbers.

    Example:
        >>> print(highlighted_html("x = '<b>'\\ny = 2\\n", np.array([[4], [9]])))
        <span class="ln">1</span>x = <mark>&#x27;&lt;b&gt;&#x27;</mark>
        <span class="ln">2</span>y = 2
    """
    mask = matched_mask(code, slices)
    lines, start = [], 0
    for text in code.splitlines(keepends=True):
        lines.append((start, start + len(text.rstrip("\r\n"))))
        start += len(text)
    hit = [bool(mask[a:b].any()) for a, b in lines]
    if context is None:
        keep = [True] * len(lines)
    else:
        near = np.convolve(np.asarray(hit, dtype=int), np.ones(2 * context + 1, dtype=int), mode="same") if hit else []
        keep = [bool(v) for v in near]
    out, skipped = [], 0
    for number, ((a, b), kept) in enumerate(zip(lines, keep), 1):
        if not kept:
            skipped += 1
            continue
        if skipped:
            out.append(f'<span class="gap">    &#8942; {skipped} line{"s" if skipped > 1 else ""}</span>')
            skipped = 0
        pieces = []
        for marked, group in itertools.groupby(range(a, b), key=lambda c: bool(mask[c])):
            chars = list(group)
            text = html.escape(code[chars[0]: chars[-1] + 1], quote=True)
            pieces.append(f"<mark>{text}</mark>" if marked else text)
        out.append(f'<span class="ln">{number}</span>' + "".join(pieces))
    if skipped:
        out.append(f'<span class="gap">    &#8942; {skipped} line{"s" if skipped > 1 else ""}</span>')
    return "\n".join(out)


def document_html(doc, slices):
    """A :class:`Document` as escaped HTML: each cell's title, then its code with ``slices`` marked.

    A long document (a key file) is shown around its matches only (``CONTEXT_LINES``).

    Args:
        doc (Document): the document.
        slices (list of numpy.ndarray): one 2 x N array per cell (:func:`matching_slices`).

    Returns:
        str: HTML for a ``<pre>``.

    Example:
        >>> doc = document("a", "submission", [("cell f", "x = '<i>'\\n")], k=5)
        >>> print(document_html(doc, [np.array([[0], [3]])]))
        <span class="cell">cell f</span>
        <span class="ln">1</span><mark>x =</mark> &#x27;&lt;i&gt;&#x27;
    """
    long = sum(fp.raw_code.count("\n") for _, fp in doc.cells) > LONG_DOCUMENT_LINES
    parts = []
    for (title, fp), cell_slices in zip(doc.cells, slices):
        parts.append(f'<span class="cell">{html.escape(title, quote=True)}</span>')
        if fp.raw_code:
            parts.append(highlighted_html(fp.raw_code, cell_slices, CONTEXT_LINES if long else None))
    return "\n".join(parts)


def percent(value):
    """A fraction as a percentage for the report ("—" for None).

    Example:
        >>> percent(0.4567), percent(None)
        ('45.7 %', '—')
    """
    return "—" if value is None else f"{100 * value:.1f} %"


def terminal_text(text):
    """``text`` with the characters a terminal would act on (escape sequences, newlines) as "?".

    Example:
        >>> terminal_text("ann\\x1b[2J")
        'ann?[2J'
    """
    return "".join(ch if ch.isprintable() else "?" for ch in text)


CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #fde2e2; }
.pair { display: flex; gap: 1em; }
.side { flex: 1; min-width: 0; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
mark { background: #ffd54f; }
.ln { display: inline-block; width: 3.5em; color: #999; user-select: none; }
.gap { color: #999; }
.flag { color: #b00020; font-weight: bold; }
.cell { display: block; color: #555; font-style: italic; border-top: 1px solid #ddd; margin-top: 0.3em; }
"""


def render_report(result, details):
    """The HTML page of a :func:`similarity_report` result (every student text escaped).

    Args:
        result (dict): as :func:`similarity_report` returns it (before ``out`` is written).
        details (list of dict): the ranked entries shown side by side, each with ``html_a`` and
            ``html_b`` (already escaped by :func:`document_html`).

    Returns:
        str: a complete HTML document, with no script and a CSP that forbids any.
    """
    e = html.escape
    ranking = result["ranking"]
    flagged = [r for r in ranking if r["flagged"]]
    shown = ranking[: max(TABLE_ROWS, len(flagged), len(details))]
    detailed = {d["rank"] for d in details}
    rows = []
    for r in shown:
        link = f'<a href="#match-{r["rank"]}">{r["rank"]}</a>' if r["rank"] in detailed else str(r["rank"])
        mark = '<span class="flag">above threshold</span>' if r["flagged"] else ""
        rows.append(f'<tr class="{"flagged" if r["flagged"] else ""}"><td class="num">{link}</td>'
                    f'<td class="num">{percent(r["similarity"])}</td><td>{e(r["a"])}</td><td>{e(r["b"])}</td>'
                    f'<td class="num">{percent(r["a_in_b"])}</td><td class="num">{percent(r["b_in_a"])}</td>'
                    f"<td>{mark}</td></tr>")
    sections = []
    for d in details:
        sections.append(
            f'<section id="match-{d["rank"]}"><h3>#{d["rank"]}: {e(d["a"])} and {e(d["b"])}: '
            f'{percent(d["similarity"])}{" (above threshold)" if d["flagged"] else ""}</h3>'
            f'<div class="pair"><div class="side"><h4>{e(d["a"])}: {percent(d["a_in_b"])} of it matches</h4>'
            f'<pre>{d["html_a"]}</pre></div><div class="side"><h4>{e(d["b"])}'
            + (f': {percent(d["b_in_a"])} of it matches' if d["b_in_a"] is not None else "")
            + f'</h4><pre>{d["html_b"]}</pre></div></div></section>')
    refused = "".join(f"<li>{e(path)}: {e(reason)}</li>" for path, reason in result["refused"])
    keys = ", ".join(e(k[len(KEY_PREFIX):]) for k in result["keys"])
    n = len(result["students"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>Similarity: {e(result["assignment"])}</title><style>{CSS}</style></head>
<body>
<h1>Similarity report: {e(result["assignment"])}</h1>
<p>{n} submissions ({n * (n - 1) // 2} pairs), each also compared with the answer key: {keys}.
Only the solution cells are compared; the release's template code is left out (boilerplate).
Fingerprints: copydetect {e(result["copydetect"])}, k-grams of {result["k"]} characters of filtered code
(names, strings and comments do not count). A pair scores the larger of its two directions: the share
of one submission's code that is also in the other. Threshold {percent(result["threshold"])}:
{len(flagged)} comparisons at or above it.</p>
{f"<h2>Refused submissions</h2><ul>{refused}</ul>" if refused else ""}
<h2>Ranking</h2>
<table><thead><tr><th>#</th><th>similarity</th><th>submission</th><th>compared with</th>
<th>share of the first in the second</th><th>share of the second in the first</th><th></th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
<p>{len(shown)} of {len(ranking)} comparisons listed.</p>
<h2>The top {len(details)} side by side</h2>
{chr(10).join(sections)}
</body></html>
"""


def print_ranking(result, out=None, rows=None):
    """The top of the ranking as a short table (terminal-safe names) and where the report is.

    Args:
        result (dict): as :func:`similarity_report` returns it.
        out: a text stream (default: sys.stdout).
        rows (int): how many comparisons (default: the result's ``top``).

    Example:
        >>> result = {"assignment": "A", "threshold": 0.5, "top": 2, "out": "r.html", "refused": [],
        ...           "ranking": [{"rank": 1, "a": "ann", "b": "bob", "similarity": 0.9, "flagged": True},
        ...                       {"rank": 2, "a": "ann", "b": "answer key: x.py", "similarity": 0.1,
        ...                        "flagged": False}]}
        >>> print_ranking(result, sys.stdout)
           #  similarity  submission  compared with
           1      90.0 %  ann         bob               above threshold
           2      10.0 %  ann         answer key: x.py
        A: 1 comparisons at or above 50.0 %; report: r.html
    """
    out = sys.stdout if out is None else out
    top = result["ranking"][: result["top"] if rows is None else rows]
    width_a = max([len(terminal_text(r["a"])) for r in top] + [len("submission")])
    width_b = max([len(terminal_text(r["b"])) for r in top] + [len("compared with")])
    print(f"{'#':>4}  similarity  {'submission':<{width_a}}  compared with", file=out)
    for r in top:
        flag = "  above threshold" if r["flagged"] else ""
        line = (f"{r['rank']:>4}  {percent(r['similarity']):>10}  {terminal_text(r['a']):<{width_a}}  "
                f"{terminal_text(r['b']):<{width_b}}{flag}")
        print(line.rstrip(), file=out)
    flagged = sum(r["flagged"] for r in result["ranking"])
    print(f"{result['assignment']}: {flagged} comparisons at or above {percent(result['threshold'])}; "
          f"report: {result['out']}", file=out)


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def check_arguments(root, assignment, threshold, top, k):
    """ValueError/TypeError naming the bad argument of :func:`similarity_report`."""
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root: expected a course directory path, got {type(root).__name__}")
    if not os.path.isdir(os.path.join(root, "solutions")):
        raise ValueError(f"root: {root} is not a course directory (no solutions/)")
    if not isinstance(assignment, str):
        raise TypeError(f"assignment: expected a name, got {type(assignment).__name__}")
    available = sorted(d for d in os.listdir(os.path.join(root, "solutions"))
                       if os.path.isfile(os.path.join(root, "solutions", d, d + ".ipynb")))
    if assignment not in available:
        raise ValueError(f"assignment: unknown assignment {assignment!r}; available: {available}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"threshold: expected a fraction between 0 and 1, got {type(threshold).__name__}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold: expected a fraction between 0 and 1, got {threshold!r}")
    if isinstance(top, bool) or not isinstance(top, int):
        raise TypeError(f"top: expected a number of comparisons, got {type(top).__name__}")
    if top < 0:
        raise ValueError(f"top: expected a number of comparisons >= 0, got {top}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive k-gram length, got {k!r}")


def key_documents(root, assignment, grade_ids, reference_dir):
    """The answer key a student can read: ``{label: [(title, code)]}``, every reference file and the solutions.

    Args:
        root (str): the course directory.
        assignment (str): the assignment.
        grade_ids (list of str): its solution cells.
        reference_dir (str): the reference implementation (its ``*.py`` files, one document each).

    Returns:
        dict: ``{label: cells}`` (labels start with ``KEY_PREFIX``).
    """
    keys = {}
    for name in sorted(os.listdir(reference_dir)) if os.path.isdir(reference_dir) else []:
        if name.endswith(".py"):
            with open(os.path.join(reference_dir, name), encoding="utf-8") as f:
                keys[f"{KEY_PREFIX}cnnlab/reference/{name}"] = [(f"cnnlab/reference/{name}", f.read())]
    source = load_json(os.path.join(root, "solutions", assignment, assignment + ".ipynb"))
    keys[f"{KEY_PREFIX}solutions/{assignment}/{assignment}.ipynb"] = [
        (f"cell {grade_id}", code) for grade_id, code in submission_cells(source, grade_ids)]
    return keys


def similarity_report(root, assignment, out=None, threshold=DEFAULT_THRESHOLD, top=DEFAULT_TOP, k=NOISE_K,
                      reference_dir=REFERENCE_DIR, progress=True, stream=None):
    """Compare every submission of ``assignment`` with every other and with the answer key; write the report.

    Args:
        root (str): the course directory (``solutions/``, ``exercises/``, ``submitted/``).
        assignment (str): the assignment name (a folder of ``solutions/``).
        out (str): the HTML report (default ``root/similarity/<assignment>.html``).
        threshold (float): comparisons at or above this fraction are marked.
        top (int): how many comparisons are shown side by side (and printed).
        k (int): k-gram length, in characters of filtered code (copydetect's noise threshold).
        reference_dir (str): the reference implementation (default: this package's ``cnnlab/reference``).
        progress (bool): tqdm progress bars on stderr.
        stream: where the ranked table and the warnings go (default: sys.stdout; warnings: sys.stderr).

    Returns:
        dict: ``assignment``, ``out``, ``threshold``, ``top``, ``k``, ``students`` (compared),
        ``refused`` ([(path, reason)]), ``keys`` (key documents), ``ranking`` (:func:`rank`),
        ``details`` (the side-by-side entries), ``documents`` ({label: Document}),
        ``matrix`` (:func:`containment`), ``seconds``, ``copydetect`` (its version).

    Example:
        >>> similarity_report("/nonexistent", "02_convolution")
        Traceback (most recent call last):
        ...
        ValueError: root: /nonexistent is not a course directory (no solutions/)
    """
    import copydetect
    from tqdm.auto import tqdm

    start = time.perf_counter()
    check_arguments(root, assignment, threshold, top, k)
    root = os.path.abspath(root)
    warn = sys.stderr if stream is None else stream
    out = os.path.abspath(out) if out else os.path.join(root, "similarity", assignment + ".html")
    source = load_json(os.path.join(root, "solutions", assignment, assignment + ".ipynb"))
    grade_ids = [grade_id for grade_id, _ in solution_cells(source)]
    if not grade_ids:
        raise ValueError(f"assignment: solutions/{assignment}/{assignment}.ipynb has no solution code cells")
    release = os.path.join(root, "exercises", assignment, assignment + ".ipynb")
    if not os.path.isfile(release):
        raise ValueError(f"assignment: no release exercises/{assignment}/{assignment}.ipynb (its template code is "
                         "left out of the comparison): run `grade.py generate` first")
    template = [code for grade_id, code in solution_cells(load_json(release)) if grade_id in grade_ids]
    boilerplate = boilerplate_hashes(template, k)

    paths, refused = find_submissions(root, assignment)
    documents = []
    if not paths:
        for path, reason in refused:
            print(f"warning: refused {terminal_text(path)}: {reason}", file=warn)
        raise ValueError(f"submissions: no submissions of {assignment} in {os.path.join(root, 'submitted')}"
                         + (f" ({len(refused)} refused)" if refused else ""))
    bar = tqdm(total=len(paths), desc=f"similarity {assignment}: fingerprints", unit="submission",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    with bar:
        for student, path in paths.items():
            bar.update(1)
            try:
                nb = json.loads(read_plain_file(path).decode("utf-8"))
            except OSError as error:
                message = str(error)
                refused.append((path, message[len(path) + 2:] if message.startswith(path + ": ") else message))
                continue
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
                refused.append((path, f"not a notebook ({type(error).__name__})"))
                continue
            cells, budget = [], MAX_CODE_CHARS
            for grade_id, code in submission_cells(nb, grade_ids):
                if code is not None and len(code) > budget:
                    print(f"warning: {terminal_text(student)}: only the first {MAX_CODE_CHARS} characters of its "
                          "solution code are compared", file=warn)
                    code = code[:budget]
                budget -= len(code or "")
                cells.append((f"cell {grade_id}", code))
            documents.append(document(student, "submission", cells, k, boilerplate))
    for path, reason in refused:
        print(f"warning: refused {terminal_text(path)}: {reason}", file=warn)
    if not documents:
        raise ValueError(f"submissions: no submissions of {assignment} to compare in {os.path.join(root, 'submitted')}"
                         + (f" ({len(refused)} refused)" if refused else ""))
    keys = key_documents(root, assignment, grade_ids, reference_dir)
    students = len(documents)
    documents += [document(label, "key", cells, k, boilerplate) for label, cells in keys.items()]
    labels = [doc.label for doc in documents]

    bar = tqdm(total=students, desc=f"similarity {assignment}: comparisons", unit="submission",
               disable=not progress, file=sys.stderr, dynamic_ncols=True)
    with bar:
        sim = containment(documents, rows=range(students), progress=lambda: bar.update(1))
    ranking = rank(sim, labels, students, threshold)

    by_label = dict(zip(labels, documents))
    details = []
    for entry in ranking[:top]:  # the side-by-side view: copydetect's compare_files, for these only
        doc_a, doc_b = by_label[entry["a"]], by_label[entry["b"]]
        slices_a, slices_b = matching_slices(doc_a, doc_b)
        details.append(dict(entry, html_a=document_html(doc_a, slices_a), html_b=document_html(doc_b, slices_b)))
    result = {"assignment": assignment, "out": out, "threshold": threshold, "top": top, "k": k,
              "students": labels[:students], "refused": refused, "keys": labels[students:], "ranking": ranking,
              "details": details, "documents": by_label, "matrix": sim,
              "copydetect": copydetect.__version__}
    page = render_report(result, details)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        f.write(page)
    result["seconds"] = time.perf_counter() - start
    print_ranking(result, sys.stdout if stream is None else stream)
    return result
