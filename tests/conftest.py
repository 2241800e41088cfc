import os
from pathlib import Path

import pytest

from ci import env

env.prepare()


def pytest_collection_modifyitems(items):
    """The website's tests last: they render the lecture executions that test_notebooks.py leaves in build/."""
    items.sort(key=lambda item: item.path.name == "test_book.py")  # stable: the rest keep their order


# Debian's Chromium, driven by Playwright; without the background-networking flags it keeps trying to reach
# Google's hosts, which this machine's closed network refuses.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the browser tests (JupyterLab, formgrader, the website)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    value = os.environ.get("COURSE_DATA_DIR")
    if not value or not Path(value).is_dir():
        raise RuntimeError("COURSE_DATA_DIR must point at the course data mirror (e.g. ../shared/data)")
    return Path(value)


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    return cache
