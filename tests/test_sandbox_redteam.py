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
import re
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


# ---------------------------------------------------------------------------------------------
# End to end (slow): hostile submissions of 02 graded by one `nbgrader autograde` call
# ---------------------------------------------------------------------------------------------

from course_copy import cell_timeout, insert_code_cell, set_source  # noqa: E402

E2E_CELL_TIMEOUT = 15
E2E_DISK = "128M"
# Item 4: a student's own cell asks for 600 s, and sleeps past the cell timeout.
OWN_TIMEOUT = f"# cnnlab-timeout: 600\nimport time\ntime.sleep({E2E_CELL_TIMEOUT + 20})\nprint('slept past the cell timeout')\n"
# Item 12: one 30 MB line (LimitOutput counts lines).
BIG_OUTPUT = "print('x' * 30_000_000)\n"
# Item 13: a 1,500-deep tree and a 64 MiB file left in the working directory.
DEEP_TREE = '''
import os
fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
for _ in range(1500):
    os.mkdir("d", dir_fd=fd)
    child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = child
with open(os.open("leftover.bin", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd), "wb") as f:
    f.write(b"x" * 2**26)
print("tree made")
'''
# Item 11: fill the working directory with 32 MiB files until the disk says no.
FILL_DISK = '''
import os
written = 0
for i in range(100):
    try:
        with open(f"fill{i}.bin", "wb") as f:
            f.write(b"x" * 2**25)
        written += 2**25
    except OSError as error:
        break
print("written", written)
for i in range(100):
    if os.path.exists(f"fill{i}.bin"):
        os.unlink(f"fill{i}.bin")  # so that the honest rest of the notebook still runs
'''
# Item 5: HTML that would run in formgrader and in the feedback: as an output and as the written answer.
XSS_OUTPUT = '''
from IPython.display import HTML, Javascript, display
display(HTML("<img src=x onerror=\\"document.documentElement.dataset.pwnedOutput='1'\\">"
             "<script>document.documentElement.dataset.pwnedScript='1'</script>"))
display(Javascript("document.documentElement.dataset.pwnedJs='1'"))
'''
XSS_ANSWER = ('<img src=x onerror="document.documentElement.dataset.pwnedAnswer=\'1\'">'
              '<script>document.documentElement.dataset.pwnedAnswerScript="1"</script> My answer.')


def xss_notebook():
    nb = insert_code_cell(solution_nb(), 2, XSS_OUTPUT)
    return set_source(nb, "answer_parameters", XSS_ANSWER)


def sandbox_leftovers():
    import glob

    return set(glob.glob("/tmp/cnnlab-sandbox-*"))


def needs_grading_mark(test):
    """Mark an end-to-end test: slow, and skipped without bubblewrap."""
    test = pytest.mark.slow(test)
    return pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")(test)


@pytest.fixture(scope="module")
def hostile_course(tmp_path_factory):
    root = copy_course(str(tmp_path_factory.mktemp("hostile_course")), assignments=[NAME], folders=("solutions",))
    old_disk = os.environ.get("CNNLAB_SANDBOX_DISK")
    os.environ["CNNLAB_SANDBOX_DISK"] = E2E_DISK
    try:
        with cell_timeout(E2E_CELL_TIMEOUT):
            grade.generate(root, None, quiet=True)
            subs = {"honest": solution_nb(), "own_timeout": insert_code_cell(solution_nb(), 2, OWN_TIMEOUT),
                    "big_output": insert_code_cell(solution_nb(), 2, BIG_OUTPUT),
                    "deep_tree": insert_code_cell(solution_nb(), 2, DEEP_TREE),
                    "fill_disk": insert_code_cell(solution_nb(), 2, FILL_DISK), "xss": xss_notebook()}
            for student, nb in subs.items():
                write_nb(nb, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))
            before = sandbox_leftovers()
            result = grade.nbgrader(root, "autograde", NAME, "--force", check=False, quiet=True)
            leftovers = sandbox_leftovers() - before
            table = grade.scores(root, NAME)
            feedback = grade.nbgrader(root, "generate_feedback", NAME, "--force", check=False, quiet=True)
    finally:
        if old_disk is None:
            os.environ.pop("CNNLAB_SANDBOX_DISK", None)
        else:
            os.environ["CNNLAB_SANDBOX_DISK"] = old_disk
    yield {"root": root, "table": table, "log": result.stdout + result.stderr, "leftovers": leftovers,
           "feedback_log": feedback.stdout + feedback.stderr}


def graded_path(course, student):
    return os.path.join(course["root"], "autograded", student, NAME, NAME + ".ipynb")


def graded_text(course, student):
    with open(graded_path(course, student), encoding="utf-8") as f:
        return f.read()


def full_marks(course, student):
    row = course["table"][student]
    assert not row["failed"], f"{student} FAILED: " + course["log"][-3000:]
    assert row["auto"] == row["auto_max"] > 0, row["cells"]


@needs_grading_mark
@pytest.mark.parametrize("student", ["honest", "own_timeout", "big_output", "deep_tree", "fill_disk", "xss"])
def test_hostile_side_effects_keep_the_honest_marks(hostile_course, student):
    full_marks(hostile_course, student)


@needs_grading_mark
def test_a_student_cell_cannot_raise_its_own_timeout(hostile_course):
    cell = read_nb(graded_path(hostile_course, "own_timeout"))["cells"][2]
    assert "cnnlab-timeout: 600" in "".join(cell["source"])
    printed = "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")
    assert "slept past the cell timeout" not in printed
    assert "CellTimeoutError" in [o.get("ename") for o in cell["outputs"]], cell["outputs"]


@needs_grading_mark
def test_outputs_are_capped_by_bytes_with_a_visible_mark(hostile_course):
    size = os.path.getsize(graded_path(hostile_course, "big_output"))
    assert size < 6_000_000, size
    assert "[output truncated]" in graded_text(hostile_course, "big_output")


@needs_grading_mark
def test_a_deep_tree_is_cleaned_up_and_nothing_of_the_sandbox_is_left(hostile_course):
    assert "tree made" in graded_text(hostile_course, "deep_tree")
    assert hostile_course["leftovers"] == set()
    assert "RecursionError" not in hostile_course["log"]


@needs_grading_mark
def test_filling_the_disk_stops_at_the_sandbox_limit(hostile_course):
    text = json.dumps(read_nb(graded_path(hostile_course, "fill_disk")))
    written = int(text.split("written ")[1].split("\\n")[0])
    assert 0 < written <= 128 * 2**20, written


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def formgrader_html(path):
    """The autograded notebook rendered as formgrader renders it (its exporter, template and config)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": NAME, "notebook_id": NAME, "submission_id": "x", "index": 0, "total": 1,
                 "base_url": "", "student": "xss", "last_name": "", "first_name": "", "notebook_path": path}
    html, _ = HTMLExporter(config=config).from_filename(path, resources=resources)
    return html


@needs_grading_mark
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is missing: scripts/setup.sh installs Debian's `chromium`")
def test_no_script_of_the_submission_runs_in_formgrader_or_the_feedback(hostile_course, tmp_path):
    from playwright.sync_api import sync_playwright

    pages = {"formgrader": tmp_path / "formgrader.html",
             "feedback": os.path.join(hostile_course["root"], "feedback", "xss", NAME, NAME + ".html")}
    pages["formgrader"].write_text(formgrader_html(graded_path(hostile_course, "xss")), encoding="utf-8")
    assert os.path.exists(pages["feedback"]), hostile_course["feedback_log"][-2000:]
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            for what, path in pages.items():
                page = browser.new_page()
                page.goto("file://" + str(path))
                page.wait_for_timeout(1500)  # onerror of a missing image fires after load
                ran = page.evaluate("Object.keys(document.documentElement.dataset).filter(k => k.startsWith('pwned'))")
                assert ran == [], f"{what}: the submission's script ran ({ran})"
                assert "My answer." in page.content()  # the answer is still shown, as text
                page.close()
        finally:
            browser.close()


# ---------------------------------------------------------------------------------------------
# Item 10: one sandbox that holds all its process slots leaves the others theirs
# ---------------------------------------------------------------------------------------------


def hog_source(forks, seconds):
    """A submission's code that forks up to ``forks`` sleeping children, says how many it got and holds them."""
    return f"""
import os, time
held, stopped = 0, "no limit reached"
try:
    for _ in range({forks}):
        if os.fork() == 0:
            time.sleep({seconds} + 20)
            os._exit(0)
        held += 1
except OSError as error:
    stopped = type(error).__name__
print("held", held, stopped, flush=True)
time.sleep({seconds})
"""


HOG = hog_source(200, 60)
SPAWN = """
import subprocess
children = [subprocess.Popen(["sleep", "5"]) for _ in range(20)]
print("started", len(children))
"""


@pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0, reason="needs bwrap, and root for the uid pool")
def test_a_process_hog_does_not_use_up_another_sandboxs_process_limit():
    with Sandbox(processes=60) as hog_box, Sandbox(processes=60) as honest_box:
        assert hog_box.uid != honest_box.uid
        hog = subprocess.Popen(hog_box.wrap([sys.executable, "-c", HOG]), stdout=subprocess.PIPE, text=True)
        try:
            line = hog.stdout.readline()
            assert line.startswith("held") and int(line.split()[1]) >= 40, line
            honest = subprocess.run(honest_box.wrap([sys.executable, "-c", SPAWN]), capture_output=True, text=True,
                                    timeout=120)
        finally:
            hog.kill()
            hog.wait()
        assert honest.returncode == 0 and "started 20" in honest.stdout, honest.stderr[-2000:]


# The whole pipeline: `grade.py autograde --jobs 3` grades a hog that takes every process slot it
# can get and keeps them for 40 s, while four honest submissions are graded beside it: two start
# with it, two start while it holds the slots (with one shared uid, their kernels could not start).
PIPELINE_HOG = hog_source(1500, 40)
HONEST = ("honest1", "honest2", "honest3", "honest4")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0, reason="needs bwrap, and root for the uid pool")
def test_a_process_hog_graded_beside_honest_submissions_leaves_them_full_marks(tmp_path):
    root = copy_course(str(tmp_path / "course"), assignments=[NAME], folders=("solutions",))
    with cell_timeout(60):
        grade.generate(root, None, quiet=True)
        subs = {"hog": insert_code_cell(solution_nb(), 2, PIPELINE_HOG), **{s: solution_nb() for s in HONEST}}
        for student, nb in subs.items():
            write_nb(nb, os.path.join(root, "submitted", student, NAME, NAME + ".ipynb"))
        failed = grade.autograde(root, NAME, jobs=3)
        table = grade.scores(root, NAME)
    with open(os.path.join(root, "autograded", "hog", NAME, NAME + ".ipynb"), encoding="utf-8") as f:
        hog_text = f.read()
    assert re.search(r"held \d+ \w*Error", hog_text), "the hog did not reach its own limit"  # it held all it could
    assert failed == 0
    for student in HONEST:
        row = table[student]
        assert not row["failed"] and row["auto"] == row["auto_max"] > 0, (student, row["cells"])


# ---------------------------------------------------------------------------------------------
# Item 3: CPU time of children nobody waits for still counts
# ---------------------------------------------------------------------------------------------

UNWAITED_CHILD = """
import os, signal, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel: in nobody's cutime
if os.fork() == 0:
    start = time.process_time()
    while time.process_time() - start < 2:
        pass
    os._exit(0)
time.sleep(9)
"""


@pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0, reason="needs bwrap, and root for cgroups")
def test_cpu_of_a_child_that_nobody_waits_for_is_counted():
    from cnnlab.grading.sandbox import process_tree_cpu_seconds

    with Sandbox() as box:
        before = box.cpu_seconds_used()
        process = subprocess.Popen(box.wrap([sys.executable, "-c", UNWAITED_CHILD]))
        time.sleep(8)  # the child is done and gone; its parent still runs
        tree = process_tree_cpu_seconds(process.pid)  # what the grader measured before
        process.wait(timeout=60)
        used = box.cpu_seconds_used() - before
    assert used >= 1.8 and tree < 1.0, (used, tree)
