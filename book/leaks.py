"""The website's leak check: no line of solution code, model answer or hidden test in any file of the site.

    python -m book.leaks [SITE]      # exit 1 listing each leak (file and line), 0 when clean

The secret lines are those of :func:`ci.check_release.secret_lines` (solution and hidden-test blocks,
mark schemes, marker-less solution cells such as model answers) of every lab in ``solutions/``, less
what the course publishes anyway (a line of a lecture or of a released lab containing it). Every text
file of the site is searched (HTML, JavaScript including the search index, JSON, CSS, SVG, sources),
as written, with HTML tags removed and entities decoded (code is highlighted in <span>s), and with
JSON string escapes decoded; whitespace runs count as one space. A file byte for byte equal to a file
of the installed packages that ship the site's assets (:data:`ASSET_PACKAGES`: MathJax, the theme)
holds no course content and is not searched (24 MB of MathJax would take most of the check's time).
"""

from __future__ import annotations

import html
import importlib.util
import re
import sys
from pathlib import Path

import nbformat

from autograder import pipeline
from ci.check_release import secret_lines
from ci.env import BUILD, ROOT

ASSET_PACKAGES = ("sphinx", "myst_nb", "pydata_sphinx_theme", "sphinx_book_theme", "sphinx-mathjax-offline")
TEXT_SUFFIXES = {".html", ".js", ".json", ".css", ".svg", ".txt", ".ipynb", ".md", ".xml", ".map"}
_TAG = re.compile(r"<[^>]*>")
_JSON_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
_WORD = re.compile(r"\w{4,}")


def _flat(text: str) -> str:
    return " ".join(text.split())


def _json_unescape(text: str) -> str:
    def one(match):
        code = match.group(1)
        if code.startswith("u"):
            return chr(int(code[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r"}.get(code, code)
    return _JSON_ESCAPE.sub(one, text)


def published_text(course_dir: Path = ROOT) -> str:
    """The lines of the notebooks the site publishes (lectures and the student release), one per line."""
    lines = []
    for notebook in sorted(course_dir.glob("lectures/*.ipynb")) + sorted(course_dir.glob("labs/*/*.ipynb")):
        for cell in nbformat.read(notebook, as_version=4).cells:
            lines += [_flat(line) for line in cell.source.splitlines()]
    return "\n".join(lines)


def secrets(course_dir: Path = ROOT) -> dict[str, str]:
    """{secret line (whitespace collapsed): the solution notebook it comes from}."""
    public, found = published_text(course_dir), {}
    for lab in pipeline.lab_names(course_dir):
        solution = course_dir / "solutions" / lab / f"{lab}.ipynb"
        for line in secret_lines(solution):
            if (flat := _flat(line)) not in public:
                found.setdefault(flat, str(solution.relative_to(course_dir)))
    if not found:
        raise RuntimeError("no secret line found in solutions/: the leak check would check nothing")
    return found


def views(text: str) -> list[str]:
    """The file as written, without tags and entities, and with JSON escapes decoded."""
    untagged = html.unescape(_TAG.sub("", text)) if "<" in text or "&" in text else text
    found = {text, untagged}
    if "\\" in text:
        found |= {_json_unescape(text), _json_unescape(untagged)}
    return [_flat(v) for v in found]


def _key(needle: str) -> str | None:
    """The needle's longest word not at either end (a match's end words may run on in the file)."""
    inner = [m.group() for m in _WORD.finditer(needle) if m.start() > 0 and m.end() < len(needle)]
    return max(inner, key=len, default=None)


def package_files(packages=ASSET_PACKAGES) -> dict[tuple[str, int], list[Path]]:
    """{(file name, size): paths} of the files of the installed ``packages``."""
    found = {}
    for name in packages:
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            for path in Path(folder).rglob("*"):
                if path.is_file():
                    found.setdefault((path.name, path.stat().st_size), []).append(path)
    return found


def vendored(path: Path, packaged: dict[tuple[str, int], list[Path]]) -> bool:
    """``path`` is a verbatim copy of a package's file."""
    twins = packaged.get((path.name, path.stat().st_size), [])
    return bool(twins) and any(twin.read_bytes() == path.read_bytes() for twin in twins)


def check(site: Path, course_dir: Path = ROOT) -> list[str]:
    """One line per secret line found in a file of ``site``: 'file: line (from solutions/...)'."""
    site = Path(site)
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site} is not a built site (no index.html): run `make book`")
    needles, problems = secrets(course_dir), []
    keys = {needle: _key(needle) for needle in needles}
    packaged = package_files()
    for path in sorted(p for p in site.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES):
        if vendored(path, packaged):
            continue
        texts = views(path.read_text(errors="replace"))
        words = set().union(*(_WORD.findall(text) for text in texts))  # a quick no for most needles
        for needle, origin in needles.items():
            if (keys[needle] is None or keys[needle] in words) and any(needle in text for text in texts):
                problems.append(f"{path.relative_to(site)}: {needle!r} (from {origin})")
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    site = Path(argv[0]) if argv else BUILD / "book" / "html"
    problems = check(site)
    for problem in problems:
        print(f"LEAK {problem}")
    print(f"{len(problems)} leak(s) in {site}" if problems else f"no solution or hidden-test line in {site}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
