"""Grading a class in parallel: `--jobs 2` and a Dask cluster give the scores of `--jobs 1`.

Twelve forged submissions of 01_image_data (full, partial, blank, a hanging cell, two kernel
crashes) are graded in scratch copies of the course: once with one job, once with two jobs
through `scripts/grade.py` (progress bar, summary table, exit code), once on a
`dask.distributed.LocalCluster` of two worker processes that the test starts on 127.0.0.1, and
once on a cluster whose worker is killed (by its process id) while it grades. Afterwards
`feedback` and `export` must work on the parallel run's gradebook.
"""

import copy
import csv
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

ASSIGNMENT = "01_image_data"
CELL_TIMEOUT = 6  # seconds a top-level endless loop costs (the hanging submission)
FUNCTIONS = {"image_layout": ["test_image_layout", "test_image_layout_hidden"],
             "to_float": ["test_to_float", "test_to_float_hidden"],
             "to_nchw": ["test_layouts", "test_layouts_hidden"],
             "to_grayscale": ["test_to_grayscale", "test_to_grayscale_hidden"]}

pytestmark = pytest.mark.skipif(importlib.util.find_spec("nbgrader") is None, reason="nbgrader is not installed")

from cnnlab.grading import batch  # noqa: E402
from course_copy import REPO, cell_index, cell_timeout, copy_course, insert_code_cell, load_grade_script  # noqa: E402
from course_copy import read_nb, write_nb  # noqa: E402


def forged_submissions():
    """{student: (notebook, the functions it solves or None for a FAILED one)}."""
    solved = read_nb(os.path.join(REPO, "solutions", ASSIGNMENT, ASSIGNMENT + ".ipynb"))
    release = read_nb(os.path.join(REPO, "exercises", ASSIGNMENT, ASSIGNMENT + ".ipynb"))

    def partial(functions):
        nb = copy.deepcopy(release)
        for name in functions:
            nb["cells"][cell_index(nb, name)]["source"] = solved["cells"][cell_index(solved, name)]["source"]
        return nb

    everything = sorted(FUNCTIONS)
    subs = {f"full{i}": (copy.deepcopy(solved), everything) for i in (1, 2, 3)}
    subs.update({f"blank{i}": (copy.deepcopy(release), []) for i in (1, 2)})
    for i, functions in enumerate([["image_layout"], ["to_float"], ["to_nchw", "to_float"],
                                   ["image_layout", "to_grayscale", "to_float"]], start=1):
        subs[f"partial{i}"] = (partial(functions), functions)
    subs["hang"] = (insert_code_cell(copy.deepcopy(solved), 3, "while True:\n    pass\n"), everything)
    subs["crash_exit"] = (insert_code_cell(copy.deepcopy(solved), 3, "import os\nos._exit(1)\n"), None)
    subs["crash_kill"] = (insert_code_cell(copy.deepcopy(solved), 3,
                                           "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"), None)
    return subs


@pytest.fixture(scope="module")
def course_template(tmp_path_factory):
    """A course directory with the forged submissions and no gradebook yet."""
    root = copy_course(str(tmp_path_factory.mktemp("template")), [ASSIGNMENT])
    subs = forged_submissions()
    for student, (nb, _) in subs.items():
        write_nb(nb, os.path.join(root, "submitted", student, ASSIGNMENT, ASSIGNMENT + ".ipynb"))
    return {"root": root, "subs": subs}


@pytest.fixture(scope="module", autouse=True)
def short_cell_timeout():
    with cell_timeout(CELL_TIMEOUT):
        yield


def copy_template(template, destination):
    shutil.copytree(template["root"], destination)
    return str(destination)


def gradebook_scores(root, students):
    """{student: {notebook: {grade_id: auto_score}}} from the course's gradebook."""
    url = batch.course_db_url(root)
    return {s: batch.recorded_scores(url, ASSIGNMENT, s) for s in students}


def statuses(report):
    return {r["student"]: r["status"] for r in report["results"]}


@pytest.fixture(scope="module")
def serial_run(course_template, tmp_path_factory):
    root = copy_template(course_template, tmp_path_factory.mktemp("jobs1") / "course")
    report = batch.grade_assignment(root, ASSIGNMENT, jobs=1, progress=False)
    return {"root": root, "report": report, "scores": gradebook_scores(root, course_template["subs"])}


@pytest.fixture(scope="module")
def parallel_run(course_template, tmp_path_factory):
    """`scripts/grade.py autograde --jobs 2`, as an instructor runs it."""
    root = copy_template(course_template, tmp_path_factory.mktemp("jobs2") / "course")
    command = [sys.executable, os.path.join(REPO, "scripts", "grade.py"), "--root", root, "autograde", ASSIGNMENT,
               "--jobs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return {"root": root, "done": done, "scores": gradebook_scores(root, course_template["subs"])}


def expected_points(solved_functions):
    """Points of the test cells of the solved functions (read from the source notebook's metadata)."""
    nb = read_nb(os.path.join(REPO, "solutions", ASSIGNMENT, ASSIGNMENT + ".ipynb"))
    points = {c["metadata"]["nbgrader"]["grade_id"]: float(c["metadata"]["nbgrader"]["points"])
              for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c["cell_type"] == "code"}
    return {gid: (points[gid] if any(gid in FUNCTIONS[f] for f in solved_functions) else 0.0) for gid in points}


def test_jobs_1_grades_every_kind_of_submission_as_expected(serial_run, course_template):
    scores, report = serial_run["scores"], serial_run["report"]
    for student, (_, solved) in course_template["subs"].items():
        if solved is None:
            assert report["table"][student]["auto"] == 0.0, student
            continue
        cells = scores[student][ASSIGNMENT]
        expected = expected_points(solved)
        assert {g: cells[g] for g in expected} == expected, student
    failed = {r["student"]: r["reason"] for r in report["results"] if r["status"] != batch.OK}
    assert set(failed) == {"crash_exit", "crash_kill"}
    assert all("crash" in reason for reason in failed.values()), failed
    assert report["failed"] == 2
    assert not os.path.exists(os.path.join(serial_run["root"], "autograded", "crash_exit", ASSIGNMENT))


def test_jobs_2_gives_the_scores_of_jobs_1_and_reports_progress_and_failures(parallel_run, serial_run):
    done = parallel_run["done"]
    assert done.returncode == 1, done.stdout + done.stderr  # two submissions FAILED
    assert parallel_run["scores"] == serial_run["scores"]
    assert "2 at once" in done.stderr and "100%" in done.stderr
    assert re.search(r"\d(s/submission|submission/s)", done.stderr), done.stderr[-2000:]  # the rate
    assert re.search(r"<\d\d:\d\d", done.stderr)  # the ETA
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    for student in ("crash_exit", "crash_kill"):
        assert "FAILED: crash" in lines[student]
    assert " ok" in lines["full1"] and "10.0" in lines["full1"]
    assert "12 submissions, 2 FAILED, wall time" in done.stdout
    assert "database is locked" not in done.stdout + done.stderr


def test_export_and_feedback_work_after_a_parallel_run(parallel_run, serial_run):
    root = parallel_run["root"]
    script = [sys.executable, os.path.join(REPO, "scripts", "grade.py"), "--root", root]
    feedback = subprocess.run(script + ["feedback", ASSIGNMENT], capture_output=True, text=True, timeout=300)
    assert feedback.returncode == 0, feedback.stdout + feedback.stderr
    assert os.path.isfile(os.path.join(root, "feedback", "full1", ASSIGNMENT, ASSIGNMENT + ".html"))
    csv_path = os.path.join(root, "grades.csv")
    export = subprocess.run(script + ["export", "--to", csv_path], capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stdout + export.stderr
    with open(csv_path, newline="") as f:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    table = serial_run["report"]["table"]
    assert exported == {s: row["auto"] for s, row in table.items()}
    assert exported["full1"] == table["full1"]["auto_max"] > exported["partial1"] > exported["blank1"] == 0.0


def test_student_option_regrades_only_that_student(parallel_run):
    root = parallel_run["root"]
    other = os.path.join(root, "autograded", "full2", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    before = os.stat(other).st_mtime_ns
    command = [sys.executable, os.path.join(REPO, "scripts", "grade.py"), "--root", root, "autograde", ASSIGNMENT,
               "--student", "partial2", "--jobs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 submissions, 0 FAILED" in done.stdout
    assert os.stat(other).st_mtime_ns == before
    assert gradebook_scores(root, ["partial2"]) == {"partial2": parallel_run["scores"]["partial2"]}


@pytest.fixture
def local_cluster():
    distributed = pytest.importorskip("dask.distributed")
    import dask

    # No silent rescheduling by the scheduler: a task whose worker dies comes back as an error,
    # and cnnlab.grading.batch resubmits it once itself (visible as attempts == 2).
    # One task per worker thread at a time, so a killed worker holds exactly one submission.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0, "distributed.scheduler.worker-saturation": 1.0}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=None)
        client = distributed.Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


def test_a_dask_cluster_gives_the_scores_of_jobs_1_even_when_a_worker_is_killed(local_cluster, course_template,
                                                                                serial_run, tmp_path):
    """One run on a LocalCluster of 2 worker processes; one worker is SIGKILLed while it grades."""
    root = copy_template(course_template, tmp_path / "course")
    address = local_cluster.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    pids = local_cluster.run(os.getpid)  # {worker address: process id}
    killed = {}

    def kill_a_busy_worker():
        """Wait until a worker has been grading a submission for a second, then SIGKILL that worker."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for address, keys in local_cluster.processing().items():
                if keys:
                    time.sleep(1.0)
                    if local_cluster.processing().get(address) == keys:
                        killed["students"] = [key.split("-")[-3] for key in keys]
                        killed["pid"] = pids[address]
                        os.kill(pids[address], signal.SIGKILL)
                        return
            time.sleep(0.2)

    import threading

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    report = batch.grade_assignment(root, ASSIGNMENT, scheduler=address, progress=False)  # as --scheduler ADDRESS
    killer.join()
    assert killed, "no worker was ever busy"
    by_student = {r["student"]: r for r in report["results"]}
    # the killed worker's submissions (the one it ran, and one it may have held queued) were
    # submitted once more and graded by another worker process
    victims = killed["students"]
    for student in victims:
        assert by_student[student]["attempts"] == 2, by_student[student]
        assert not by_student[student]["worker"].endswith(f":{killed['pid']}")
    # every other submission was graded once; all scores and statuses are those of --jobs 1
    assert all(r["attempts"] == 1 for r in report["results"] if r["student"] not in victims)
    assert gradebook_scores(root, course_template["subs"]) == serial_run["scores"]
    assert statuses(report) == statuses(serial_run["report"])
    assert len({r["worker"] for r in report["results"]}) >= 2


def test_autograde_leaves_a_learners_solved_exercise_as_it_is(course_template, tmp_path):
    """A self-learner solves exercises/A/A.ipynb in the course itself (README tells them to work there).

    The first autograde of A (an empty gradebook) registers A without regenerating the release, so
    the solved notebook and every other file of exercises/ keep their bytes, and grading still knows
    every graded cell of A.
    """
    root = copy_template(course_template, tmp_path / "course")
    mine = os.path.join(root, "exercises", ASSIGNMENT, ASSIGNMENT + ".ipynb")
    write_nb(course_template["subs"]["full1"][0], mine)
    before = batch.read_tree(os.path.join(root, "exercises"))
    assert not os.path.exists(os.path.join(root, "gradebook.db"))
    report = batch.grade_assignment(root, ASSIGNMENT, students=["full1", "blank1"], jobs=2, progress=False)
    assert batch.read_tree(os.path.join(root, "exercises")) == before
    points = sum(expected_points(sorted(FUNCTIONS)).values())
    assert statuses(report) == {"full1": batch.OK, "blank1": batch.OK}
    assert report["table"]["full1"]["auto"] == report["table"]["full1"]["auto_max"] == points > 0
    assert report["table"]["blank1"]["auto"] == 0
    # a second run finds the assignment registered and changes nothing either
    assert not batch.ensure_assignment(root, ASSIGNMENT, batch.course_db_url(root), b"")
    assert batch.read_tree(os.path.join(root, "exercises")) == before


def test_a_submission_past_its_time_limit_fails_alone_and_its_grader_is_killed(course_template, tmp_path):
    root = course_template["root"]
    files = batch.course_files(root, ASSIGNMENT)
    gradebook = batch.template_gradebook(root, ASSIGNMENT)
    job = batch.make_job(root, ASSIGNMENT, "hang", gradebook, files, timeout=4, env={"CNNLAB_CELL_TIMEOUT": "60"})
    assert is_plain(job)
    result = batch.grade_one(job)
    assert is_plain(result)
    assert result["status"] == batch.FAILED and result["reason"].startswith("timeout"), result["reason"]
    assert result["seconds"] < 30
    # the forked nbgrader (and its process group) is gone: this thread's zygote has no child left
    zygote = batch.zygotes.process.pid
    children = open(f"/proc/{zygote}/task/{zygote}/children").read().split()
    assert children == [], children


def is_plain(value):
    """Only dicts with string keys, lists, strings, bytes, numbers, booleans and None."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(is_plain(v) for v in value)
    return value is None or isinstance(value, (str, bytes, int, float, bool))


def test_bad_arguments_are_rejected_with_their_names(course_template):
    with pytest.raises(ValueError, match="jobs"):
        batch.grade_assignment(course_template["root"], ASSIGNMENT, jobs=0, progress=False)
    with pytest.raises(ValueError, match="students.*nobody"):
        batch.grade_assignment(course_template["root"], ASSIGNMENT, students=["nobody"], progress=False)
    with pytest.raises(ValueError, match="assignment"):
        batch.grade_assignment(course_template["root"], "99_missing", progress=False)


def test_importing_grade_py_changes_no_environment_variable():
    before = dict(os.environ)
    load_grade_script("cnnlab_grade_script_environment")
    assert dict(os.environ) == before


def test_scores_reads_the_gradebook_that_nbgrader_config_names(tmp_path):
    """`grade.py scores` opens ``c.CourseDirectory.db_url``, not a gradebook.db it assumes."""
    from nbgrader.api import Gradebook

    root = tmp_path / "course"
    (root / "submitted" / "alice" / "a1").mkdir(parents=True)
    (root / "submitted" / "alice" / "a1" / "a1.ipynb").write_text("{}")
    (root / "autograded" / "alice" / "a1").mkdir(parents=True)
    (root / "autograded" / "alice" / "a1" / "a1.ipynb").write_text("{}")
    url = "sqlite:///" + str(tmp_path / "elsewhere.db")
    (root / "nbgrader_config.py").write_text(f"c = get_config()\nc.CourseDirectory.db_url = {url!r}\n")
    batch.put_nbgrader_on_path()
    with Gradebook(url) as gb:
        gb.add_assignment("a1")
        gb.add_notebook("a1", "a1")
        gb.add_grade_cell("test_one", "a1", "a1", max_score=3, cell_type="code")
        gb.add_grade_cell("written", "a1", "a1", max_score=2, cell_type="markdown")
        gb.add_student("alice")
        gb.add_submission("a1", "alice")
        gb.find_grade("test_one", "a1", "a1", "alice").auto_score = 1.5
        gb.db.commit()
    grade = load_grade_script("cnnlab_grade_script_scores")
    table = grade.scores(str(root), "a1")
    assert table == {"alice": {"auto": 1.5, "auto_max": 3.0, "manual_max": 2.0, "cells": {"test_one": 1.5},
                               "failed": False}}
    assert not (root / "gradebook.db").exists()
