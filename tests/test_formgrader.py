"""Grading a written answer by hand in nbgrader's formgrader, in a real browser.

The batch grader fills a gradebook with two submissions of the tiny lab (with a written answer);
a Jupyter server with nbgrader's formgrader runs on that gradebook (as ``make formgrader`` does),
Debian's Chromium (driven by Playwright) gives the written answer points and a comment, and then
the export's total is the automatic points plus the manual ones, and the feedback shows the
comment. Screenshots go to ``build/browser/``.
"""

import html
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from autograder import export, feedback, pipeline, sandbox
from autograder.submissions import Incoming
from ci.env import BUILD, ROOT
from tests import grading_lab as lab

pytestmark = pytest.mark.browser

SCREENSHOTS = BUILD / "browser"
LIMITS = sandbox.Limits(cell_timeout=8, notebook_timeout=60, memory=1 << 30, cell_output=200_000)
COMMENT = "Right idea; say why a float would be wrong."


@pytest.fixture(scope="module")
def formgrader(tmp_path_factory):
    """A graded course and a Jupyter server with formgrader on its gradebook: (url, token, grading dir)."""
    from tests.test_browser import free_port

    root = tmp_path_factory.mktemp("formgrader")
    course = lab.make_course(root / "course", written=True)
    shutil.copytree(ROOT / "autograder", course / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", course)  # formgrader reads it from the server's folder
    grading = root / "grading"
    release = nbformat.read(pipeline.release(lab.LAB, grading_dir=grading, course_dir=course) / f"{lab.LAB}.ipynb",
                            as_version=4)
    answers = {"double": "def double(values):\n    return np.asarray(values, dtype=float) * 2",
               "count": "def count(items, value):\n    return sum(1 for item in items if item == value)",
               lab.WRITTEN: "A count adds up ones, so it is a whole number."}
    incoming = [Incoming("ada", lab.answered(release, answers), "test"), Incoming("bob", lab.answered(release, {}), "test")]
    pipeline.grade_batch(lab.LAB, incoming, grading_dir=grading, course_dir=course, workers=2, limits=LIMITS,
                         progress=False)

    state = root / "state"
    environment = {**os.environ, "COURSE_GRADING_DIR": str(grading), "JUPYTER_CONFIG_DIR": str(state / "config"),
                   "JUPYTER_DATA_DIR": str(state / "data"), "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
                   "IPYTHONDIR": str(state / "ipython")}
    port, token = free_port(), secrets.token_hex(16)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SCREENSHOTS / "formgrader.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
         "--allow-root"],
        cwd=course, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Jupyter server did not start; see {SCREENSHOTS / 'formgrader.log'}") from None
            time.sleep(0.3)
    yield url, token, grading
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def written_grade(grading, student):
    with pipeline.gradebook(grading) as book:
        grade = book.find_grade(lab.WRITTEN, lab.LAB, lab.LAB, student)
        comment = book.find_comment(lab.WRITTEN, lab.LAB, lab.LAB, student).manual_comment
        return grade.manual_score, grade.needs_manual_grade, comment


def test_formgrader_points_and_comment_reach_the_export_and_the_feedback(formgrader, browser):
    url, token, grading = formgrader
    assert written_grade(grading, "ada") == (None, True, None)  # answered: waits for the instructor
    with pipeline.gradebook(grading) as book:
        submission = book.find_submission_notebook(lab.LAB, lab.LAB, "ada").id
    # the token as a header: formgrader's own API calls (grades, comments) are authenticated too
    page = browser.new_page(viewport={"width": 1400, "height": 1000},
                            extra_http_headers={"Authorization": f"token {token}"})
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{url}/formgrader/submissions/{submission}/")
        page.wait_for_selector(f"input.score#{lab.WRITTEN}")
        assert "A count adds up ones" in page.inner_text("body")  # the written answer, beside the tests
        # the autograded points, once formgrader has loaded the grades (before that, typing would be overwritten)
        page.wait_for_function("() => document.querySelector('input.score#test_double').placeholder === '2'")
        page.fill(f"input.score#{lab.WRITTEN}", "1.5")
        page.fill(f"textarea#{lab.WRITTEN}-comment", COMMENT)
        page.locator(f"input.score#{lab.WRITTEN}").focus()  # leaving the comment box saves it
        page.keyboard.press("Tab")
        deadline = time.monotonic() + 20
        while written_grade(grading, "ada") != (1.5, False, COMMENT):
            assert time.monotonic() < deadline, f"formgrader did not save: {written_grade(grading, 'ada')}"
            time.sleep(0.3)
    finally:
        page.screenshot(path=SCREENSHOTS / "formgrader.png", full_page=True)
        page.close()

    plain = export.write(grading / "grades.csv", "csv", grading_dir=grading)
    rows = {line.split(",")[0]: line.split(",") for line in plain.path.read_text().splitlines()[1:]}
    assert rows["ada"][2:6] == ["4.5", "5", "3", "1.5"]  # score, max, automatic, by hand
    assert rows["bob"][2:4] == ["0", "5"] and plain.needs_manual_grade == []  # an untouched answer earns 0 by itself
    feedback.refresh(lab.LAB, grading)
    page_text = html.unescape(re.sub(r"<[^>]+>", "", (grading / "feedback" / "ada" / lab.LAB / f"{lab.LAB}.html").read_text()))
    assert "Score: 4.5 / 5" in page_text and f"Graded by hand: 1.5 / 2 points. Comment: {COMMENT}" in page_text
