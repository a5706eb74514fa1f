"""Grading a whole class: many submissions at once, on this machine or on a Dask cluster.

One submission is one job of plain data. The job holds the submission's files, the course files
nbgrader needs (``nbgrader_config.py`` and ``solutions/<assignment>/``) and the bytes of a small
SQLite gradebook that knows the assignment. :func:`grade_one` (the worker) builds a scratch course
from it, runs a plain ``nbgrader autograde <assignment> --student <student>`` there (so the
course's ``nbgrader_config.py`` applies, sandbox included) and returns the autograded files, the
per-cell scores of its scratch gradebook, a status and the time taken. Nothing but dicts, strings,
numbers and bytes goes in or out, so the same job runs in a local thread pool or on a remote Dask
worker that has only the course environment (and bubblewrap).

The main process writes the results into the real gradebook one at a time
(:func:`record_result`): it stores the autograded notebook in ``autograded/<student>/<a>/`` and
runs nbgrader's own ``SaveAutoGrades`` and ``AssignLatePenalties`` preprocessors on it, which read
the verdicts from the cell outputs exactly as ``nbgrader autograde`` does, without executing
anything. Only one process ever writes the gradebook, so SQLite never sees concurrent writers,
and PostgreSQL (``c.CourseDirectory.db_url = "postgresql://..."``) works the same way.

Example:
    >>> report = grade_assignment("/path/to/course", "02_convolution", jobs=2)   # doctest: +SKIP
    >>> report["failed"]                                                         # doctest: +SKIP
    0
"""

import concurrent.futures
import json
import io
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings

from . import hidden

OK = "ok"
FAILED = "FAILED"
# Longest time one submission may take, all cells together, before its worker gives up.
DEFAULT_SUBMISSION_TIMEOUT = 1800
# Files of a submission folder that are not the student's work.
IGNORED_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
# How much of nbgrader's log travels back with a result.
LOG_TAIL_CHARS = 4000
# The course's folder of drawn hidden seeds (nbgrader_config.py: SandboxedExecute.seeds_directory).
SEEDS_FOLDER = "grading_seeds"


# ---------------------------------------------------------------------------------------------
# the course: configuration and gradebook
# ---------------------------------------------------------------------------------------------


def load_course_config(root):
    """The traitlets configuration of the course's ``nbgrader_config.py`` (as nbgrader loads it).

    Args:
        root (str): the course directory.

    Returns:
        traitlets.config.Config: empty when the course has no ``nbgrader_config.py``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     with open(os.path.join(root, "nbgrader_config.py"), "w") as f:
        ...         _ = f.write("c = get_config()\\nc.CourseDirectory.course_id = 'demo'\\n")
        ...     print(load_course_config(root).CourseDirectory.course_id)
        demo
    """
    from traitlets.config.loader import Config, PyFileConfigLoader

    path = os.path.join(root, "nbgrader_config.py")
    if not os.path.isfile(path):
        return Config()
    return PyFileConfigLoader("nbgrader_config.py", path=root).load_config()


def course_db_url(root, config=None):
    """The gradebook URL of the course: ``c.CourseDirectory.db_url`` or ``sqlite:///<root>/gradebook.db``.

    Args:
        root (str): the course directory.
        config: an already loaded configuration (default: load ``root/nbgrader_config.py``).

    Returns:
        str: an SQLAlchemy URL (``sqlite:///...``, ``postgresql+psycopg2://...``).

    Example:
        >>> from traitlets.config import Config
        >>> course_db_url("/srv/course", Config())
        'sqlite:////srv/course/gradebook.db'
        >>> course_db_url("/srv/course", Config({"CourseDirectory": {"db_url": "postgresql://grader@db/cnnlab"}}))
        'postgresql://grader@db/cnnlab'
    """
    config = load_course_config(root) if config is None else config
    url = config.get("CourseDirectory", {}).get("db_url")
    return str(url) if url else "sqlite:///" + os.path.join(os.path.abspath(root), "gradebook.db")


def nbgrader_command(*args):
    """The command line of ``nbgrader ARGS`` with this environment's Python.

    Example:
        >>> nbgrader_command("autograde", "01_image_data")[1:]
        ['-m', 'nbgrader', 'autograde', '01_image_data']
    """
    return [sys.executable, "-m", "nbgrader", *args]


def nbgrader_environment(extra=None):
    """A copy of os.environ with this environment's bin/ first on PATH (nbgrader runs ``alembic`` from
    PATH) and ``extra`` added; os.environ itself is left as it is.

    Example:
        >>> env = nbgrader_environment({"CNNLAB_CELL_TIMEOUT": "30"})
        >>> env["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable), env["CNNLAB_CELL_TIMEOUT"]
        (True, '30')
    """
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def put_nbgrader_on_path():
    """Put this environment's bin/ first on this process's PATH (once): nbgrader's ``Gradebook`` runs
    ``alembic`` for a new database. Called by the functions that open a gradebook here, never at import."""
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")


def alembic_head():
    """nbgrader's gradebook schema version (its alembic head), read in this process.

    nbgrader's ``Gradebook`` asks for it whenever it creates a database, by running ``alembic heads``
    in a subprocess: about 4 s of Python start-up and imports on a 2-core machine, twice on the
    first grading run of a course (the template gradebook and the real one). Reading nbgrader's
    own migration scripts here gives the same answer in about 0.1 s, once per process.
    """
    head = getattr(alembic_head, "cached", None)
    if head is None:
        import nbgrader
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(os.path.join(os.path.dirname(nbgrader.__file__), "alembic")).get_current_head()
        alembic_head.cached = head
    return head


def use_in_process_alembic_head():
    """Make nbgrader's ``Gradebook`` take :func:`alembic_head` instead of running ``alembic heads``."""
    import nbgrader.api

    nbgrader.api.get_alembic_version = alembic_head


def die_with_parent():
    """In the child, before exec: get SIGKILL when the parent dies (a killed Dask worker leaves no grader)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def run_nbgrader(root, *args, timeout=None, env=None):
    """Run ``nbgrader ARGS`` in ``root``; returns (exit code or None on timeout, log text).

    The command gets a process group of its own, so on a timeout the group it started (nbgrader,
    its kernel, the sandbox) is killed by that process id and nothing is left running.

    Args:
        root (str): the course directory (its ``nbgrader_config.py`` applies).
        *args (str): nbgrader's arguments.
        timeout (float): seconds before the group is killed (None: no limit).
        env (dict): variables added to :func:`nbgrader_environment`.
    """
    process = subprocess.Popen(
        nbgrader_command(*args), cwd=root, env=nbgrader_environment(env), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True, preexec_fn=die_with_parent,
    )
    try:
        log, _ = process.communicate(timeout=timeout)
        return process.returncode, log
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        log, _ = process.communicate()
        return None, log
    finally:
        if process.poll() is None:  # interrupted (KeyboardInterrupt): leave nothing behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------------------------------------
# a warm nbgrader: import it once per worker thread, fork it once per submission
# ---------------------------------------------------------------------------------------------
#
# Starting `python -m nbgrader` costs about 2 s of CPU (imports) before it grades anything; a
# grading run on a small notebook takes about as long again. A "zygote" process imports nbgrader
# once and forks a child per submission, which runs exactly `nbgrader ARGS` (NbGraderApp with the
# same argv, config loading included) in the scratch course. The child gets a session of its own
# (so a timeout kills its whole group by its process id) and dies with the zygote, which dies
# with the thread that started it (PR_SET_PDEATHSIG).

ZYGOTE_COMMAND = "from cnnlab.grading.batch import zygote_main; zygote_main()"
zygotes = threading.local()


def zygote_main():
    """The zygote's loop: one JSON request per line on stdin -> fork, report the pid and the exit code."""
    import nbgrader.apps.nbgraderapp  # noqa: F401 - the import that every forked child reuses

    use_in_process_alembic_head()
    alembic_head()  # read once here, so that every forked child has it

    requests = os.fdopen(0, "rb", buffering=0)
    replies = os.fdopen(1, "wb", buffering=0)
    line = b""
    while True:
        chunk = requests.read(1)
        if not chunk:
            return
        if chunk != b"\n":
            line += chunk
            continue
        request, line = json.loads(line), b""
        pid = os.fork()
        if pid == 0:
            forked_nbgrader(request)  # never returns
        replies.write(json.dumps({"pid": pid}).encode() + b"\n")
        _, status = os.waitpid(pid, 0)
        replies.write(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")


def forked_nbgrader(request):
    """In the forked child: become `nbgrader ARGS` in ``request["root"]``, log to a file, exit.

    Args:
        request (dict): ``root``, ``args``, ``log`` (the log file) and ``env`` (the whole environment).
    """
    code = 1
    try:
        os.setsid()
        die_with_parent()
        os.chdir(request["root"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", buffering=0), write_through=True)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["nbgrader", *request["args"]]
        from nbgrader.apps.nbgraderapp import NbGraderApp

        NbGraderApp.launch_instance(argv=list(request["args"]))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - report anything in the log, then exit non-zero
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def thread_zygote():
    """This thread's zygote process (started on first use, restarted if it died)."""
    process = getattr(zygotes, "process", None)
    if process is None or process.poll() is not None:
        process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE_COMMAND], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=nbgrader_environment(), preexec_fn=die_with_parent, bufsize=0,
        )
        zygotes.process, zygotes.pending = process, b""
    return process


def zygote_reply(process, timeout=None):
    """The next JSON line from the zygote, or None when ``timeout`` seconds pass first.

    Args:
        process (subprocess.Popen): this thread's zygote (:func:`thread_zygote`).
        timeout (float): seconds to wait (None: as long as it takes).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while b"\n" not in zygotes.pending:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([process.stdout], [], [], left)
        if not ready:
            return None
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError(f"the grading zygote (pid {process.pid}) died")
        zygotes.pending += chunk
    line, zygotes.pending = zygotes.pending.split(b"\n", 1)
    return json.loads(line)


def run_nbgrader_forked(root, args, log_path, timeout=None, env=None):
    """``nbgrader ARGS`` in ``root``, forked from this thread's warm zygote; (exit code or None on timeout, log).

    Args:
        root (str): the (scratch) course directory.
        args (sequence of str): nbgrader's arguments.
        log_path (str): the file the child writes its output to.
        timeout (float): seconds before the child's process group is killed (None: no limit).
        env (dict): variables added to :func:`nbgrader_environment`.
    """
    process = thread_zygote()
    request = {"root": root, "args": list(args), "log": log_path, "env": nbgrader_environment(env)}
    process.stdin.write(json.dumps(request).encode() + b"\n")
    child = zygote_reply(process)["pid"]
    reply = zygote_reply(process, timeout)
    timed_out = reply is None
    if timed_out:
        try:
            os.killpg(child, signal.SIGKILL)  # the group it started: nbgrader and what it runs
        except ProcessLookupError:
            pass
        reply = zygote_reply(process)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    return (None if timed_out else reply["exit"]), log


def read_tree(folder):
    """{relative path: bytes} of every file under ``folder`` (checkpoints and caches left out).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_tree(folder, {"a/b.ipynb": b"{}", "__pycache__/x.pyc": b"", "c.txt": b"hi"})
        ...     print(read_tree(folder))
        {'c.txt': b'hi', 'a/b.ipynb': b'{}'}
    """
    files = {}
    for base, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_NAMES)
        for name in sorted(names):
            if name in IGNORED_NAMES:
                continue
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = f.read()
    return files


def write_tree(folder, files):
    """Write {relative path: bytes} under ``folder``; a path that leaves it is a ValueError.

    Example:
        >>> write_tree("/tmp/course", {"../../etc/passwd": b""})
        Traceback (most recent call last):
        ...
        ValueError: files: '../../etc/passwd' is outside the folder it is written to
    """
    folder = os.path.abspath(folder)
    for relative, data in files.items():
        path = os.path.abspath(os.path.join(folder, relative))
        if os.path.commonpath([folder, path]) != folder:
            raise ValueError(f"files: {relative!r} is outside the folder it is written to")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def course_files(root, assignment):
    """The files a worker needs to build a scratch course: the config and the assignment's source.

    Returns:
        dict: {relative path: bytes}: ``nbgrader_config.py`` and ``solutions/<assignment>/...``.
    """
    files = {"nbgrader_config.py": open(os.path.join(root, "nbgrader_config.py"), "rb").read()}
    source = os.path.join(root, "solutions", assignment)
    for relative, data in read_tree(source).items():
        files[os.path.join("solutions", assignment, relative)] = data
    return files


def template_gradebook(root, assignment, env=None):
    """Bytes of a SQLite gradebook that knows ``assignment`` (its cells and checksums) and no student.

    Made by ``nbgrader generate_assignment`` in a scratch copy of the course, so the real gradebook
    (SQLite or PostgreSQL) and the repository are not touched.
    """
    with tempfile.TemporaryDirectory(prefix="cnnlab-template-") as folder:
        scratch = os.path.join(folder, "course")
        write_tree(scratch, course_files(root, assignment))
        db = os.path.join(scratch, "gradebook.db")
        args = ["generate_assignment", assignment, "--force", f"--CourseDirectory.db_url=sqlite:///{db}"]
        code, log = run_nbgrader_forked(scratch, args, os.path.join(folder, "nbgrader.log"), env=env)
        if code != 0:
            raise RuntimeError(f"nbgrader generate_assignment {assignment} failed:\n{log[-LOG_TAIL_CHARS:]}")
        with open(db, "rb") as f:
            return f.read()


def ensure_assignment(root, assignment, db_url, template):
    """Make sure the real gradebook at ``db_url`` knows ``assignment``: copy it from ``template`` if not.

    The assignment's notebooks and cells (points, checksums, locked sources) are copied from the
    template gradebook (:func:`template_gradebook`, made in a scratch course) through nbgrader's own
    API. Nothing is written to the course's folders: running ``nbgrader generate_assignment`` in the
    course root would rewrite ``exercises/<assignment>``, where a self-learner's solved notebook lives.

    Args:
        root (str): the course directory (only named in messages).
        assignment (str): the assignment name.
        db_url (str): the course's gradebook (SQLite or PostgreSQL).
        template (bytes): a SQLite gradebook that knows ``assignment`` (:func:`template_gradebook`).

    Returns:
        bool: True if the assignment was added, False if the gradebook knew it already.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            gb.find_assignment(assignment)
            return False
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory(prefix="cnnlab-register-") as folder:
        path = os.path.join(folder, "template.db")
        with open(path, "wb") as f:
            f.write(template)
        with Gradebook(f"sqlite:///{path}") as source:
            try:
                found = source.find_assignment(assignment)
            except MissingEntry:
                raise ValueError(f"template: the template gradebook does not know {assignment!r} (course {root})")
            course_id, duedate = found.course_id, found.duedate
            notebooks = [notebook_cells(notebook) for notebook in found.notebooks]
    with Gradebook(db_url, course_id=course_id) as gb:
        gb.add_assignment(assignment, duedate=duedate)
        for notebook in notebooks:
            gb.add_notebook(notebook["name"], assignment, kernelspec=notebook["kernelspec"])
            for kind, cells in notebook["cells"].items():
                add = getattr(gb, f"update_or_create_{kind}_cell")
                for name, info in cells.items():
                    add(name, notebook["name"], assignment, **info)
    return True


def notebook_cells(notebook):
    """Plain data of one gradebook notebook: its name, kernelspec and cells, as nbgrader's SaveCells writes them."""
    return {
        "name": notebook.name, "kernelspec": notebook.kernelspec,
        "cells": {
            "grade": {c.name: {"max_score": c.max_score, "cell_type": c.cell_type} for c in notebook.grade_cells},
            "solution": {c.name: {} for c in notebook.solution_cells},
            "task": {c.name: {"max_score": c.max_score, "cell_type": c.cell_type} for c in notebook.task_cells},
            "source": {c.name: {"cell_type": c.cell_type, "locked": c.locked, "source": c.source,
                                "checksum": c.checksum} for c in notebook.source_cells},
        },
    }


# ---------------------------------------------------------------------------------------------
# one submission: the worker
# ---------------------------------------------------------------------------------------------


def course_secret(root, config):
    """The course's grading secret (bytes), from ``$CNNLAB_GRADING_SECRET`` or the configured secret file.

    The scratch course of a job has no secret file of its own, so the jobs carry the course's secret
    to the (trusted) workers in their environment; the sandbox's environment never includes it.
    """
    path = config.get("SandboxedExecute", {}).get("secret_file", "") if config is not None else ""
    return hidden.grading_secret(path or os.path.join(root, ".grading_secret"))


def seeds_directory(root, config):
    """Where the course keeps the drawn hidden seeds (``SandboxedExecute.seeds_directory``)."""
    path = config.get("SandboxedExecute", {}).get("seeds_directory", "") if config is not None else ""
    return path or os.path.join(root, SEEDS_FOLDER)


def make_job(root, assignment, student, gradebook, files, timeout=DEFAULT_SUBMISSION_TIMEOUT, nbgrader_args=(), env=None,
             warm=True):
    """The plain-data job that grades ``student``'s submission of ``assignment``.

    Args:
        root (str): the course directory (the submission is read from ``submitted/<student>/<assignment>/``).
        gradebook (bytes): a SQLite gradebook that knows the assignment (:func:`template_gradebook`).
        files (dict): the course files (:func:`course_files`).
        timeout (float): seconds the whole submission may take.
        nbgrader_args (sequence of str): extra options for ``nbgrader autograde``.
        env (dict): environment variables for nbgrader (default: every ``CNNLAB_*`` variable here).
        warm (bool): fork nbgrader from a process that has imported it already (saves its start-up);
            False runs a fresh ``python -m nbgrader``.
    """
    submitted = os.path.join(root, "submitted", student, assignment)
    if not os.path.isdir(submitted):
        raise ValueError(f"student: no submission of {assignment!r} by {student!r} in {submitted}")
    if env is None:
        env = {k: v for k, v in os.environ.items() if k.startswith("CNNLAB_")}
    return {
        "assignment": assignment,
        "student": student,
        "submission": read_tree(submitted),
        "course": files,
        "gradebook": gradebook,
        "timeout": float(timeout),
        "nbgrader_args": list(nbgrader_args),
        "env": dict(env),
        "warm": bool(warm),
    }


def failure_reason(code, log):
    """A short reason for a submission nbgrader could not grade, from its exit code and log.

    Args:
        code (int or None): nbgrader's exit code; None: it was killed at its time limit.
        log (str): what it wrote.

    Example:
        >>> failure_reason(None, ""), failure_reason(1, "... DeadKernelError: Kernel died")
        ('timeout (the whole submission ran past its limit)', 'crash (the kernel died)')
        >>> failure_reason(2, "[AutogradeApp | ERROR] no such assignment\\n")
        'nbgrader error: [AutogradeApp | ERROR] no such assignment'
    """
    if code is None:
        return "timeout (the whole submission ran past its limit)"
    text = log.lower()
    if "memoryerror" in text or "out of memory" in text or "memory limit" in text:
        return "memory limit"
    if "kernel died" in text or "deadkernelerror" in text or "kernel has died" in text:
        return "crash (the kernel died)"
    if "timeout" in text and "cell" in text:
        return "timeout"
    lines = [line for line in log.strip().splitlines() if line.strip()]
    return "nbgrader error: " + (lines[-1][:200] if lines else f"exit code {code}")


def scratch_scores(db_path, assignment, student):
    """{notebook: {grade_id: auto_score}} that nbgrader recorded in the worker's scratch gradebook.

    Args:
        db_path (str): the scratch SQLite file.
        assignment, student (str): the submission.
    """
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook("sqlite:///" + db_path) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return scores
        for notebook in submission.notebooks:
            scores[notebook.name] = {grade.name: grade.auto_score for grade in notebook.grades}
    return scores


def grade_one(job):
    """Grade one submission in a scratch course (runs on a worker); plain data in, plain data out.

    Args:
        job (dict): from :func:`make_job`.

    Returns:
        dict: ``student``, ``assignment``, ``status`` ("ok" or "FAILED"), ``reason`` (why it
        failed, else ""), ``autograded`` ({relative path: bytes} of ``autograded/<s>/<a>/``),
        ``scores`` ({notebook: {grade_id: auto_score}} from the worker's nbgrader run),
        ``seconds``, ``worker`` (host and process id), ``log`` (the end of nbgrader's log) and
        ``hidden_seeds`` ({relative path: bytes} of the seeds its hidden tests drew, kept with the grade).
    """
    start = time.perf_counter()
    assignment, student = job["assignment"], job["student"]
    result = {
        "assignment": assignment, "student": student, "status": FAILED, "reason": "", "autograded": {},
        "scores": {}, "seconds": 0.0, "worker": f"{socket.gethostname()}:{os.getpid()}", "log": "",
        "hidden_seeds": {},
    }
    with tempfile.TemporaryDirectory(prefix="cnnlab-grade-") as folder:
        scratch = os.path.join(folder, "course")
        write_tree(scratch, job["course"])
        db = os.path.join(scratch, "gradebook.db")
        with open(db, "wb") as f:
            f.write(job["gradebook"])
        write_tree(os.path.join(scratch, "submitted", student, assignment), job["submission"])
        args = ["autograde", assignment, f"--student={student}", "--force", f"--CourseDirectory.db_url=sqlite:///{db}",
                *job["nbgrader_args"]]
        if job.get("warm", True) and hasattr(os, "fork"):
            code, log = run_nbgrader_forked(scratch, args, os.path.join(folder, "nbgrader.log"), job["timeout"], job["env"])
        else:
            code, log = run_nbgrader(scratch, *args, timeout=job["timeout"], env=job["env"])
        result["log"] = log[-LOG_TAIL_CHARS:]
        graded = os.path.join(scratch, "autograded", student, assignment)
        notebooks = [n for n in os.listdir(graded) if n.endswith(".ipynb")] if os.path.isdir(graded) else []
        if code == 0 and notebooks:
            result["status"] = OK
            result["autograded"] = read_tree(graded)
            result["scores"] = scratch_scores(db, assignment, student)
            seeds = os.path.join(scratch, SEEDS_FOLDER, assignment, student)
            result["hidden_seeds"] = read_tree(seeds) if os.path.isdir(seeds) else {}
        else:
            result["reason"] = failure_reason(code, log)
    result["seconds"] = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------
# the main process: record serially
# ---------------------------------------------------------------------------------------------


def read_timestamp(files):
    """The submission time from a submission's ``timestamp.txt`` (None when there is none).

    Args:
        files (dict): {relative path: bytes} of the submission folder.

    Example:
        >>> read_timestamp({"timestamp.txt": b"2026-12-01 09:30:00.000000 UTC"}), read_timestamp({})
        (datetime.datetime(2026, 12, 1, 9, 30), None)
    """
    from nbgrader.utils import parse_utc

    text = files.get("timestamp.txt", b"").decode("utf-8", "replace").strip()
    return parse_utc(text) if text else None


def recorded_scores(db_url, assignment, student):
    """{notebook: {grade_id: auto_score}} of one submission in the real gradebook (empty: none recorded).

    Args:
        db_url (str): the gradebook (:func:`course_db_url`).
        assignment, student (str): the submission.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return {}
        return {nb.name: {g.name: g.auto_score for g in nb.grades} for nb in submission.notebooks}


def record_result(root, db_url, result, submission_files, config=None):
    """Write one worker result into the course: ``autograded/`` and the gradebook (main process only).

    A graded submission gets its autograded files and nbgrader's ``SaveAutoGrades`` and
    ``AssignLatePenalties`` run on each notebook, which read the verdicts from the outputs and
    execute nothing. A FAILED one gets no autograded folder and its automatic scores are cleared
    and flagged for a human (it counts 0 in the export).

    Args:
        root (str): the course directory.
        db_url (str): the real gradebook.
        result (dict): from :func:`grade_one`.
        submission_files (dict): the submission's files (for its ``timestamp.txt``).
        config: the course configuration (for nbgrader's preprocessors).

    Returns:
        dict: the result, its status turned to FAILED when the recorded scores differ from those
        the worker's nbgrader computed.
    """
    with warnings.catch_warnings():
        # nbgrader's update_or_create_submission triggers SQLAlchemy autoflush warnings (harmless;
        # `nbgrader autograde` prints the same ones).
        warnings.simplefilter("ignore", category=Warning)
        return record_result_quietly(root, db_url, result, submission_files, config)


def record_result_quietly(root, db_url, result, submission_files, config):
    """:func:`record_result` without the warnings filter (the same arguments and result)."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    assignment, student = result["assignment"], result["student"]
    graded = os.path.join(root, "autograded", student, assignment)
    if os.path.isdir(graded):
        shutil.rmtree(graded)
    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        timestamp = read_timestamp(submission_files)
        if timestamp is not None:
            gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        else:
            gb.update_or_create_submission(assignment, student)
        if result["status"] != OK:
            for notebook in gb.find_submission(assignment, student).notebooks:
                for grade in notebook.grades:
                    grade.auto_score = None
                    grade.needs_manual_grade = True
            gb.db.commit()
            return result
    write_tree(graded, result["autograded"])
    if result.get("hidden_seeds"):  # kept beside the grade, as a plain `nbgrader autograde` keeps them
        write_tree(os.path.join(seeds_directory(root, config), assignment, student), result["hidden_seeds"])
    for name in sorted(n for n in result["autograded"] if n.endswith(".ipynb") and os.sep not in n):
        notebook = nbformat.reads(result["autograded"][name].decode("utf-8"), as_version=4)
        resources = {"nbgrader": {"notebook": name[: -len(".ipynb")], "assignment": assignment,
                                  "student": student, "db_url": db_url}}
        for preprocessor in (SaveAutoGrades, AssignLatePenalties):
            notebook, resources = preprocessor(config=config).preprocess(notebook, resources)
    recorded = recorded_scores(db_url, assignment, student)
    if recorded != result["scores"]:
        result = dict(result, status=FAILED, reason=f"recorded scores {recorded} differ from the worker's {result['scores']}")
    return result


# ---------------------------------------------------------------------------------------------
# many submissions
# ---------------------------------------------------------------------------------------------


def submitted_students(root, assignment):
    """Students with a ``submitted/<student>/<assignment>/`` folder, sorted.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     for student in ("bob", "alice"):
        ...         os.makedirs(os.path.join(root, "submitted", student, "02_convolution"))
        ...     print(submitted_students(root, "02_convolution"), submitted_students(root, "03_padding_stride"))
        ['alice', 'bob'] []
    """
    base = os.path.join(root, "submitted")
    if not os.path.isdir(base):
        return []
    return sorted(s for s in os.listdir(base) if os.path.isdir(os.path.join(base, s, assignment)))


def local_results(jobs, workers, pool=None):
    """Run ``jobs`` with ``workers`` at once on this machine; yields results as they finish.

    Each job is a separate nbgrader process, so threads are enough to keep ``workers`` of them
    running; a job that raises is reported as FAILED (it cannot take the others down).

    Args:
        jobs (list of dict): :func:`make_job`'s jobs.
        workers (int): jobs at once.
        pool (concurrent.futures.ThreadPoolExecutor): threads to use (:func:`warm_pool`); shut down here.
    """
    pool = pool or concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnlab-grade")
    with pool:
        futures = {pool.submit(grade_one, job): job for job in jobs}
        for future in concurrent.futures.as_completed(futures):
            job = futures[future]
            try:
                yield future.result()
            except Exception as error:  # noqa: BLE001 - one job's failure is its submission's FAILED
                yield crashed_result(job, f"worker error: {error!r}")


def warm_pool(workers):
    """A pool of ``workers`` grading threads whose zygotes start importing nbgrader now, in the background.

    The course's set-up (the template gradebook) runs meanwhile, so the 2 s import of each worker's
    zygote overlaps it instead of following it. A barrier makes each warm-up task hold its own thread
    until all have started, so every thread gets one.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cnnlab-grade")
    barrier = threading.Barrier(workers)

    def warm():
        thread_zygote()
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:  # a slow thread start: that thread warms at its first job
            pass

    for _ in range(workers):
        pool.submit(warm)
    return pool


def crashed_result(job, reason):
    """The FAILED result of a job whose worker raised or died (``reason`` says which), shaped as :func:`grade_one`'s.

    Example:
        >>> crashed_result({"assignment": "02_convolution", "student": "alice"}, "worker died")["status"]
        'FAILED'
    """
    return {"assignment": job["assignment"], "student": job["student"], "status": FAILED, "reason": reason,
            "autograded": {}, "scores": {}, "seconds": 0.0, "worker": "", "log": ""}


def dask_results(jobs, scheduler):
    """Send ``jobs`` to the Dask scheduler at ``scheduler`` (an address or a ``Client``); yields results.

    A job whose worker dies (or that raises) is submitted once more; when that fails too, its
    submission is reported as FAILED with the error. (The scheduler itself may also move a task
    of a dead worker elsewhere, up to its ``distributed.scheduler.allowed-failures``.)
    """
    from dask.distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        def submit(job, attempt):
            key = f"cnnlab-grade-{job['assignment']}-{job['student']}-{attempt}-{uuid.uuid4().hex[:8]}"
            future = client.submit(grade_one, job, key=key, pure=False, retries=0)
            pending[future.key] = (job, attempt)
            return future

        pending = {}
        queue = as_completed([submit(job, 1) for job in jobs])
        for future in queue:
            job, attempt = pending.pop(future.key)
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001 - a dead worker or a lost task
                if attempt == 1:
                    queue.add(submit(job, 2))
                    continue
                result = crashed_result(job, f"worker died or failed twice: {type(error).__name__}: {error}")
            result["attempts"] = attempt
            future.release()
            yield result
    finally:
        if client is not scheduler:
            client.close()


def gradebook_table(db_url, assignment, students):
    """{student: {"auto", "auto_max", "manual_max"}}: autograded points (code cells) and written points.

    Args:
        db_url (str): the gradebook.
        assignment (str): the assignment.
        students (list of str): the rows (a student without a submission gets zeros).
    """
    from nbgrader.api import Gradebook, MissingEntry

    table = {}
    with Gradebook(db_url) as gb:
        for student in students:
            row = {"auto": 0.0, "auto_max": 0.0, "manual_max": 0.0}
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                table[student] = row
                continue
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if grade.cell.cell_type == "code":
                        row["auto"] += float(grade.auto_score or 0.0)
                        row["auto_max"] += float(grade.max_score)
                    else:
                        row["manual_max"] += float(grade.max_score)
            table[student] = row
    return table


def grade_assignment(root, assignment, students=None, jobs=None, scheduler=None, timeout=DEFAULT_SUBMISSION_TIMEOUT,
                     nbgrader_args=(), progress=True, out=None):
    """Autograde the submissions of ``assignment``: ``jobs`` at once here, or on a Dask cluster.

    Args:
        root (str): the course directory.
        assignment (str): the assignment name (a folder of ``solutions/``).
        students (list of str): only these students (default: every ``submitted/<s>/<assignment>``).
        jobs (int): submissions graded at once on this machine (default: the number of cores).
        scheduler: a Dask scheduler address (``tcp://host:8786``) or a ``dask.distributed.Client``;
            when given, the jobs go to the cluster and ``jobs`` is ignored.
        timeout (float): seconds one submission may take in all; past that it is FAILED (timeout).
        nbgrader_args (sequence of str): extra options for each ``nbgrader autograde``.
        progress (bool): show a tqdm bar (rate and ETA) on stderr.
        out: where the summary table goes (default: sys.stdout).

    Returns:
        dict: ``results`` (one per student, sorted: student, status, reason, seconds, worker),
        ``table`` (:func:`gradebook_table`), ``failed`` (how many FAILED) and ``wall`` (seconds).
    """
    from tqdm.auto import tqdm

    out = sys.stdout if out is None else out
    root = os.path.abspath(root)
    if not os.path.isfile(os.path.join(root, "solutions", assignment, assignment + ".ipynb")):
        raise ValueError(f"assignment: no solutions/{assignment}/{assignment}.ipynb in {root}")
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs: expected a positive number of submissions at once, got {jobs!r}")
    available = submitted_students(root, assignment)
    students = available if not students else list(students)
    missing = [s for s in students if s not in available]
    if missing:
        raise ValueError(f"students: no submission of {assignment} by {missing}; submitted: {available}")
    start = time.perf_counter()
    put_nbgrader_on_path()
    workers = jobs or os.cpu_count() or 1
    # The set-up overlaps itself: the workers' zygotes import nbgrader while one of them makes the
    # template gradebook and this process imports nbgrader and reads the course's config.
    pool = warm_pool(min(workers, max(len(students), 1))) if scheduler is None else None
    try:
        template = pool.submit(template_gradebook, root, assignment) if pool is not None else None
        use_in_process_alembic_head()
        config = load_course_config(root)
        db_url = course_db_url(root, config)
        gradebook = template.result() if template is not None else template_gradebook(root, assignment)
        ensure_assignment(root, assignment, db_url, gradebook)
    except BaseException:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        raise
    files = course_files(root, assignment)
    env = {k: v for k, v in os.environ.items() if k.startswith("CNNLAB_")}
    env[hidden.SECRET_VARIABLE] = course_secret(root, config).decode()  # every worker draws the course's seeds
    job_list = [make_job(root, assignment, s, gradebook, files, timeout, nbgrader_args, env=env) for s in students]
    submissions = {job["student"]: job["submission"] for job in job_list}

    where = f"Dask cluster {scheduler}" if scheduler is not None else f"{min(workers, max(len(job_list), 1))} at once"
    stream = dask_results(job_list, scheduler) if scheduler is not None else local_results(job_list, workers, pool)
    results = []
    bar = tqdm(total=len(job_list), desc=f"autograde {assignment} ({where})", unit="submission", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    with bar:
        for result in stream:  # recorded one at a time, here, in the order they finish
            result = record_result(root, db_url, result, submissions[result["student"]], config)
            results.append({k: v for k, v in result.items() if k not in ("autograded", "log")}
                           | {"log": result["log"] if result["status"] != OK else ""})
            bar.set_postfix_str(f"{result['student']}: {result['status']}", refresh=False)
            bar.update(1)
    results.sort(key=lambda r: r["student"])
    table = gradebook_table(db_url, assignment, students)
    wall = time.perf_counter() - start
    report = {"results": results, "table": table, "failed": sum(r["status"] != OK for r in results), "wall": wall}
    print_report(report, assignment, out)
    return report


def print_report(report, assignment, out):
    """The summary table: student, autograded score, maximum, status and why a submission FAILED.

    Args:
        report (dict): ``results``, ``table``, ``failed`` and ``wall`` (as :func:`grade_assignment` returns).
        assignment (str): named in the last line.
        out: a text stream.

    Example:
        >>> results = [{"student": "alice", "status": OK, "reason": "", "seconds": 4.0},
        ...            {"student": "bob", "status": FAILED, "reason": "crash (the kernel died)", "seconds": 2.0}]
        >>> table = {"alice": {"auto": 10.0, "auto_max": 10.0, "manual_max": 2.0},
        ...          "bob": {"auto": 0.0, "auto_max": 10.0, "manual_max": 2.0}}
        >>> print_report({"results": results, "table": table, "failed": 1, "wall": 6.0}, "01_image_data", sys.stdout)
        student   score    max  written  seconds  status
        alice      10.0   10.0      2 pt      4.0  ok
        bob         0.0   10.0      2 pt      2.0  FAILED: crash (the kernel died) (counts 0; look at it by hand)
        01_image_data: 2 submissions, 1 FAILED, wall time 6.0 s (20.0 submissions per minute); written answers are graded by hand in formgrader
    """
    results, table = report["results"], report["table"]
    width = max([len(r["student"]) for r in results] + [7])
    lines = [f"{'student':<{width}}  {'score':>6}  {'max':>5}  {'written':>7}  {'seconds':>7}  status"]
    for r in results:
        row = table[r["student"]]
        status = OK if r["status"] == OK else f"FAILED: {r['reason']} (counts 0; look at it by hand)"
        lines.append(f"{r['student']:<{width}}  {row['auto']:6.1f}  {row['auto_max']:5.1f}  "
                     f"{row['manual_max']:5g} pt  {r['seconds']:7.1f}  {status}")
    n = len(results)
    rate = 60.0 * n / report["wall"] if report["wall"] > 0 else float("nan")
    lines.append(f"{assignment}: {n} submissions, {report['failed']} FAILED, wall time {report['wall']:.1f} s "
                 f"({rate:.1f} submissions per minute); written answers are graded by hand in formgrader")
    print("\n".join(lines), file=out, flush=True)
