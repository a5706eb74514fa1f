"""How long does `grade.py similarity` take for a whole class of one assignment?

    .venv/bin/python benchmarks/bench_similarity.py              # 300 submissions of 02_convolution
    .venv/bin/python benchmarks/bench_similarity.py --students 1000

Builds a temporary course (nothing is written to the repository), forges ``--students``
submissions of 02_convolution and times one ``python scripts/grade.py similarity`` run on them,
start-up (imports) included, as an instructor runs it. Target: under 2 minutes for 300
submissions (44,850 pairs, and each submission against the answer key) on 2 cores.

The submissions are made from the hand-written implementations of tests/test_similarity.py: each
student takes the corr2d of one honest style and the conv2d of another, renames the helper
functions, and puts statements of their own between about half of the lines (other numbers for
every student, so that two students of one style share only their longer lines) and a few lines
at the end. One student copies another with other names and one
pastes cnnlab/reference; the benchmark reports where those two rank.
"""

import argparse
import ast
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))

from course_copy import copy_course, read_nb, set_source, write_nb  # noqa: E402
from test_similarity import COPIED, COPIER, HONEST, PASTER, honest_sources  # noqa: E402

NAME = "02_convolution"
TARGET_SECONDS = 120.0


def own_lines(rng, student):
    """A few lines that differ from student to student (different numbers: different k-grams)."""
    a, b, c = rng.randint(2, 999), rng.randint(2, 999), rng.randint(2, 99)
    kind = rng.randrange(3)
    if kind == 0:
        return f"\n\ndef check_{student}(arr):\n    assert arr.ndim >= {c % 3 + 2}, 'expected at least {c} dims'\n" \
               f"    return arr * {a} / {a}\n"
    if kind == 1:
        return f"\n\nTOLERANCE_{student} = {a}e-{c % 9 + 1}\nLIMIT_{student} = ({b}, {a + b})\n"
    return f"\n\ndef scale_{student}(v, factor={a}.{b}):\n    if factor <= {c}:\n        return v\n" \
           f"    return v * factor - {b} + {c}\n"


def interleave(rng, code, student, share=0.5):
    """``code`` with statements of the student's own (distinct numbers) put between about ``share`` of its
    lines, where the result still parses: honest students who picked the same style now differ too."""
    lines = code.split("\n")
    out = []
    for n, line in enumerate(lines):
        if line.strip() and rng.random() < share:
            indent = line[: len(line) - len(line.lstrip())]
            extra = f"{indent}_{student}_{n} = {rng.randint(2, 10**6)} % {rng.randint(2, 999)}"
            try:
                ast.parse("\n".join(out + [extra] + lines[n:]))
                out.append(extra)
            except SyntaxError:
                pass
        out.append(line)
    return "\n".join(out)


def forge_class(root, students, seed=0):
    """``students`` submissions in ``root/submitted``: mixed honest styles, one copy, one paste."""
    rng = random.Random(seed)
    release = read_nb(os.path.join(root, "exercises", NAME, NAME + ".ipynb"))
    sources = honest_sources(release)
    honest = [sources[s] for s in HONEST]
    planted = {"s0000": sources[COPIED], "s0001": sources[COPIER], "s0002": sources[PASTER]}
    for i in range(students):
        student = f"s{i:04d}"
        if student in planted:
            cells = planted[student]
        else:
            first, second = rng.choice(honest), rng.choice(honest)
            suffix = f"_{i}"
            cells = {"corr2d": interleave(rng, first["corr2d"], student) + own_lines(rng, student),
                     "conv2d": interleave(rng, second["conv2d"], student) + own_lines(rng, student + "b")}
            for helper in ("valid_size", "shifted_products"):  # a helper only the other style defines
                cells = {gid: re.sub(rf"\b{helper}\b", helper + suffix, code) for gid, code in cells.items()}
            if "valid_size" in cells["conv2d"] and "def valid_size" not in cells["conv2d"] + cells["corr2d"]:
                cells["conv2d"] += f"\n\ndef valid_size{suffix}(n, size):\n    return n - size + 1\n"
        nb = json.loads(json.dumps(release))
        for gid, code in cells.items():
            set_source(nb, gid, code)
        write_nb(nb, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=300, help="submissions to forge (default 300)")
    parser.add_argument("--top", type=int, default=10, help="comparisons shown side by side (default 10)")
    args = parser.parse_args(argv)
    if args.students < 3:
        raise SystemExit("--students: at least 3 (the copied pair and the pasted submission are planted)")
    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-similarity-") as tmp:
        root = copy_course(os.path.join(tmp, "course"), [NAME])
        start = time.perf_counter()
        forge_class(root, args.students)
        print(f"forged {args.students} submissions of {NAME} in {time.perf_counter() - start:.1f} s")
        out = os.path.join(tmp, "report.html")
        command = [sys.executable, os.path.join(REPO, "scripts", "grade.py"), "--root", root, "similarity", NAME,
                   "--out", out, "--top", str(args.top)]
        start = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        sys.stdout.write(run.stdout)
        if run.returncode != 0:
            sys.stderr.write(run.stderr)
            raise SystemExit(f"grade.py similarity failed (exit code {run.returncode})")
        pairs = args.students * (args.students - 1) // 2
        ranked = [line.split() for line in run.stdout.splitlines() if re.match(r"\s+\d+\s", line)]
        where = {(row[3], row[4]): int(row[0]) for row in ranked if len(row) > 4}
        copied = where.get(("s0000", "s0001"))
        pasted = next((rank for (a, b), rank in where.items() if a == "s0002" and b == "answer"), None)
        print(f"cores: {os.cpu_count()}, {args.students} submissions, {pairs} pairs, report "
              f"{os.path.getsize(out) / 1e6:.1f} MB")
        print(f"planted copy ranked {copied}, planted paste ranked {pasted} (of the top {args.top} printed)")
        verdict = "OK" if seconds < TARGET_SECONDS else "TOO SLOW"
        print(f"grade.py similarity: {seconds:.1f} s wall (target {TARGET_SECONDS:.0f} s): {verdict}")
        return 0 if seconds < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
