#!/usr/bin/env python
"""The instructor's grading workflow for the cnnlab exercises, on top of nbgrader.

The repository is the nbgrader course directory (see nbgrader_config.py):

    solutions/<a>/<a>.ipynb      source notebooks: solutions, visible and hidden tests
    exercises/<a>/<a>.ipynb      the student release (committed; made by `generate`)
    submitted/<student>/<a>/     collected submissions          (git-ignored)
    autograded/, feedback/, gradebook.db                        (git-ignored)

Commands (run from anywhere; --root picks another course directory):

    python scripts/grade.py generate [A ...]            solutions -> exercises (nbgrader generate_assignment)
    python scripts/grade.py check-release [A ...]       is exercises/ what generate would write? (exit 1 if not)
    python scripts/grade.py release A --to DIR          copy exercises/A to DIR/A and DIR/A.zip for students
    python scripts/grade.py collect A --from DIR        DIR/<student>.ipynb or DIR/<student>/**/A.ipynb
                                                        -> submitted/<student>/A/A.ipynb
    python scripts/grade.py autograde A [--student S]   run the tests of every (or one) submission, print scores
                        [--jobs N] [--scheduler ADDR]   N at once (default: the cores), or on a Dask cluster
    python scripts/grade.py feedback A                  HTML feedback in feedback/<student>/A/
    python scripts/grade.py export [--to FILE]          all grades as CSV (default feedback/grades.csv)
    python scripts/grade.py scores A                    the score table of A from the gradebook
    python scripts/grade.py all A --from DIR            collect, autograde, feedback, export

A submission whose kernel dies (or that nbgrader cannot process) is reported as FAILED and counts 0;
the others are graded normally. Endless loops cost the cells that loop (see nbgrader_config.py).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from cnnlab.grading.batch import (DEFAULT_SUBMISSION_TIMEOUT, course_db_url, grade_assignment, nbgrader_command,
                                  nbgrader_environment, put_nbgrader_on_path)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDENT_ID = re.compile(r"[^A-Za-z0-9_.@-]+")

# Notebook fields that change from run to run without changing the exercise.
VOLATILE_CELL_KEYS = ("execution_count", "outputs")
VOLATILE_METADATA_KEYS = ("execution", "collapsed", "scrolled", "trusted", "ExecuteTime")


def assignments(root, names=None):
    """The assignment names to work on: the given ones (checked) or every folder in solutions/."""
    available = sorted(
        d for d in os.listdir(os.path.join(root, "solutions")) if os.path.isfile(os.path.join(root, "solutions", d, d + ".ipynb"))
    )
    if not names:
        return available
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"unknown assignment(s) {unknown}; available: {available}")
    return list(names)


def nbgrader(root, *args, check=True, quiet=False):
    """Run `nbgrader ARGS` in the course directory ``root`` (so that its nbgrader_config.py applies).

    nbgrader runs the ``alembic`` command of its own environment when it creates a gradebook, so
    the child gets this environment's bin/ first on its PATH (this process's PATH stays as it is).
    """
    if not quiet:
        print("$ nbgrader " + " ".join(args), flush=True)
    result = subprocess.run(nbgrader_command(*args), cwd=root, env=nbgrader_environment(), capture_output=quiet,
                            text=True)
    if check and result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"nbgrader {args[0]} failed (exit code {result.returncode})")
    return result


# ---------------------------------------------------------------------------------------------
# generate / check-release / release
# ---------------------------------------------------------------------------------------------


def generate(root, names, quiet=False):
    selected = assignments(root, names)
    if selected == assignments(root):  # all of them: one nbgrader call (it globs the assignment id)
        nbgrader(root, "generate_assignment", "*", "--force", quiet=quiet)
        return
    for name in selected:
        nbgrader(root, "generate_assignment", name, "--force", quiet=quiet)


def normalised_notebook(path):
    """The parts of a notebook that matter for the exercise (cells and kernel), volatile fields dropped."""
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cells = []
    for cell in nb["cells"]:
        cell = {k: v for k, v in cell.items() if k not in VOLATILE_CELL_KEYS}
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k not in VOLATILE_METADATA_KEYS}
        source = cell.get("source", "")
        cell["source"] = "".join(source) if isinstance(source, list) else source
        cells.append(cell)
    return {"cells": cells, "kernelspec": nb.get("metadata", {}).get("kernelspec"), "nbformat": nb.get("nbformat")}


def release_differences(root, names=None):
    """Regenerate the release of ``names`` in a temporary copy of the course and compare with exercises/.

    Returns a list of human-readable differences (empty: exercises/ is up to date).
    """
    problems = []
    with tempfile.TemporaryDirectory(prefix="cnnlab-release-") as tmp:
        shutil.copy(os.path.join(root, "nbgrader_config.py"), tmp)
        shutil.copytree(os.path.join(root, "solutions"), os.path.join(tmp, "solutions"))
        selected = assignments(root, names)
        generate(tmp, selected, quiet=True)
        for name in selected:
            fresh = os.path.join(tmp, "exercises", name, name + ".ipynb")
            committed = os.path.join(root, "exercises", name, name + ".ipynb")
            if not os.path.exists(committed):
                problems.append(f"{name}: exercises/{name}/{name}.ipynb is missing")
                continue
            a, b = normalised_notebook(committed), normalised_notebook(fresh)
            if a == b:
                continue
            if len(a["cells"]) != len(b["cells"]):
                problems.append(f"{name}: {len(a['cells'])} cells in exercises/, {len(b['cells'])} generated")
                continue
            for i, (ca, cb) in enumerate(zip(a["cells"], b["cells"])):
                if ca != cb:
                    keys = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
                    problems.append(f"{name}: cell {i} ({cb.get('id')}) differs in {keys}")
            if a["kernelspec"] != b["kernelspec"]:
                problems.append(f"{name}: kernelspec differs")
    return problems


def check_release(root, names):
    problems = release_differences(root, names)
    for p in problems:
        print("OUT OF DATE:", p)
    if problems:
        print("run `python scripts/grade.py generate` and commit exercises/")
        return 1
    print("exercises/ matches solutions/")
    return 0


def release(root, name, destination, check=True):
    """Copy exercises/<name> to DIR/<name>/ and pack DIR/<name>.zip (to upload to an LMS).

    With ``check`` (the default) it first makes sure exercises/ is up to date with solutions/.
    """
    problems = release_differences(root, [name]) if check else []
    if problems:
        raise SystemExit("exercises/ is out of date, run `generate` first:\n  " + "\n  ".join(problems))
    source = os.path.join(root, "exercises", name)
    target = os.path.join(destination, name)
    if os.path.exists(target):
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    archive = os.path.join(destination, name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder, _, files in os.walk(target):
            for file in sorted(files):
                path = os.path.join(folder, file)
                zf.write(path, os.path.relpath(path, destination))
    print(f"released {name}: {target} and {archive}")


# ---------------------------------------------------------------------------------------------
# collect
# ---------------------------------------------------------------------------------------------


def find_submissions(source, name):
    """{student_id: notebook path} from DIR/<student>.ipynb or DIR/<student>/**/<name>.ipynb."""
    found = {}
    for entry in sorted(os.listdir(source)):
        path = os.path.join(source, entry)
        if os.path.isfile(path) and entry.endswith(".ipynb"):
            student = entry[: -len(".ipynb")]
            if student.endswith("_" + name):  # "<student>_<assignment>.ipynb" also works
                student = student[: -len(name) - 1]
            found[student] = path
        elif os.path.isdir(path) and not entry.startswith("."):
            matches = []
            for folder, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints"]
                matches += [os.path.join(folder, f) for f in files if f == name + ".ipynb"]
            if len(matches) > 1:
                print(f"warning: {entry}: several {name}.ipynb, using {matches[0]}")
            if matches:
                found[entry] = sorted(matches)[0]
    cleaned = {}
    for student, path in found.items():
        sid = STUDENT_ID.sub("_", student).strip("_")
        if not sid:
            raise SystemExit(f"cannot make a student id from {path!r}")
        if sid in cleaned:
            raise SystemExit(f"two submissions map to the student id {sid!r}: {cleaned[sid]}, {path}")
        cleaned[sid] = path
    return cleaned


def collect(root, name, source):
    """Copy submissions into submitted/<student>/<name>/<name>.ipynb with a timestamp.txt (file time)."""
    assignments(root, [name])
    submissions = find_submissions(source, name)
    if not submissions:
        raise SystemExit(f"no submissions of {name} found in {source}")
    for student, path in sorted(submissions.items()):
        target = os.path.join(root, "submitted", student, name)
        os.makedirs(target, exist_ok=True)
        shutil.copy(path, os.path.join(target, name + ".ipynb"))
        stamp = datetime.datetime.fromtimestamp(os.path.getmtime(path), tz=datetime.timezone.utc)
        with open(os.path.join(target, "timestamp.txt"), "w") as f:
            f.write(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
    print(f"collected {len(submissions)} submissions of {name}: {', '.join(sorted(submissions))}")
    return sorted(submissions)


# ---------------------------------------------------------------------------------------------
# autograde / scores / feedback / export
# ---------------------------------------------------------------------------------------------


def submitted_students(root, name):
    base = os.path.join(root, "submitted")
    if not os.path.isdir(base):
        return []
    return sorted(s for s in os.listdir(base) if os.path.isfile(os.path.join(base, s, name, name + ".ipynb")))


def scores(root, name):
    """{student: {"auto", "auto_max", "manual_max", "cells": {grade_id: auto_score}, "failed"}} from the gradebook.

    "auto" sums the autograded (code) cells; written answers are graded by hand in formgrader.
    A submission without an autograded notebook (its kernel died, nbgrader failed) is "failed"
    and counts 0. The gradebook is the course's ``c.CourseDirectory.db_url`` (SQLite or PostgreSQL).
    """
    from nbgrader.api import Gradebook, MissingEntry

    db_url = course_db_url(root)
    put_nbgrader_on_path()  # a gradebook that does not exist yet is made with nbgrader's `alembic`
    table = {}
    with Gradebook(db_url) as gb:
        for student in submitted_students(root, name):
            graded = os.path.join(root, "autograded", student, name, name + ".ipynb")
            row = {"auto": 0.0, "auto_max": 0.0, "manual_max": 0.0, "cells": {}, "failed": not os.path.exists(graded)}
            try:
                notebook = gb.find_submission_notebook(name, name, student)
            except MissingEntry:
                row["failed"] = True
                notebook = None
            if notebook is not None:
                for grade in notebook.grades:
                    if grade.cell.cell_type == "code":
                        score = 0.0 if row["failed"] else float(grade.auto_score or 0.0)
                        row["cells"][grade.name] = score
                        row["auto"] += score
                        row["auto_max"] += float(grade.max_score)
                    else:
                        row["manual_max"] += float(grade.max_score)
            table[student] = row
    return table


def print_scores(root, name):
    table = scores(root, name)
    width = max([len(s) for s in table] + [7])
    print(f"{'student':<{width}}  autograded   written (by hand)")
    for student, row in table.items():
        status = "FAILED (kernel died or nbgrader error: counts 0, see the log)" if row["failed"] else ""
        print(f"{student:<{width}}  {row['auto']:5.1f} / {row['auto_max']:<5.1f}  {row['manual_max']:g} pts pending  {status}")
    return table


def autograde(root, name, students=None, jobs=None, scheduler=None, timeout=None):
    """Autograde every submission of ``name`` (or only ``students``), print the scores.

    ``jobs`` submissions at once on this machine (default: the number of cores), or on the Dask
    cluster at ``scheduler``; the gradebook is written by this process only (cnnlab.grading.batch).
    Returns the number of FAILED submissions.
    """
    assignments(root, [name])
    try:
        report = grade_assignment(root, name, students=students, jobs=jobs, scheduler=scheduler,
                                  timeout=timeout or DEFAULT_SUBMISSION_TIMEOUT)
    except ValueError as error:
        raise SystemExit(str(error))
    return report["failed"]


def feedback(root, name):
    nbgrader(root, "generate_feedback", name, "--force")
    print(f"feedback written to {os.path.join(root, 'feedback')}/<student>/{name}/")


def export(root, destination):
    destination = os.path.abspath(destination)
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    nbgrader(root, "export", "--to=" + destination)
    print(f"grades exported to {destination}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=REPO, help="course directory (default: the repository)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student kernels outside the bubblewrap sandbox (trusted notebooks only; warns)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("generate", help="solutions/ -> exercises/")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("check-release", help="is exercises/ up to date?")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("release", help="copy and zip an assignment for students")
    p.add_argument("assignment")
    p.add_argument("--to", required=True, help="destination folder")
    p = sub.add_parser("collect", help="copy submissions into submitted/")
    p.add_argument("assignment")
    p.add_argument("--from", dest="source", required=True, help="folder of submissions")
    p = sub.add_parser("autograde", help="run the tests of the submissions")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: the number of cores)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786): grade on that cluster")
    p.add_argument("--timeout", type=float, default=None, help="seconds one submission may take in all (default 1800)")
    p = sub.add_parser("feedback", help="HTML feedback for students")
    p.add_argument("assignment")
    p = sub.add_parser("export", help="grades as CSV")
    p.add_argument("--to", default=None, help="CSV file (default: feedback/grades.csv)")
    p = sub.add_parser("scores", help="score table of an assignment")
    p.add_argument("assignment")
    p = sub.add_parser("all", help="collect, autograde, feedback and export")
    p.add_argument("assignment")
    p.add_argument("--from", dest="source", required=True)
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    if args.no_sandbox:  # read by nbgrader_config.py's SandboxedExecute in every nbgrader process
        os.environ["CNNLAB_NO_SANDBOX"] = "1"
        print("WARNING: --no-sandbox: student code will run unprotected, with your rights", file=sys.stderr)

    if args.command == "generate":
        generate(root, args.assignments)
    elif args.command == "check-release":
        return check_release(root, args.assignments)
    elif args.command == "release":
        release(root, args.assignment, args.to)
    elif args.command == "collect":
        collect(root, args.assignment, args.source)
    elif args.command == "autograde":
        return 1 if autograde(root, args.assignment, args.student, args.jobs, args.scheduler, args.timeout) else 0
    elif args.command == "feedback":
        feedback(root, args.assignment)
    elif args.command == "export":
        export(root, args.to or os.path.join(root, "feedback", "grades.csv"))
    elif args.command == "scores":
        print_scores(root, args.assignment)
    elif args.command == "all":
        collect(root, args.assignment, args.source)
        failed = autograde(root, args.assignment)
        feedback(root, args.assignment)
        export(root, os.path.join(root, "feedback", "grades.csv"))
        return 1 if failed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
