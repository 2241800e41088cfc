"""The course website (``make book``): built once, leak-checked, and read in Chromium on a local server.

The site is built into ``build/book/html`` as ``make book`` does; lectures take their outputs from the
fast-mode executions that tests/test_notebooks.py leaves in ``build/executed/`` (conftest.py runs this
file after it). Chromium may request nothing but the local server: any other request fails the test.
Screenshots of a lecture and a lab page are saved in ``build/browser/``.
"""

import functools
import html
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
import urllib.request

import nbformat
import pytest

from book import build, leaks
from ci import colab
from ci.env import BUILD, ROOT

pytestmark = pytest.mark.browser

SCREENSHOTS = BUILD / "browser"
LAB = "mnist-cnn"
LECTURE = "lectures/convnets"


@pytest.fixture(scope="module")
def site(data_dir, tmp_path_factory):
    """Build the site as `make book` does, from another folder; returns (site folder, the build's output)."""
    result = subprocess.run([sys.executable, "-m", "book"], cwd=tmp_path_factory.mktemp("elsewhere"),
                            capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, f"make book failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return build.SITE, result.stdout


def test_build_says_where_every_page_comes_from(site):
    _, output = site
    rows = build.contents_rows()
    for row in rows:
        if row["lecture"]:
            assert re.search(rf"^  {re.escape(row['lecture'])}: (outputs of build/executed/|executed now)", output,
                             re.M), output
        if row["lab"]:
            assert f"  labs/{row['lab']}/{row['lab']}.ipynb: student release, no outputs" in output, output
    assert "solutions/" not in output
    assert re.search(r"\d+ HTML pages, no solution line in it", output), output


def test_lab_pages_are_the_release_without_outputs(site):
    for lab in build.pipeline.lab_names():
        staged = nbformat.read(build.STAGE / "labs" / lab / f"{lab}.ipynb", as_version=4)
        assert not any(c.get("outputs") for c in staged.cells if c.cell_type == "code"), lab
        release = nbformat.read(ROOT / "labs" / lab / f"{lab}.ipynb", as_version=4)
        shown = [c for c in release.cells if colab.SETUP_TAG not in c.metadata.get("tags", [])]  # Colab only
        assert [c.source for c in staged.cells if c.cell_type == "code"] == \
               [c.source for c in shown if c.cell_type == "code"], f"{lab}: not the student release"


def test_secret_lines_include_model_answers_and_mark_schemes(tmp_path):
    from ci.check_release import secret_lines

    answer = nbformat.v4.new_markdown_cell("The model answer: pooling halves each side of the map.")
    answer.metadata["nbgrader"] = {"solution": True, "grade": True, "points": 2, "grade_id": "why"}
    code = nbformat.v4.new_code_cell("def area(w, h):\n    ### BEGIN SOLUTION\n    return width_times_height(w, h)"
                                     "\n    ### END SOLUTION")
    code.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "area"}
    task = nbformat.v4.new_markdown_cell("Explain pooling in one sentence.\n=== BEGIN MARK SCHEME ===\n"
                                         "Two points for naming the halved resolution.\n=== END MARK SCHEME ===")
    notebook = tmp_path / "lab.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[answer, code, task]), notebook)
    assert secret_lines(notebook) == {"The model answer: pooling halves each side of the map.",
                                      "return width_times_height(w, h)",
                                      "Two points for naming the halved resolution."}


def test_leak_check_finds_planted_lines_in_html_and_search_index(site, tmp_path, capsys):
    folder, _ = site
    copy = tmp_path / "site"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("mathjax"))
    secret = max(leaks.secrets(), key=len)  # a long line: it cannot appear by chance
    page = copy / "labs" / LAB / f"{LAB}.html"
    highlighted = "".join(f'<span class="n">{html.escape(ch)}</span>' for ch in secret)  # as Pygments splits code
    page.write_text(page.read_text().replace("</body>", f"<pre>{highlighted}</pre></body>"))
    index = copy / "searchindex.js"
    index.write_text(index.read_text() + f'\n// {secret.replace(chr(34), chr(92) + chr(34))}\n')
    assert leaks.main([str(copy)]) == 1
    output = capsys.readouterr().out
    assert f"labs/{LAB}/{LAB}.html: {secret!r}" in output
    assert f"searchindex.js: {secret!r}" in output
    assert "2 leak(s)" in output


def test_a_leak_in_a_published_notebook_fails_the_build(site, tmp_path, monkeypatch, capsys):
    """The whole build on a one-page course (the lab's release) that kept a line of its solution."""
    secret = max((line for line, origin in leaks.secrets().items() if f"/{LAB}/" in origin), key=len)
    rows = [{**row, "lecture": None} for row in build.contents_rows() if row["lab"] == LAB]
    original = build.for_the_web

    def leaky(nb, **kwargs):
        nb = original(nb, **kwargs)
        nb.cells.append(nbformat.v4.new_code_cell(secret))
        return nb

    monkeypatch.setattr(build, "contents_rows", lambda: rows)
    monkeypatch.setattr(build.pipeline, "lab_names", lambda course_dir=None: [LAB])
    monkeypatch.setattr(build, "for_the_web", leaky)
    monkeypatch.setattr(build, "STAGE", tmp_path / "src")
    assert build.main(["--out", str(tmp_path / "html"), "--no-execute"]) == 1
    assert f"LEAK labs/{LAB}/{LAB}.html: {secret!r}" in capsys.readouterr().err


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    folder, _ = site
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


READ_PAGE = """async () => {
    if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
    await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
    await document.fonts.ready;  // MathJax's fonts: leaving earlier would abort their requests
    const math = [...document.querySelectorAll('.math')];
    return {
        math: math.length,
        untypeset: math.filter(m => !m.querySelector('mjx-container') && !m.matches('mjx-container'))
                       .map(m => m.textContent.slice(0, 80)),
        mathErrors: [...document.querySelectorAll('mjx-merror')].map(m => m.textContent.slice(0, 80)),
        brokenImages: [...document.images].filter(img => !(img.naturalWidth > 0)).map(img => img.src),
        images: document.images.length,
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        outputs: document.querySelectorAll('.cell_output').length,
        outputImages: document.querySelectorAll('.cell_output img').length,
        text: document.body.innerText,
        sidebar: [...document.querySelectorAll('nav.bd-docs-nav a')].map(a => a.getAttribute('href')),
    };
}"""


def test_every_page_in_chromium_from_localhost_only(site, server, browser):
    folder, _ = site
    pages = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.html")
                   if "_static" not in p.parts)
    assert len(pages) >= 1 + len(build.pipeline.lab_names()), pages
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    outside, problems, seen = [], [], {}

    def route(request_route):
        host = urllib.parse.urlsplit(request_route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"request failed: {request.url} ({request.failure})"))
    for name in pages:
        errors.clear()
        response = page.goto(f"{server}/{name}", wait_until="load")
        assert response.ok, f"{name}: HTTP {response.status}"
        seen[name] = found = page.evaluate(READ_PAGE)
        problems += [f"{name}: console: {e}" for e in errors]
        problems += [f"{name}: math not typeset: {m!r}" for m in found["untypeset"]]
        problems += [f"{name}: MathJax error: {m!r}" for m in found["mathErrors"]]
        problems += [f"{name}: image without width: {src}" for src in found["brokenImages"]]
        if name == f"{LECTURE}.html":
            page.screenshot(path=SCREENSHOTS / "book-lecture.png")
            if found["outputImages"]:
                page.locator(".cell_output img").first.scroll_into_view_if_needed()
                page.screenshot(path=SCREENSHOTS / "book-lecture-plot.png")
        if name == f"labs/{LAB}/{LAB}.html":
            page.screenshot(path=SCREENSHOTS / "book-lab.png", full_page=True)
    for name, found in seen.items():  # every link into the site reaches a page (and its anchor)
        for link in found["links"]:
            if not link.startswith(server):
                continue
            target, _, anchor = link[len(server) + 1:].partition("#")
            path = folder / urllib.parse.unquote(target or "index.html")
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                problems.append(f"{name}: broken link {link}")
            elif anchor and path.suffix == ".html" and f'id="{anchor}"' not in path.read_text():
                problems.append(f"{name}: link to a missing anchor {link}")
    context.close()
    assert not outside, f"requests outside localhost: {sorted(set(outside))}"
    assert not problems, "\n".join(problems)
    assert sum(found["math"] for found in seen.values()) > 0, "no math on any page"
    assert all(found["images"] for name, found in seen.items() if name.startswith(("lectures/", "labs/"))), \
        "a notebook page without its Colab badge"

    # The sidebar lists the course in the README's order; lectures show outputs with plots.
    order = [f"{build.page_of(row, kind)}.html" for row in build.contents_rows() for kind in ("lecture", "lab")
             if build.page_of(row, kind)]
    assert [urllib.parse.urljoin("index.html", h) for h in seen["index.html"]["sidebar"]] == ["index.html", *order]
    lecture = seen[f"{LECTURE}.html"]
    assert lecture["outputs"] > 0 and lecture["outputImages"] > 0, "the lecture page shows no outputs/plots"
    # A lab page shows the exercise stubs of the release, and no outputs.
    lab = seen[f"labs/{LAB}/{LAB}.html"]
    release = nbformat.read(ROOT / "labs" / LAB / f"{LAB}.ipynb", as_version=4)
    for stub in ("raise NotImplementedError()", "YOUR CODE HERE"):
        count = sum(c.source.count(stub) for c in release.cells)
        assert count > 0 and lab["text"].count(stub) == count, f"{stub!r}: {count} in the release"
    assert lab["outputs"] == 0
