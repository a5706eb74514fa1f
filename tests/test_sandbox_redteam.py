"""The red-team attacks of issue 18 on the grader, the boundary and the instructor, one test each.

Each test forges what the attacker did and fails on the code before the fix: symlinks and path
traversal in ``collect`` (items 6, 7), a student cell that sets its own timeout (4), records that
turn into symlinks or FIFOs and records that name one array many times (8, 9), huge outputs (12),
a deep directory tree (13), filling the disk (11), student HTML that runs in formgrader (5), and
the limits that one sandbox could use up for the others (10, 3).

The collect tests and the boundary tests need no nbgrader run; the others grade forged
submissions with one ``nbgrader autograde`` call in a temporary copy of the course (``slow``).
"""

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile

import pytest

from course_copy import REPO, copy_course, load_grade_script, read_nb, write_nb

grade = load_grade_script("cnnlab_grade_script_redteam")

NAME = "02_convolution"


def solution_nb():
    return read_nb(os.path.join(REPO, "solutions", NAME, NAME + ".ipynb"))


@pytest.fixture
def course(tmp_path):
    return copy_course(str(tmp_path / "course"), assignments=[NAME], folders=("solutions",))


# ---------------------------------------------------------------------------------------------
# Items 6 and 7: collect takes plain files only, and writes inside submitted/ only
# ---------------------------------------------------------------------------------------------


def test_collect_refuses_symlinks_hard_links_and_fifos(course, tmp_path, capsys):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    write_nb(solution_nb(), str(downloads / "alice.ipynb"))  # the one honest download
    answer = os.path.join(course, "solutions", NAME, NAME + ".ipynb")
    os.symlink(answer, downloads / "mallory.ipynb")  # the instructor's solution, through a symlink
    os.makedirs(downloads / "trudy" / "work")
    os.symlink("/proc/self/cwd/solutions/02_convolution/02_convolution.ipynb",
               downloads / "trudy" / "work" / (NAME + ".ipynb"))
    os.makedirs(downloads / "eve")
    os.link(answer, downloads / "eve" / (NAME + ".ipynb"))  # a hard link to the solution
    os.mkfifo(downloads / "oscar.ipynb")  # a FIFO would hang the copy
    os.symlink(os.path.join(course, "solutions"), downloads / "walter")  # a whole folder, linked
    collected = grade.collect(course, NAME, str(downloads))
    assert collected == ["alice"]
    assert sorted(os.listdir(os.path.join(course, "submitted"))) == ["alice"]
    out = capsys.readouterr().out
    for who in ("mallory", "trudy", "eve", "oscar", "walter"):
        assert f"refused {downloads / who}" in out, out


def test_collect_refuses_student_ids_that_leave_submitted(course, tmp_path, capsys):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    write_nb(solution_nb(), str(downloads / "...ipynb"))  # the student id ".."
    write_nb(solution_nb(), str(downloads / "..._02_convolution.ipynb"))
    write_nb(solution_nb(), str(downloads / "alice.smith@uni.ipynb"))
    collected = grade.collect(course, NAME, str(downloads))
    assert collected == ["alice.smith@uni"]
    assert not os.path.exists(os.path.join(course, NAME))  # submitted/../02_convolution
    assert os.listdir(os.path.join(course, "submitted")) == ["alice.smith@uni"]
    assert "cannot make a valid student id" in capsys.readouterr().out
    assert [grade.student_id(s) for s in ("..", ".", "a..b", "bob jones", "_x_")] == [None, None, None, "bob_jones", "x"]


def test_collect_reads_archives_with_member_checks(course, tmp_path, capsys):
    archive = tmp_path / "downloads.zip"
    text = json.dumps(solution_nb())
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("alice/" + NAME + ".ipynb", text)
        zf.writestr("../../escaped/" + NAME + ".ipynb", text)
        zf.writestr("/abs/" + NAME + ".ipynb", text)
        link = zipfile.ZipInfo("mallory/" + NAME + ".ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/proc/self/cwd/solutions/02_convolution/02_convolution.ipynb")
    collected = grade.collect(course, NAME, str(archive))
    assert collected == ["alice"]
    assert not os.path.exists(tmp_path / "escaped") and not os.path.exists(os.path.join(course, "escaped"))
    out = capsys.readouterr().out
    assert "../../escaped" in out and "/abs/" in out and "mallory/" in out and "not a regular file" in out
    with open(os.path.join(course, "submitted", "alice", NAME, NAME + ".ipynb")) as f:
        assert f.read() == text


# ---------------------------------------------------------------------------------------------
# Items 8 and 9: the trusted side reads plain files only, once each, within a byte budget
# ---------------------------------------------------------------------------------------------

import threading  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from cnnlab.grading import boundary  # noqa: E402
from cnnlab.grading.sandbox import Sandbox, remove_tree  # noqa: E402


def finishes(function, seconds=10):
    """(True, result) when ``function()`` returns within ``seconds``; (False, None) when it hangs."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(result=function()), daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), box.get("result")


def test_records_that_are_links_or_fifos_are_never_opened(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    fifo = tmp_path / "host_fifo"
    os.mkfifo(fifo)
    os.symlink(fifo, store / "000000.json")  # what the race of item 8 delivered to the trusted store
    record = {"label": "f(x)", "status": "ok", "value": {"t": "array", "i": 0, "cls": "ndarray"}}
    (store / "000001.json").write_text(json.dumps(record))
    os.symlink("/dev/zero", store / "000001_0.npy")
    done, records = finishes(lambda: boundary.read_records(str(store)))
    assert done, "read_records blocked on a FIFO"
    assert list(records) == [1] and isinstance(records[1]["value"], boundary.Foreign)


def test_a_record_flipped_into_a_symlink_never_reaches_the_trusted_store(tmp_path):
    fifo = tmp_path / "host_fifo"
    os.mkfifo(fifo)
    flip = """
import os, sys
outbox, fifo = sys.argv[1], sys.argv[2]
path, file_tmp, link_tmp = os.path.join(outbox, "000000.json"), os.path.join(outbox, "f.tmp"), os.path.join(outbox, "l.tmp")
while os.path.isdir(outbox):  # the sandbox's side of the race: a file, then a symlink to a host FIFO, ...
    try:
        with open(file_tmp, "w") as f:
            f.write("{}")
        os.replace(file_tmp, path)
        os.symlink(fifo, link_tmp)
        os.replace(link_tmp, path)
    except OSError:
        pass
"""
    reached = []
    with Sandbox(enabled=False) as box:
        flipper = subprocess.Popen([sys.executable, "-c", flip, box.outbox, str(fifo)])
        try:
            deadline = time.monotonic() + 4
            while not os.path.lexists(os.path.join(box.outbox, "000000.json")) and time.monotonic() < deadline:
                time.sleep(0.01)  # the flipper has started
            i = 0
            while time.monotonic() < deadline or i < 300:
                i += 1
                store = str(tmp_path / f"store{i}")
                box.take_outbox(store)
                reached += [n for n in os.listdir(store) if not stat.S_ISREG(os.lstat(os.path.join(store, n)).st_mode)]
        finally:
            flipper.kill()
            flipper.wait()
    assert reached == []


def test_one_array_named_many_times_is_loaded_once_within_a_byte_budget(tmp_path, monkeypatch):
    array = np.ones(2**20, dtype=np.float64)  # 8 MiB
    np.save(tmp_path / "000000_0.npy", array)
    value = {"t": "list", "items": [{"t": "array", "i": 0, "cls": "ndarray"}] * 150}  # 1.2 GiB if loaded 150 times
    (tmp_path / "000000.json").write_text(json.dumps({"label": "f", "status": "ok", "value": value}))
    tracemalloc.start()
    try:
        records = boundary.read_records(str(tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    items = records[0]["value"]
    assert len(items) == 150 and all(item is items[0] for item in items) and np.array_equal(items[0], array)
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    for j in range(1, 4):  # 4 distinct arrays of 8 MiB against a budget of 20 MiB: the last ones do not load
        np.save(tmp_path / f"000001_{j}.npy", array)
    value = {"t": "list", "items": [{"t": "array", "i": j, "cls": "ndarray"} for j in range(1, 4)]}
    (tmp_path / "000001.json").write_text(json.dumps({"label": "g", "status": "ok", "value": value}))
    budget = boundary.LoadBudget(20 * 2**20)
    records = boundary.read_records(str(tmp_path), budget)
    loaded = {id(v) for r in records.values() for v in r["value"] if isinstance(v, np.ndarray)}
    assert len(loaded) == 2 and budget.left >= 0  # record 0's array once, and one of record 1's


def test_an_npy_header_that_promises_more_than_the_file_holds_is_refused(tmp_path):
    np.save(tmp_path / "000000_0.npy", np.ones(4))
    data = (tmp_path / "000000_0.npy").read_bytes()
    old = b"'shape': (4,), }" + b" " * 9
    forged = data.replace(old, b"'shape': (9999999999,), }")  # same header length, 80 GB promised
    assert len(forged) == len(data) and forged != data
    (tmp_path / "000000_0.npy").write_bytes(forged)
    record = {"label": "f", "status": "ok", "value": {"t": "array", "i": 0, "cls": "ndarray"}}
    (tmp_path / "000000.json").write_text(json.dumps(record))
    assert isinstance(boundary.read_records(str(tmp_path))[0]["value"], boundary.Foreign)


# ---------------------------------------------------------------------------------------------
# Item 13: a deep tree is removed without recursion; item 11: the scratch directory has a size
# ---------------------------------------------------------------------------------------------


def deep_tree(top, depth=1500):
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):  # relative to the last folder: a path this long could not be used whole
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    with open(os.open("leftover.bin", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as f:
        f.write(b"x" * 2**20)
    os.close(fd)


def test_a_1500_deep_tree_is_removed_and_closing_the_sandbox_does_not_raise(tmp_path):
    os.mkdir(tmp_path / "alone")
    deep_tree(str(tmp_path / "alone"))
    assert remove_tree(str(tmp_path / "alone")) and not os.path.exists(tmp_path / "alone")
    box = Sandbox(enabled=False)
    deep_tree(box.work)
    box.close()
    assert not os.path.exists(box.scratch)


@pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0, reason="needs bwrap, and root for the tmpfs")
def test_work_outbox_and_conn_share_one_size_capped_tmpfs():
    code = """
import os
written = 0
for folder in (os.getcwd(), os.environ["CNNLAB_OUTBOX"]):
    for i in range(40):  # 40 files of 8 MiB each: RLIMIT_FSIZE alone would let all of them through
        try:
            with open(os.path.join(folder, f"fill{i}.bin"), "wb") as f:
                f.write(b"x" * 2**23)
            written += 2**23
        except OSError:
            break
print(written)
"""
    with Sandbox(disk="64M") as box:
        result = subprocess.run(box.wrap([sys.executable, "-c", code]), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert int(result.stdout) <= 64 * 2**20, result.stdout
        assert box.mounted and os.statvfs(box.work).f_blocks * os.statvfs(box.work).f_frsize <= 64 * 2**20
        scratch = box.scratch
    assert not os.path.exists(scratch)
