"""The jail itself (cnnlab.grading.sandbox): what a process inside it can and cannot see and do.

Each test starts a real bubblewrap sandbox running a short Python script and asserts on what the
script could observe from inside. No nbgrader here (see test_sandbox_attacks.py for that).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest

from cnnlab.grading import sandbox as sandbox_module
from cnnlab.grading.sandbox import Sandbox, SandboxUnavailable, check_bwrap
from course_copy import REPO, copy_course, load_grade_script

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap)")


def run_inside(code, allow_torch=False, timeout=120, **limits):
    """Run ``code`` with the venv's Python inside a fresh sandbox; returns (returncode, stdout, stderr, box paths)."""
    with Sandbox(allow_torch=allow_torch, **limits) as box:
        result = subprocess.run(box.wrap([sys.executable, "-c", code]), capture_output=True, text=True,
                                timeout=timeout)
        outbox = sorted(os.listdir(box.outbox))
        return result.returncode, result.stdout, result.stderr, outbox


def test_the_course_directory_is_not_there():
    code = f"""
import json, os
repo = {REPO!r}
print(json.dumps({{"repo": sorted(os.listdir(repo)), "solutions": os.path.exists(os.path.join(repo, "solutions")),
                  "gradebook": os.path.exists(os.path.join(repo, "gradebook.db")),
                  "sources": os.path.exists(os.path.join(repo, "cnnlab", "reference")),
                  "cwd": sorted(os.listdir("."))}}))
"""
    rc, out, err, _ = run_inside(code)
    assert rc == 0, err
    seen = json.loads(out.splitlines()[-1])
    assert seen["repo"] == [".venv"] or seen["repo"] == []  # only the (read-only) virtual environment
    assert not seen["solutions"] and not seen["gradebook"] and not seen["sources"]
    assert seen["cwd"] == []


def test_the_answer_key_says_it_is_not_available():
    code = """
import cnnlab, cnnlab.grading
from cnnlab.reference import conv2d
try:
    conv2d(1, 2)
except Exception as error:
    print(type(error).__name__, "|", error)
print(hasattr(cnnlab.grading, "answers"), cnnlab.grading.__file__)
"""
    rc, out, err, _ = run_inside(code)
    assert rc == 0, err
    assert "AnswerKeyUnavailable | the answer key is not available while grading: write it yourself" in out
    assert not out.splitlines()[-1].split()[-1].startswith(os.path.join(REPO, "cnnlab"))


def test_numpy_exercises_have_no_torch_or_scipy_but_pytorch_ones_do():
    code = """
for name in ("torch", "scipy", "skimage", "sklearn"):
    try:
        __import__(name)
        print(name, "present")
    except ImportError as error:
        print(name, "absent")
"""
    rc, out, err, _ = run_inside(code)
    assert rc == 0, err
    assert out.split() == ["torch", "absent", "scipy", "absent", "skimage", "absent", "sklearn", "absent"]
    rc, out, err, _ = run_inside("import torch; print(torch.ones(2).sum().item())", allow_torch=True)
    assert rc == 0 and out.strip() == "2.0", err


def test_pytorch_exercises_cannot_reach_libraries_that_would_do_the_work():
    # A student who read static.py hides the name from it: "sk" + "learn" is no string constant to flag.
    code = """
import importlib
for name in ("sk" + "learn", "torch" + "vision"):
    try:
        importlib.import_module(name)
        print(name, "present")
    except ImportError:
        print(name, "absent")
"""
    rc, out, err, _ = run_inside(code, allow_torch=True)
    assert rc == 0, err
    assert out.split() == ["sklearn", "absent", "torchvision", "absent"]


def test_no_network_a_listener_on_the_host_receives_nothing():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    received, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        code = f"""
import socket
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=3) as s:
        s.sendall(b"secret")
    print("sent")
except OSError as error:
    print("refused", type(error).__name__)
"""
        rc, out, err, _ = run_inside(code)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
    assert rc == 0, err
    assert out.startswith("refused")
    assert received == []


def test_memory_over_the_limit_gives_memory_error():
    code = """
import numpy as np
try:
    a = np.ones(3 * 2**30 // 8)
    print("allocated", a.nbytes)
except MemoryError:
    print("MemoryError")
"""
    rc, out, err, _ = run_inside(code, memory="1G")
    assert rc == 0, err
    assert out.strip() == "MemoryError"


def test_process_limit_stops_a_fork_bomb():
    code = """
import os, time
children = 0
try:
    for _ in range(500):
        pid = os.fork()
        if pid == 0:
            time.sleep(2)
            os._exit(0)
        children += 1
except OSError as error:
    print("stopped after", children, type(error).__name__)
else:
    print("forked", children)
"""
    rc, out, err, _ = run_inside(code, processes=40)
    assert rc == 0, err
    assert out.startswith("stopped after"), out
    assert int(out.split()[2]) < 40


def test_home_tmp_and_outbox_are_private_and_writable():
    code = """
import os
for folder in (os.environ["HOME"], "/tmp", os.environ["CNNLAB_OUTBOX"], "."):
    with open(os.path.join(folder, "probe.txt"), "w") as f:
        f.write("x")
try:
    open("/usr/probe.txt", "w")
    print("system writable")
except OSError:
    print("system read-only")
print(os.getpid())
"""
    rc, out, err, outbox = run_inside(code)
    assert rc == 0, err
    assert out.splitlines()[0] == "system read-only"
    assert int(out.splitlines()[1]) < 10  # its own PID namespace
    assert outbox == ["probe.txt"]  # the outbox is the one folder the trusted side reads


def test_missing_bwrap_says_what_to_install(monkeypatch):
    check_bwrap.cache_clear()
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    try:
        with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
            Sandbox()
    finally:
        check_bwrap.cache_clear()


def test_no_sandbox_is_announced(monkeypatch):
    monkeypatch.setenv("CNNLAB_NO_SANDBOX", "1")
    assert sandbox_module.sandbox_disabled()
    assert "WITHOUT the sandbox" in sandbox_module.NO_SANDBOX_WARNING
    monkeypatch.setenv("CNNLAB_NO_SANDBOX", "0")
    assert not sandbox_module.sandbox_disabled()


def small_course(tmp_path, name="02_convolution"):
    """A course copy with one assignment and its solution submitted by student "solution"."""
    grade = load_grade_script("cnnlab_grade_script_sandbox")
    root = copy_course(str(tmp_path / "course"), [name], folders=("solutions",))
    grade.generate(root, None, quiet=True)
    os.makedirs(os.path.join(root, "submitted", "solution", name))
    shutil.copy(os.path.join(REPO, "solutions", name, name + ".ipynb"), os.path.join(root, "submitted", "solution", name))
    return grade, root


@pytest.mark.slow
def test_autograde_without_bwrap_stops_and_says_what_to_install(tmp_path):
    grade, root = small_course(tmp_path)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))  # no /usr/bin: no bwrap
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "02_convolution", "--force"], cwd=root,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0
    assert "apt-get install bubblewrap" in result.stdout + result.stderr
    assert grade.scores(root, "02_convolution")["solution"]["auto"] == 0  # nothing was graded


@pytest.mark.slow
def test_no_sandbox_warns_and_still_gives_the_trusted_verdict(tmp_path):
    grade, root = small_course(tmp_path)
    env = dict(os.environ, CNNLAB_NO_SANDBOX="1")
    result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", "02_convolution", "--force"], cwd=root,
                            env=env, capture_output=True, text=True, timeout=600)
    assert "WITHOUT the sandbox" in result.stdout + result.stderr
    row = grade.scores(root, "02_convolution")["solution"]
    assert row["auto"] == row["auto_max"] > 0, row
