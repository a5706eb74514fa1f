"""How long does nbgrader take to autograde one submission of each assignment?

    .venv/bin/python benchmarks/bench_autograde.py                 # 3 copies each, all but 07
    .venv/bin/python benchmarks/bench_autograde.py --copies 5 --include-07
    .venv/bin/python benchmarks/bench_autograde.py --jobs 1,2 --copies 12   # parallel grading: rate per --jobs
    .venv/bin/python benchmarks/bench_autograde.py --fresh-class            # a small class from an empty gradebook

Builds a temporary course (nothing is written to the repository), submits ``--copies`` copies of
each solution notebook as different students, and times one ``nbgrader autograde <assignment>``
call per assignment (the way scripts/grade.py grades a class: one call, many students). Reports
seconds per submission, nbgrader's start-up included, and checks every copy got full marks.
Target: at most 10 s per submission on average on 2 cores, leaving out 07 (which trains a CNN).

Each assignment is graded twice, the same batch: in the sandbox (the default) and with
``CNNLAB_NO_SANDBOX=1`` (kernel outside bubblewrap, same trusted verdict); the difference per
submission is the overhead of the sandbox.
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


def copy_course(root, names):
    """The course's config and the source and release of ``names`` in the empty folder ``root``."""
    shutil.copy(os.path.join(REPO, "nbgrader_config.py"), root)
    for folder in ("solutions", "exercises"):
        for name in names:
            shutil.copytree(os.path.join(REPO, folder, name), os.path.join(root, folder, name))


def autograde_seconds(grade, root, name, sandbox):
    """Seconds of one `nbgrader autograde name` call, in the sandbox or not."""
    previous = os.environ.pop("CNNLAB_NO_SANDBOX", None)
    if not sandbox:
        os.environ["CNNLAB_NO_SANDBOX"] = "1"
    try:
        start = time.perf_counter()
        grade.nbgrader(root, "autograde", name, "--force", check=False, quiet=True)
        return time.perf_counter() - start
    finally:
        os.environ.pop("CNNLAB_NO_SANDBOX", None)
        if previous is not None:
            os.environ["CNNLAB_NO_SANDBOX"] = previous


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=3, help="submissions per assignment (default 3)")
    parser.add_argument("--include-07", action="store_true", help="also time 07_train_cnn (trains a CNN)")
    parser.add_argument("--assignments", nargs="*", help="only these assignments")
    parser.add_argument("--jobs", help="compare parallel grading with these job counts instead, e.g. 1,2 (see bench_jobs)")
    parser.add_argument("--fresh-class", action="store_true",
                        help="10 submissions of 02 (4 full, 3 partial, 2 blank, 1 crash), each --jobs (default 1,2) "
                             "from an empty gradebook: the set-up is part of the wall time")
    args = parser.parse_args(argv)
    if args.fresh_class:
        return bench_fresh_class([int(j) for j in (args.jobs or "1,2").split(",")])
    if args.jobs:
        return bench_jobs([int(j) for j in args.jobs.split(",")], args.assignments or ["01_image_data"], args.copies)

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
        print(f"{'assignment':<26} {'s/sub sandbox':>14} {'s/sub without':>14} {'overhead':>9}  full marks")
        per_submission = {}
        for name in names:
            unsandboxed = autograde_seconds(grade, root, name, sandbox=False) / args.copies
            sandboxed = autograde_seconds(grade, root, name, sandbox=True) / args.copies
            table = grade.scores(root, name)
            full = sum(1 for row in table.values() if not row["failed"] and row["auto"] == row["auto_max"])
            per_submission[name] = sandboxed
            print(f"{name:<26} {sandboxed:14.2f} {unsandboxed:14.2f} {sandboxed - unsandboxed:+9.2f}  "
                  f"{full}/{len(table)}", flush=True)

    counted = [v for n, v in per_submission.items() if n != "07_train_cnn"]
    if counted:
        mean = sum(counted) / len(counted)
        verdict = "OK" if mean <= TARGET_SECONDS else "TOO SLOW"
        print(f"mean s/submission without 07: {mean:.2f} (target <= {TARGET_SECONDS:g}): {verdict}")


def bench_jobs(job_counts, names, copies, class_size=2400):
    """Submissions per minute of `grade.py autograde --jobs N` for each N, on the same batch.

    ``copies`` copies of each solution of ``names`` are graded end to end by
    cnnlab.grading.batch.grade_assignment (gradebook set-up included) in a fresh temporary course
    for each N. Prints the rate, the speed-up over the first N and the wall time that the measured
    rate per job projects for ``class_size`` submissions on 2 and 16 cores (arithmetic: it assumes
    one job per core and that the rate per job stays as measured; the load of other processes on
    the machine lowers the measured rate).
    """
    from cnnlab.grading.batch import grade_assignment

    rates = {}
    print(f"cores: {os.cpu_count()}, python {platform.python_version()}, {copies} submissions of each of {names}; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print(f"{'jobs':>4} {'submissions':>11} {'wall s':>8} {'per minute':>11} {'speed-up':>9}  full marks")
    for jobs in job_counts:
        with tempfile.TemporaryDirectory(prefix="cnnlab-bench-jobs-") as root:
            copy_course(root, names)
            for name in names:
                for i in range(copies):
                    target = os.path.join(root, "submitted", f"student{i + 1:02d}", name)
                    os.makedirs(target)
                    shutil.copy(os.path.join(REPO, "solutions", name, name + ".ipynb"), target)
            start = time.perf_counter()
            full = 0
            with open(os.devnull, "w") as quiet:
                for name in names:
                    report = grade_assignment(root, name, jobs=jobs, progress=False, out=quiet)
                    full += sum(1 for row in report["table"].values() if row["auto"] == row["auto_max"] > 0)
            wall = time.perf_counter() - start
        n = copies * len(names)
        rates[jobs] = 60.0 * n / wall
        speedup = rates[jobs] / rates[job_counts[0]]
        print(f"{jobs:>4} {n:>11} {wall:8.1f} {rates[jobs]:11.2f} {speedup:8.2f}x  {full}/{n}", flush=True)
    best = max(job_counts)
    per_job = rates[best] / best
    print(f"measured rate per job at --jobs {best}: {per_job:.2f} submissions per minute (wall, on this machine's load)")
    for cores in (2, 16):
        minutes = class_size / (per_job * cores)
        print(f"projection from that rate (arithmetic: one job per core, rate per job as measured): {class_size} "
              f"submissions on {cores} cores -> {minutes:.0f} min ({minutes / 60:.1f} h)")
    return rates


def fresh_class_notebooks():
    """{student: notebook} of a small class of 02_convolution: 4 full, 3 partial, 2 blank, 1 crash."""
    import copy

    import nbformat

    name = "02_convolution"
    solved = nbformat.read(os.path.join(REPO, "solutions", name, name + ".ipynb"), as_version=4)
    release = nbformat.read(os.path.join(REPO, "exercises", name, name + ".ipynb"), as_version=4)
    corr2d = next(c.source for c in solved.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "corr2d")
    partial = copy.deepcopy(release)
    for cell in partial.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "corr2d":
            cell.source = corr2d
    crash = copy.deepcopy(solved)
    crash.cells.insert(3, nbformat.v4.new_code_cell("import os\nos._exit(1)\n"))
    notebooks = {f"full{i}": solved for i in range(1, 5)}
    notebooks.update({f"partial{i}": partial for i in range(1, 4)})
    notebooks.update({f"blank{i}": release for i in range(1, 3)})
    notebooks["crash"] = crash
    return notebooks


def bench_fresh_class(job_counts):
    """Wall time of `grade.py autograde 02_convolution --jobs N` on a small class, from an empty gradebook.

    Each N grades the same 10 submissions in a fresh temporary course, so the set-up (registering the
    assignment in the gradebook, the template gradebook, the workers' start) counts, as on an
    instructor's first run.
    """
    import nbformat

    from cnnlab.grading.batch import grade_assignment

    name = "02_convolution"
    notebooks = fresh_class_notebooks()
    walls = {}
    print(f"cores: {os.cpu_count()}, python {platform.python_version()}, {len(notebooks)} submissions of {name} "
          f"(4 full, 3 partial, 2 blank, 1 crash), empty gradebook; load average at start {os.getloadavg()[0]:.1f}")
    print(f"{'jobs':>4} {'wall s':>8} {'speed-up':>9}  scores")
    for jobs in job_counts:
        with tempfile.TemporaryDirectory(prefix="cnnlab-bench-fresh-") as root:
            copy_course(root, [name])
            for student, nb in notebooks.items():
                os.makedirs(os.path.join(root, "submitted", student, name))
                nbformat.write(nb, os.path.join(root, "submitted", student, name, name + ".ipynb"))
            start = time.perf_counter()
            with open(os.devnull, "w") as quiet:
                report = grade_assignment(root, name, jobs=jobs, progress=False, out=quiet)
            walls[jobs] = time.perf_counter() - start
        scores = " ".join(f"{s}={row['auto']:g}" for s, row in sorted(report["table"].items()))
        print(f"{jobs:>4} {walls[jobs]:8.1f} {walls[job_counts[0]] / walls[jobs]:8.2f}x  {scores}", flush=True)
    return walls


if __name__ == "__main__":
    main()
