"""How long does nbgrader take to autograde one submission of each assignment?

    .venv/bin/python benchmarks/bench_autograde.py                 # 3 copies each, all but 07
    .venv/bin/python benchmarks/bench_autograde.py --copies 5 --include-07

Builds a temporary course (nothing is written to the repository), submits ``--copies`` copies of
each solution notebook as different students, and times one ``nbgrader autograde <assignment>``
call per assignment (the way scripts/grade.py grades a class: one call, many students). Reports
seconds per submission, nbgrader's start-up included, and checks every copy got full marks.
Target: at most 10 s per submission on average on 2 cores, leaving out 07 (which trains a CNN).
"""

import argparse
import importlib.util
import os
import platform
import shutil
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_SECONDS = 10.0


def load_grade_script():
    spec = importlib.util.spec_from_file_location("cnnlab_grade_script", os.path.join(REPO, "scripts", "grade.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3, help="submissions per assignment (default 3)")
    parser.add_argument("--include-07", action="store_true", help="also time 07_train_cnn (trains a CNN)")
    parser.add_argument("--assignments", nargs="*", help="only these assignments")
    args = parser.parse_args(argv)

    grade = load_grade_script()
    names = grade.assignments(REPO, args.assignments)
    if not args.include_07 and not args.assignments:
        names = [n for n in names if n != "07_train_cnn"]

    with tempfile.TemporaryDirectory(prefix="cnnlab-bench-") as root:
        shutil.copy(os.path.join(REPO, "nbgrader_config.py"), root)
        shutil.copytree(os.path.join(REPO, "solutions"), os.path.join(root, "solutions"))
        start = time.perf_counter()
        grade.generate(root, None, quiet=True)
        print(f"generate_assignment (all, one call): {time.perf_counter() - start:.1f} s")
        for name in names:
            for i in range(args.copies):
                target = os.path.join(root, "submitted", f"student{i + 1:02d}", name)
                os.makedirs(target)
                shutil.copy(os.path.join(root, "solutions", name, name + ".ipynb"), target)

        print(f"cores: {os.cpu_count()}, python {platform.python_version()}, {args.copies} submissions per assignment")
        print(f"{'assignment':<26} {'total s':>8} {'s/submission':>13}  full marks")
        per_submission = {}
        for name in names:
            start = time.perf_counter()
            grade.nbgrader(root, "autograde", name, "--force", check=False, quiet=True)
            elapsed = time.perf_counter() - start
            table = grade.scores(root, name)
            full = sum(1 for row in table.values() if not row["failed"] and row["auto"] == row["auto_max"])
            per_submission[name] = elapsed / args.copies
            print(f"{name:<26} {elapsed:8.1f} {per_submission[name]:13.2f}  {full}/{len(table)}", flush=True)

    counted = [v for n, v in per_submission.items() if n != "07_train_cnn"]
    if counted:
        mean = sum(counted) / len(counted)
        verdict = "OK" if mean <= TARGET_SECONDS else "TOO SLOW"
        print(f"mean s/submission without 07: {mean:.2f} (target <= {TARGET_SECONDS:g}): {verdict}")


if __name__ == "__main__":
    main()
