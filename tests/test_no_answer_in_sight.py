"""No text a learner can see holds an answer: not a docstring or message of ``cnnlab.grading`` (what
``help(grading.check_dropout)`` prints, what a failed check says), not a cell of the release.

Each solution block (``### BEGIN SOLUTION`` ... ``### END SOLUTION``) of ``solutions/`` is cut into
its lines (comments and whitespace left out, only lines of 12 characters or more); a text that holds
two lines of one block shows that block's solution.
"""

import ast
import glob
import json
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIN_CHARS = 12  # shorter lines (`return out`, `else:`) occur in any code


def normalised(line):
    line = re.sub(r"#.*$", "", line).strip()
    line = re.sub(r"^(>>>|\.\.\.)\s?", "", line).strip()  # doctest prompts
    return re.sub(r"\s+", "", line)


def solution_blocks():
    """[(assignment, grade_id, {normalised line})] of every solution block of the source notebooks."""
    blocks = []
    for path in sorted(glob.glob(os.path.join(REPO, "solutions", "*", "*.ipynb"))):
        for cell in json.load(open(path, encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.S):
                lines = {normalised(line) for line in block.splitlines() if len(normalised(line)) >= MIN_CHARS}
                if lines:
                    blocks.append((os.path.basename(path), cell["metadata"]["nbgrader"]["grade_id"], lines))
    return blocks


def grading_texts():
    """[(where, text)]: every string constant of cnnlab/grading (docstrings, messages, f-string parts)."""
    texts = []
    for path in sorted(glob.glob(os.path.join(REPO, "cnnlab", "grading", "*.py"))):
        tree = ast.parse(open(path, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append((f"{os.path.relpath(path, REPO)}:{node.lineno}", node.value))
    return texts


def release_texts():
    texts = []
    for path in sorted(glob.glob(os.path.join(REPO, "exercises", "*", "*.ipynb"))):
        for i, cell in enumerate(json.load(open(path, encoding="utf-8"))["cells"]):
            texts.append((f"{os.path.relpath(path, REPO)} cell {i}", "".join(cell["source"])))
    return texts


def answers_shown(texts):
    blocks = solution_blocks()
    found = []
    for where, text in texts:
        lines = {normalised(line) for line in text.splitlines()}
        for assignment, grade_id, solution in blocks:
            common = solution & lines
            if len(common) >= 2:
                found.append(f"{where} shows {len(common)} lines of {assignment}'s {grade_id}: {sorted(common)}")
    return found


def test_the_scan_finds_a_pasted_solution():
    assignment, grade_id, lines = max(solution_blocks(), key=lambda block: len(block[2]))
    assert len(lines) >= 2
    pasted = "Example:\n" + "\n".join(f"    >>> {line}" for line in sorted(lines)[:2])
    assert answers_shown([("a docstring", pasted)]) and not answers_shown([("a docstring", "Example:\n    >>> f(x)")])


def test_no_docstring_or_message_of_cnnlab_grading_shows_an_answer():
    assert answers_shown(grading_texts()) == []


def test_no_cell_of_the_release_shows_an_answer():
    assert answers_shown(release_texts()) == []
