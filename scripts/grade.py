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
    python scripts/grade.py collect A --from DIR        DIR/<student>.ipynb or DIR/<student>/**/A.ipynb (DIR or DIR.zip;
                                                        plain files only: links and special files are refused)
                                                        -> submitted/<student>/A/A.ipynb
    python scripts/grade.py autograde A [--student S]   run the tests of every (or one) submission, print scores
                        [--jobs N] [--scheduler ADDR]   N at once (default: the cores), or on a Dask cluster
    python scripts/grade.py feedback A                  HTML feedback in feedback/<student>/A/
    python scripts/grade.py export [--to FILE]          all grades as CSV (default feedback/grades.csv)
    python scripts/grade.py scores A                    the score table of A from the gradebook
    python scripts/grade.py all A --from DIR            collect, autograde, feedback, export
    python scripts/grade.py similarity A [--out FILE]   copy detection (copydetect, as MOSS): every pair of submissions,
                        [--threshold T] [--top K]       and each against the answer key -> similarity/A.html

A submission whose kernel dies (or that nbgrader cannot process) is reported as FAILED and counts 0;
the others are graded normally. Endless loops cost the cells that loop (see nbgrader_config.py).
"""

import argparse
import datetime
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile

from cnnlab.grading.batch import (DEFAULT_SUBMISSION_TIMEOUT, course_db_url, grade_assignment, nbgrader_command,
                                  nbgrader_environment, put_nbgrader_on_path)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDENT_ID = re.compile(r"[^A-Za-z0-9_.@-]+")  # characters replaced by "_" in a download's name
STUDENT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")  # a valid id: starts with a letter or digit
MAX_NOTEBOOK_BYTES = 64 * 2**20  # one submitted notebook
MAX_ARCHIVE_BYTES = 4 * 2**30  # everything unpacked from one archive
MAX_ARCHIVE_MEMBERS = 100_000

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


def regular_file(path):
    """Why ``path`` may not be collected, or "" when it is a plain file: not a symlink, a hard link, a FIFO, ...

    Args:
        path (str): a file in the downloaded submissions.

    Returns:
        str: "" for a regular file with one link, otherwise the reason it is refused.

    Example:
        >>> regular_file("/dev/null")
        'not a regular file'
    """
    try:
        info = os.lstat(path)
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink != 1:
        return f"a hard link ({info.st_nlink} names)"
    if info.st_size > MAX_NOTEBOOK_BYTES:
        return f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB"
    return ""


def read_regular_file(path):
    """(bytes, mtime) of ``path``, opened without following a link; OSError if it is not a plain file (any more).

    The checks of :func:`regular_file` are made again on the open descriptor, so a file swapped for
    a symlink or a FIFO between the listing and the copy is refused, not followed.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size > MAX_NOTEBOOK_BYTES:
            raise OSError(f"{path}: not a plain file with one link of at most {MAX_NOTEBOOK_BYTES} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
        if len(data) > MAX_NOTEBOOK_BYTES:
            raise OSError(f"{path}: larger than {MAX_NOTEBOOK_BYTES} bytes")
        return data, info.st_mtime
    finally:
        os.close(fd)


def student_id(text):
    """The student id made from a download's name, or None: strict ``STUDENT_ID_PATTERN`` (no "..", no "/").

    Example:
        >>> student_id("alice.smith@uni"), student_id("bob jones"), student_id(".."), student_id("...")
        ('alice.smith@uni', 'bob_jones', None, None)
    """
    sid = STUDENT_ID.sub("_", text).strip("_")
    return sid if STUDENT_ID_PATTERN.fullmatch(sid) and ".." not in sid else None


def unpack_archive(archive, destination):
    """Extract the zip ``archive`` into ``destination`` member by member, checking every member first.

    Refused (and reported): absolute names, ".." components, symbolic links and other special
    files, more than ``MAX_ARCHIVE_MEMBERS`` members, a member over ``MAX_NOTEBOOK_BYTES``, or more
    than ``MAX_ARCHIVE_BYTES`` in all (a zip bomb). Nothing is written outside ``destination``.

    Args:
        archive (str): a .zip file (an LMS download).
        destination (str): an empty folder.

    Returns:
        list of str: the refused members, with the reason.
    """
    refused = []
    base = os.path.realpath(destination)
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise SystemExit(f"{archive}: {len(members)} members, more than {MAX_ARCHIVE_MEMBERS}")
        total = 0
        for member in members:
            name = member.filename
            mode = member.external_attr >> 16
            parts = name.replace("\\", "/").split("/")
            if name.startswith("/") or ".." in parts or (len(name) > 1 and name[1] == ":"):
                refused.append(f"{name}: a path outside the archive")
                continue
            if member.is_dir():
                continue
            if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # no type bits (DOS, writestr): a file
                refused.append(f"{name}: not a regular file (a link or a device)")
                continue
            if member.file_size > MAX_NOTEBOOK_BYTES:
                refused.append(f"{name}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
                continue
            total += member.file_size
            if total > MAX_ARCHIVE_BYTES:
                raise SystemExit(f"{archive}: more than {MAX_ARCHIVE_BYTES // 2**20} MiB unpacked")
            target = os.path.realpath(os.path.join(base, *[p for p in parts if p not in ("", ".")]))
            if os.path.commonpath([base, target]) != base or target == base:
                refused.append(f"{name}: a path outside the archive")
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(member) as src, open(target, "xb") as dst:
                data = src.read(MAX_NOTEBOOK_BYTES + 1)  # the header's size may lie: read at most the limit
                if len(data) > MAX_NOTEBOOK_BYTES:
                    refused.append(f"{name}: larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
                    data = b""
                dst.write(data)
            if not data:
                os.unlink(target)
    return refused


def find_submissions(source, name):
    """{student_id: notebook path} from DIR/<student>.ipynb or DIR/<student>/**/<name>.ipynb.

    Only plain files are taken: a symlink, a hard link, a FIFO or a device (``regular_file``) is
    refused with a warning, and so is a student folder that is a symlink; links inside a folder are
    never followed. A name that gives no valid student id (``student_id``: "..", "/") is refused too.

    Args:
        source (str): the folder of downloaded submissions.
        name (str): the assignment.

    Returns:
        dict: ``{student_id: path}``.
    """
    found = {}
    for entry in sorted(os.listdir(source)):
        path = os.path.join(source, entry)
        if os.path.islink(path):
            print(f"warning: refused {path}: a symbolic link")
            continue
        if entry.endswith(".ipynb") and not os.path.isdir(path):
            student = entry[: -len(".ipynb")]
            if student.endswith("_" + name):  # "<student>_<assignment>.ipynb" also works
                student = student[: -len(name) - 1]
            found[student] = path
        elif os.path.isdir(path) and not entry.startswith("."):
            matches = []
            for folder, dirs, files in os.walk(path):  # symlinked folders are listed in dirs, never entered
                dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints" and not os.path.islink(os.path.join(folder, d))]
                matches += [os.path.join(folder, f) for f in files if f == name + ".ipynb"]
            if len(matches) > 1:
                print(f"warning: {entry}: several {name}.ipynb, using {sorted(matches)[0]}")
            if matches:
                found[entry] = sorted(matches)[0]
    cleaned = {}
    for student, path in found.items():
        problem = regular_file(path)
        if problem:
            print(f"warning: refused {path}: {problem}")
            continue
        sid = student_id(student)
        if sid is None:
            print(f"warning: refused {path}: cannot make a valid student id from {student!r}")
            continue
        if sid in cleaned:
            raise SystemExit(f"two submissions map to the student id {sid!r}: {cleaned[sid]}, {path}")
        cleaned[sid] = path
    return cleaned


def collect(root, name, source):
    """Copy submissions into submitted/<student>/<name>/<name>.ipynb with a timestamp.txt (file time).

    ``source`` is a folder (see :func:`find_submissions`) or a .zip of one, unpacked with member
    checks (:func:`unpack_archive`). Every destination is checked to stay inside submitted/, and
    each file is read through a descriptor opened without following links (:func:`read_regular_file`).

    Args:
        root (str): the course directory.
        name (str): the assignment.
        source (str): the downloaded submissions.

    Returns:
        list of str: the collected student ids.
    """
    assignments(root, [name])
    if os.path.isfile(source) and zipfile.is_zipfile(source):
        with tempfile.TemporaryDirectory(prefix="cnnlab-collect-") as unpacked:
            for problem in unpack_archive(source, unpacked):
                print(f"warning: refused archive member {problem}")
            return collect(root, name, unpacked)
    submissions = find_submissions(source, name)
    if not submissions:
        raise SystemExit(f"no submissions of {name} found in {source}")
    base = os.path.join(os.path.realpath(root), "submitted")
    os.makedirs(base, exist_ok=True)
    collected = []
    for student, path in sorted(submissions.items()):
        target = os.path.realpath(os.path.join(base, student, name))
        if os.path.commonpath([base, target]) != base or os.path.dirname(os.path.dirname(target)) != base:
            print(f"warning: refused {path}: its destination {target} is outside {base}")
            continue
        try:
            data, mtime = read_regular_file(path)
        except OSError as error:
            print(f"warning: refused {path}: {error}")
            continue
        os.makedirs(target, exist_ok=True)
        with open(os.path.join(target, name + ".ipynb"), "wb") as f:
            f.write(data)
        stamp = datetime.datetime.fromtimestamp(mtime, tz=datetime.timezone.utc)
        with open(os.path.join(target, "timestamp.txt"), "w") as f:
            f.write(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
        collected.append(student)
    print(f"collected {len(collected)} submissions of {name}: {', '.join(collected)}")
    return collected


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
    p = sub.add_parser("similarity", help="copy detection: ranked similar pairs, HTML report")
    p.add_argument("assignment")
    p.add_argument("--out", default=None, help="HTML report (default: similarity/<assignment>.html in the course)")
    p.add_argument("--threshold", type=float, default=0.5, help="mark comparisons at or above it (default 0.5)")
    p.add_argument("--top", type=int, default=10, help="comparisons shown side by side and printed (default 10)")
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
    elif args.command == "similarity":
        from cnnlab.grading.similarity import similarity_report  # imports copydetect (and matplotlib): only here

        try:
            similarity_report(root, args.assignment, out=args.out, threshold=args.threshold, top=args.top)
        except (TypeError, ValueError) as error:
            raise SystemExit(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
