"""JupyterLab in a real browser: what a student sees when running the MNIST lab.

Debian's Chromium, driven by Playwright, talks to a JupyterLab server that the tests start on a free
localhost port with a token, in a temporary copy of the course with its own Jupyter state, using the
course's environment. The server's kernels run in fast mode (``COURSE_FAST=1``), as nbgrader's
Validate does by itself. Screenshots are saved in ``build/browser/``.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from ci.env import BUILD, ROOT

pytestmark = pytest.mark.browser

SCREENSHOTS = BUILD / "browser"
LAB = "mnist-cnn"
RELEASE, SOLUTION = f"labs/{LAB}/{LAB}.ipynb", f"solutions/{LAB}/{LAB}.ipynb"
SETTINGS = {  # JupyterLab user settings: no news/update requests, every cell kept in the page
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, data_dir):
    """A JupyterLab server on a copy of the course; yields (base URL, token, course copy)."""
    root = tmp_path_factory.mktemp("jupyterlab")
    course = root / "course"
    for folder in ("labs", "solutions", "autograder"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", course)
    state = root / "state"
    for name, settings in SETTINGS.items():
        (state / "settings" / name).parent.mkdir(parents=True, exist_ok=True)
        (state / "settings" / name).write_text(json.dumps(settings))
    environment = {
        **os.environ,
        "COURSE_FAST": "1",
        "COURSE_GRADING_DIR": str(root / "grading"),
        "JUPYTER_CONFIG_DIR": str(state / "config"),
        "JUPYTER_DATA_DIR": str(state / "data"),
        "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
        "IPYTHONDIR": str(state / "ipython"),
        "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
    }
    environment.pop("MPLBACKEND", None)  # an agg backend would hide every plot from the page
    port, token = free_port(), secrets.token_hex(16)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log = open(SCREENSHOTS / "jupyterlab.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
         "--allow-root",  # CI runs as root
         "--LabApp.extension_manager=readonly"],  # no extension index requests
        cwd=course,  # nbgrader's Validate reads nbgrader_config.py from the server's working folder
        env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start; see {SCREENSHOTS / 'jupyterlab.log'}") from None
            time.sleep(0.5)
    yield url, token, course
    os.killpg(process.pid, signal.SIGTERM)  # the server and the kernels it started
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def api(server, method, path):
    url, token, _ = server
    request = urllib.request.Request(f"{url}/api/{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def page(browser, server, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    page.screenshot(path=SCREENSHOTS / f"{request.node.name}-end.png")  # what the page showed at the end
    context.close()
    for session in api(server, "GET", "sessions"):  # each test starts with fresh kernels
        api(server, "DELETE", f"sessions/{session['id']}")


def open_notebook(page, server, path):
    url, token, _ = server
    page.goto(f"{url}/lab/tree/{path}?reset&token={token}")  # reset: no tabs restored from an earlier test
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # The status bar names the kernel once it is connected: before that, Run All does nothing.
    page.wait_for_function("() => /ipykernel\\) \\| Idle/.test(document.querySelector('.jp-StatusBar-Widget').textContent)",
                           timeout=180_000)
    wait_idle(page, server, timeout=180)


def kernel_states(server):
    """Execution state of every kernel, as the server saw it last (``idle``, ``busy``, ``starting``)."""
    return [kernel["execution_state"] for kernel in api(server, "GET", "kernels")]


def wait_idle(page, server, timeout):
    """Wait until no cell is queued or running (``[*]``) and the server's kernels are idle, twice in a row.

    The kernel's state comes from the server's REST API rather than the page's execution indicator,
    which is drawn from the same messages but has been seen to stay "busy" after a Run All stopped at
    an error.
    """
    deadline, calm = time.monotonic() + timeout, 0
    while calm < 2:
        running = page.evaluate("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
            .map((p, i) => p.textContent.includes('*') ? i : -1).filter(i => i >= 0)""")
        kernels = kernel_states(server)
        calm = 0 if running or any(state != "idle" for state in kernels) else calm + 1
        if time.monotonic() > deadline:
            indicator = page.evaluate("""() => document.querySelector('.jp-Notebook-ExecutionIndicator')
                ?.getAttribute('data-status')""")
            page.screenshot(path=SCREENSHOTS / "still-running.png", full_page=True)
            log = (SCREENSHOTS / "jupyterlab.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"still running after {timeout} s: cells {running}, kernels {kernels}, "
                                 f"page indicator {indicator}; end of the server log:\n{log}")
        time.sleep(1)


def run_all(page, server, timeout):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    page.wait_for_function("() => [...document.querySelectorAll('.jp-InputPrompt')].some(p => /\\d/.test(p.textContent))",
                           timeout=timeout * 1000)
    wait_idle(page, server, timeout)


def cell(page, index):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def validate(page, name, timeout):
    """Press nbgrader's Validate button; return the dialog's text (screenshot saved)."""
    page.locator(".validate-button").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=timeout * 1000)
    page.wait_for_function("() => !document.querySelector('.jp-Dialog').textContent.includes('Validating')",
                           timeout=timeout * 1000)
    text = dialog.inner_text()
    page.screenshot(path=SCREENSHOTS / f"{name}.png")
    dialog.get_by_role("button").last.click()
    return text


def grade_index(notebook, grade_id):
    cells = nbformat.read(ROOT / notebook, as_version=4).cells
    return next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def test_release_shows_not_implemented_then_readable_test_failures(server, page):
    open_notebook(page, server, RELEASE)
    first_test = grade_index(RELEASE, "test_prepare_images")
    run_all(page, server, timeout=240)
    page.screenshot(path=SCREENSHOTS / "release-run-all.png", full_page=True)

    assert "Mode: FAST" in page.locator(".jp-Notebook").inner_text()
    failure = cell(page, first_test).locator(".jp-OutputArea-output").inner_text()
    assert "NotImplementedError" in failure and "prepare_images" in failure, failure
    assert cell(page, first_test + 1).locator(".jp-OutputArea-output").count() == 0, "Run All stops at the error"

    # A student's wrong first attempt: the visible test says what is wrong.
    solution_cell = cell(page, first_test - 1)
    solution_cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("def prepare_images(images):\n    return images / 255.0")
    page.keyboard.press("Shift+Enter")  # runs the solution cell, selects the test cell
    page.keyboard.press("Shift+Enter")
    wait_idle(page, server, timeout=60)
    message = cell(page, first_test).locator(".jp-OutputArea-output").inner_text()
    page.screenshot(path=SCREENSHOTS / "release-readable-failure.png", full_page=True)
    assert "AssertionError: expected shape (5, 28, 28, 1), got (5, 28, 28)" in message, message


def test_release_validate_reports_the_failing_tests(server, page):
    open_notebook(page, server, RELEASE)
    text = validate(page, "release-validate", timeout=300)
    assert "The following cell failed" in text and "NotImplementedError" in text, text
    assert "Success" not in text, text


def test_solution_runs_all_without_errors_and_renders_plots(server, page):
    open_notebook(page, server, SOLUTION)
    run_all(page, server, timeout=480)
    page.keyboard.press("Control+s")
    page.screenshot(path=SCREENSHOTS / "solution-run-all.png", full_page=True)
    notebook = page.locator(".jp-Notebook")
    assert "Mode: FAST" in notebook.inner_text()
    assert notebook.locator(".jp-OutputArea-output img").count() >= 4, "the lab's plots must be rendered"
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)  # saved
    saved = nbformat.read(server[2] / SOLUTION, as_version=4)
    code = [c for c in saved.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    assert all(c.execution_count for c in code), "every code cell ran"


def test_solution_validate_passes(server, page):
    open_notebook(page, server, SOLUTION)
    text = validate(page, "solution-validate", timeout=480)
    assert "Success! Your notebook passes all the tests." in text, text

