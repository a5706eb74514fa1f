"""A PostgreSQL gradebook: `db_url = "postgresql+psycopg2://..."` in nbgrader_config.py, graded with --jobs 2.

The test starts a real server from Debian's `postgresql` package (initdb in a scratch data
directory, `postgres` on 127.0.0.1 and a free port, run as the unprivileged `postgres` user when
the test runs as root), grades forged submissions of 01_image_data into it in parallel, checks
the scores in the database and `export`, and stops the server by the process id it started.
"""

import csv
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from course_copy import REPO, copy_course, write_nb
from test_grade_parallel import ASSIGNMENT, CELL_TIMEOUT, FUNCTIONS, expected_points, forged_submissions

PG_BIN = "/usr/lib/postgresql/15/bin"
STUDENTS = ["full1", "partial3", "blank1", "crash_exit"]

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(PG_BIN, "postgres")),
                                reason=f"PostgreSQL server binaries not found in {PG_BIN} (Debian package postgresql)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL server and database; yields the SQLAlchemy URL."""
    psycopg2 = pytest.importorskip("psycopg2")
    # A folder the server's user can reach (pytest's tmp_path lies under a root-only folder).
    scratch = tempfile.mkdtemp(prefix="cnnlab-postgres-")
    data, sockets = os.path.join(scratch, "data"), os.path.join(scratch, "sockets")
    os.makedirs(sockets)
    as_user = None
    if os.geteuid() == 0:  # the server refuses to run as root
        user = pwd.getpwnam("postgres")
        as_user = (user.pw_uid, user.pw_gid)
        for path in (scratch, sockets):
            os.chown(path, *as_user)

    def drop_privileges():
        if as_user is not None:
            os.setgroups([])
            os.setgid(as_user[1])
            os.setuid(as_user[0])

    port = free_port()
    subprocess.run([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "cnnlab", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, preexec_fn=drop_privileges, cwd=scratch)
    log = open(os.path.join(scratch, "server.log"), "wb")
    server = subprocess.Popen([os.path.join(PG_BIN, "postgres"), "-D", data, "-k", sockets, "-p", str(port),
                               "-h", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT,
                              preexec_fn=drop_privileges, cwd=scratch)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = psycopg2.connect(host="127.0.0.1", port=port, user="cnnlab", dbname="postgres")
                break
            except psycopg2.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not start: " + open(log.name).read()[-2000:])
                time.sleep(0.3)
        connection.autocommit = True
        connection.cursor().execute("CREATE DATABASE gradebook")
        connection.close()
        # SQLAlchemy's URL with the driver named: psycopg2-binary is what requirements.txt installs
        yield f"postgresql+psycopg2://cnnlab@127.0.0.1:{port}/gradebook"
    finally:
        server.send_signal(signal.SIGINT)  # "fast shutdown" of the server we started, by its pid
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


def test_parallel_grading_into_a_postgresql_gradebook(postgres_url, tmp_path, monkeypatch):
    import psycopg2

    monkeypatch.setenv("CNNLAB_CELL_TIMEOUT", str(CELL_TIMEOUT))
    root = tmp_path / "course"
    copy_course(str(root), [ASSIGNMENT])
    with open(root / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.CourseDirectory.db_url = {postgres_url!r}\n")
    subs = forged_submissions()
    for student in STUDENTS:
        write_nb(subs[student][0], str(root / "submitted" / student / ASSIGNMENT / (ASSIGNMENT + ".ipynb")))

    script = [sys.executable, os.path.join(REPO, "scripts", "grade.py"), "--root", str(root)]
    done = subprocess.run(script + ["autograde", ASSIGNMENT, "--jobs", "2"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr  # crash_exit FAILED
    assert f"{len(STUDENTS)} submissions, 1 FAILED" in done.stdout
    assert not (root / "gradebook.db").exists()  # everything went to PostgreSQL

    connection = psycopg2.connect(postgres_url.replace("postgresql+psycopg2://", "postgresql://", 1))
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT student.id, base_cell.name, grade.auto_score FROM grade"
            " JOIN submitted_notebook ON grade.notebook_id = submitted_notebook.id"
            " JOIN submitted_assignment ON submitted_notebook.assignment_id = submitted_assignment.id"
            " JOIN student ON submitted_assignment.student_id = student.id"
            " JOIN base_cell ON grade.cell_id = base_cell.id")
        rows = cursor.fetchall()
    connection.close()
    stored = {}
    for student, cell, score in rows:
        stored.setdefault(student, {})[cell] = score
    assert set(stored) == set(STUDENTS)
    for student in STUDENTS:
        solved = subs[student][1]
        if solved is None:  # FAILED: no automatic score, flagged for a human
            assert all(score is None for score in stored[student].values()), stored[student]
            continue
        expected = expected_points(solved)
        assert {cell: stored[student][cell] for cell in expected} == expected, student

    scores = subprocess.run(script + ["scores", ASSIGNMENT], capture_output=True, text=True, timeout=300)
    assert scores.returncode == 0, scores.stdout + scores.stderr
    rows = {line.split()[0]: line for line in scores.stdout.splitlines()[1:]}
    assert set(rows) == set(STUDENTS)
    full_marks = sum(expected_points(FUNCTIONS).values())
    for student in STUDENTS:
        solved = subs[student][1]
        points = sum(expected_points(solved or []).values())
        assert rows[student].split()[1:4] == [f"{points:.1f}", "/", f"{full_marks:.1f}"], rows[student]
        assert ("FAILED" in rows[student]) == (solved is None), rows[student]
    assert not (root / "gradebook.db").exists()  # `scores` read PostgreSQL too, it made no SQLite file

    csv_path = tmp_path / "grades.csv"
    export = subprocess.run(script + ["export", "--to", str(csv_path)], capture_output=True, text=True, timeout=300)
    assert export.returncode == 0, export.stdout + export.stderr
    with open(csv_path, newline="") as f:
        exported = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(f)}
    assert exported == {s: sum(expected_points(subs[s][1] or []).values()) for s in STUDENTS}
