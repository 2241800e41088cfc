"""nbgrader configuration for the course (loaded by autograder.pipeline and by the root
``nbgrader_config.py`` that JupyterLab's nbgrader extension and the ``nbgrader`` CLI read).

Sources are the notebooks in ``solutions/<lab>/``; the student release goes to ``labs/<lab>/``.
Grading work folders live under ``$COURSE_GRADING_DIR`` (default ``grading/``, gitignored); the
gradebook is ``grading/gradebook.db`` unless ``$COURSE_GRADEBOOK_URL`` names another database.
"""

import os
import sys
from pathlib import Path

from course.selfcheck import CELL_TIMEOUT

c = get_config()  # noqa: F821 (injected by traitlets)

root = Path(__file__).resolve().parent.parent
grading = Path(os.environ.get("COURSE_GRADING_DIR", root / "grading")).resolve()

c.CourseDirectory.course_id = "applied-ml"
c.CourseDirectory.root = str(root)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = str(grading / "submitted")
c.CourseDirectory.autograded_directory = str(grading / "autograded")
c.CourseDirectory.feedback_directory = str(grading / "feedback")
# SQLite by default; any SQLAlchemy URL (e.g. postgresql://user@host/db) through COURSE_GRADEBOOK_URL.
c.CourseDirectory.db_url = os.environ.get("COURSE_GRADEBOOK_URL") or f"sqlite:///{grading / 'gradebook.db'}"
c.Exchange.root = str(grading / "exchange")  # unused, but nbgrader wants it writable
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.bak"]

c.ExecutePreprocessor.timeout = int(CELL_TIMEOUT)  # see autograder.sandbox.Limits.cell_timeout
# The lab's own code cells become locked cells (read-only in JupyterLab; the grader runs the master's).
if str(root) not in sys.path:  # the nbgrader CLI and JupyterLab load this file from anywhere
    sys.path.insert(0, str(root))
from autograder.integrity import LockLabCells  # noqa: E402
from nbgrader.converters import GenerateAssignment  # noqa: E402

c.GenerateAssignment.preprocessors = [LockLabCells, *GenerateAssignment.class_traits()["preprocessors"].default()]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
