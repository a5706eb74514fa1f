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
# seconds, at most MAX_CELL_TIMEOUT.
CELL_TIMEOUT = int(os.environ.get("CNNLAB_CELL_TIMEOUT", "60"))
MAX_CELL_TIMEOUT = 600
_TIMEOUT_MARK = re.compile(r"#\s*cnnlab-timeout:\s*(\d+)")


def cell_timeout(cell):
    """Seconds allowed for one cell (nbclient calls this with the cell)."""
    found = _TIMEOUT_MARK.search(cell.get("source", "") if hasattr(cell, "get") else str(cell))
    if found:
        return min(int(found.group(1)), MAX_CELL_TIMEOUT)
    return CELL_TIMEOUT


c.Execute.timeout = CELL_TIMEOUT
c.Execute.timeout_func = cell_timeout
c.Execute.interrupt_on_timeout = True  # interrupt and go on (nbgrader's default, stated here on purpose)
c.Execute.startup_timeout = 60
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
