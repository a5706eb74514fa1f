"""nbgrader configuration: the repository is the course directory.

    solutions/<assignment>/<assignment>.ipynb   instructor (source) notebooks, with solutions and hidden tests
    exercises/<assignment>/<assignment>.ipynb   student release, made by `nbgrader generate_assignment`
    submitted/, autograded/, feedback/, gradebook.db   grading products (git-ignored)

Use `python scripts/grade.py --help` for the whole workflow (generate, release, collect, autograde,
feedback, export).
"""

import os
import re

c = get_config()  # noqa: F821 - injected by traitlets when nbgrader loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "cnnlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]

# Every cell gets CELL_TIMEOUT seconds. A cell that runs longer (an endless loop) is interrupted,
# gets a CellTimeoutError output and the notebook goes on with the next cell, so one student's
# loop costs that cell's points, not the whole run. The grading helpers also stop each call of a
# student function after a few seconds (cnnlab.grading.time_limit), which is much faster.
# A cell whose source contains "# cnnlab-timeout: N" (assignment 07 trains a network) gets N
# seconds, at most MAX_CELL_TIMEOUT. While grading, only the instructor's test cells count, with
# their source from the gradebook (SandboxedExecute): a student's own cell cannot raise its limit.
CELL_TIMEOUT = int(os.environ.get("CNNLAB_CELL_TIMEOUT", "60"))
MAX_CELL_TIMEOUT = 600
_TIMEOUT_MARK = re.compile(r"#\s*cnnlab-timeout:\s*(\d+)")


def cell_timeout(cell):
    """Seconds allowed for one cell (nbclient calls this with the cell)."""
    found = _TIMEOUT_MARK.search(cell.get("source", "") if hasattr(cell, "get") else str(cell))
    if found:
        return min(int(found.group(1)), MAX_CELL_TIMEOUT)
    return CELL_TIMEOUT


# Student code runs only in a sandbox; the score comes from a trusted process (cnnlab.grading).
# SandboxedExecute replaces nbgrader's Execute step: the kernel runs inside bubblewrap (no view of
# this directory, no network, limits below), and the test cells' verdict is computed outside it
# from the results the sandbox recorded. `CNNLAB_NO_SANDBOX=1` (grade.py --no-sandbox) turns the
# jail off, with a warning on every run; `CNNLAB_SANDBOX_MEMORY` (default 4G) sets the memory limit.
import sys  # noqa: E402

sys.path.insert(0, c.CourseDirectory.root)  # the course's own cnnlab, also for `nbgrader` run from elsewhere
from cnnlab.grading.nbgrader_glue import SandboxedExecute  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,  # noqa: E402
                                    SaveAutoGrades)

c.Autograde.autograde_preprocessors = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.SandboxedExecute.memory_limit = os.environ.get("CNNLAB_SANDBOX_MEMORY", "4G")
# work/, outbox/ and conn/ share one tmpfs of this size (when grading as root): the disk a submission can fill
c.SandboxedExecute.disk_limit = os.environ.get("CNNLAB_SANDBOX_DISK", "1G")
c.SandboxedExecute.output_cell_bytes = 1_000_000  # bytes of outputs a cell keeps, then "[output truncated]"
c.SandboxedExecute.output_notebook_bytes = 5_000_000  # ... and the whole notebook (LimitOutput counts lines)
c.SandboxedExecute.cpu_limit = 1800  # CPU seconds per submission (all threads of the kernel)
c.SandboxedExecute.submission_timeout = 1800  # wall seconds per submission
c.SandboxedExecute.torch_assignments = ["07_*", "08_*"]  # the others are NumPy only: torch, scipy, ... absent
# The hidden tests' seeds are drawn from this secret (made once, 0600; $CNNLAB_GRADING_SECRET wins) and
# kept beside the grades: neither is ever committed, and the sandbox sees neither.
c.SandboxedExecute.secret_file = os.path.join(c.CourseDirectory.root, ".grading_secret")
c.SandboxedExecute.seeds_directory = os.path.join(c.CourseDirectory.root, "grading_seeds")
for section in (c.Execute, c.SandboxedExecute):
    section.timeout = CELL_TIMEOUT
    section.timeout_func = cell_timeout
    section.interrupt_on_timeout = True  # interrupt and go on (nbgrader's default, stated here on purpose)
    section.startup_timeout = 60

c.ExecutePreprocessor.timeout = CELL_TIMEOUT  # plain `jupyter nbconvert --execute` of an exercise
c.ExecutePreprocessor.timeout_func = cell_timeout

# Test cells are read-only ("locked"); nbgrader restores their source from the gradebook when a
# student edits them (checksums) and, with this option, re-adds test cells a student deleted.
c.OverwriteCells.add_missing_cells = True

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# A student who prints a huge array should not blow up the gradebook or the feedback page.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60
