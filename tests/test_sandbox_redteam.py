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
