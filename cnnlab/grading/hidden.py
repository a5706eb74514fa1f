"""The hidden tests' seeds: drawn at grading time, on the trusted side, from a secret.

The course is open: its answer key (``cnnlab.reference``) ships with it and the instructor's test
cells are printed in every autograded notebook. A hidden test with a fixed seed is therefore no
test at all: a student can compute the answers for that seed at home and submit a table of them.
So a hidden test cell asks for ``grading.hidden_seed(k)`` (or ``grading.hidden_rng(k)``), and
while grading the seed of each ``k`` is

    HMAC-SHA256(secret, assignment, notebook, student, digest of the submission, test cell, k)

cut to 31 bits. The secret never enters the sandbox, so nobody can compute a seed in advance.
The seed depends on the submission's sources, so a regrade of the same submission draws the same
seeds and reproduces its verdict, while any change to it draws new ones: what a submission learns
about its own inputs is of no use to the next. The drawn seeds are kept beside the grade, on the
trusted side only (:func:`save_hidden_seeds`), and handed into the sandbox one cell at a time.

Trusted side only: never copied into the sandbox.
"""

import ast
import hashlib
import hmac
import json
import os
import secrets
import warnings

__all__ = ["SECRET_VARIABLE", "hidden_case_sets", "grading_secret", "submission_digest", "draw_hidden_seeds",
           "save_hidden_seeds"]

SECRET_VARIABLE = "CNNLAB_GRADING_SECRET"
SEED_BITS = 31


def hidden_case_sets(source):
    """The labels ``k`` of every ``grading.hidden_seed(k)`` and ``grading.hidden_rng(k)`` in a test cell.

    Args:
        source (str): the instructor's test cell.

    Returns:
        list of int: sorted, without repeats.

    Example:
        >>> hidden_case_sets("grading.check(f, g, grading.conv_cases(seed=grading.hidden_seed(23)))\\n"
        ...                  "rng = grading.hidden_rng(28)")
        [23, 28]
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("hidden_seed", "hidden_rng") and len(node.args) == 1 \
                and isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int:
            found.add(node.args[0].value)
    return sorted(found)


def grading_secret(path=""):
    """The grader's secret key (bytes): ``$CNNLAB_GRADING_SECRET``, or the file ``path``, made once.

    The file is created with 32 random bytes (mode 0600) the first time a course is graded, so a
    regrade on the same machine draws the same seeds. It lives in the course directory, outside
    everything the sandbox can see, and is never committed (``.gitignore``).

    Args:
        path (str): the secret's file; "" with no variable set: a secret for this process only
            (a warning says that a regrade will draw other seeds).

    Example:
        >>> os.environ[SECRET_VARIABLE] = "course secret"
        >>> grading_secret()
        b'course secret'
        >>> del os.environ[SECRET_VARIABLE]
    """
    value = os.environ.get(SECRET_VARIABLE, "")
    if value:
        return value.encode()
    if not path:
        warnings.warn(f"no grading secret (${SECRET_VARIABLE} or a secret file): the hidden seeds are drawn "
                      "for this run only, and a regrade will draw others", stacklevel=2)
        return secrets.token_bytes(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as f:
            f.write(secrets.token_hex(32))
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor) as f:
        value = f.read().strip()
    if len(value) < 32:
        raise ValueError(f"the grading secret in {path} is too short ({len(value)} characters; at least 32)")
    return value.encode()


def submission_digest(nb):
    """SHA-256 of a submission's cells: their types and sources, in order (outputs do not count).

    Example:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def f(): pass")])
        >>> again = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def f(): pass")])
        >>> again.cells[0].outputs = [nbformat.v4.new_output("stream", text="printed")]
        >>> submission_digest(nb) == submission_digest(again)
        True
    """
    cells = [[cell.get("cell_type", ""), cell.get("source", "")] for cell in nb.get("cells", [])]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=True).encode()).hexdigest()


def draw_hidden_seeds(secret, identity, digest, test_sources):
    """The seeds of every hidden case set of a submission: {grade_id: {k: seed}}.

    Args:
        secret (bytes): :func:`grading_secret`.
        identity (tuple of str): (assignment, notebook, student).
        digest (str): :func:`submission_digest` of the submission.
        test_sources (dict): {grade_id: source} of the test cells, from the gradebook.

    Returns:
        dict: only the cells that ask for a hidden seed; every seed is in [0, 2**31).

    Example:
        >>> sources = {"test_conv_hidden": "grading.conv_cases(seed=grading.hidden_seed(23))", "test_conv": "x"}
        >>> seeds = draw_hidden_seeds(b"secret", ("02", "02", "alice"), "digest", sources)
        >>> list(seeds), list(seeds["test_conv_hidden"])
        (['test_conv_hidden'], [23])
        >>> seeds == draw_hidden_seeds(b"secret", ("02", "02", "alice"), "digest", sources)
        True
        >>> seeds == draw_hidden_seeds(b"secret", ("02", "02", "alice"), "another digest", sources)
        False
    """
    drawn = {}
    for grade_id, source in test_sources.items():
        labels = hidden_case_sets(source)
        if not labels:
            continue
        drawn[grade_id] = {}
        for k in labels:
            message = "\0".join([*identity, digest, grade_id, str(k)]).encode()
            value = int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "big")
            drawn[grade_id][k] = value >> (64 - SEED_BITS)
    return drawn


def save_hidden_seeds(directory, identity, digest, seeds):
    """Keep the drawn seeds beside the grade (trusted side): ``directory/assignment/student/notebook.json``.

    Args:
        directory (str): the course's folder of drawn seeds ("" keeps nothing).
        identity (tuple of str): (assignment, notebook, student).
        digest (str): the submission's digest the seeds were drawn for.
        seeds (dict): :func:`draw_hidden_seeds`.

    Returns:
        str: the file written ("" when nothing was kept).
    """
    if not directory:
        return ""
    assignment, notebook, student = (str(part) for part in identity)
    for part in (assignment, notebook, student):
        if not part or part in (".", "..") or os.sep in part or "\0" in part:
            raise ValueError(f"identity should be three plain names, got {identity!r}")
    folder = os.path.join(directory, assignment, student)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    path = os.path.join(folder, notebook + ".json")
    record = {"assignment": assignment, "notebook": notebook, "student": student, "submission_sha256": digest,
              "seeds": {gid: {str(k): v for k, v in cell.items()} for gid, cell in seeds.items()}}
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path
