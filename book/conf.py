"""Sphinx configuration of the course website (built by ``python -m book``, see book/build.py).

Everything the pages need is served from the site itself: the theme's assets, MathJax 3 from the
``sphinx-mathjax-offline`` package, and the Colab badge image (``book/_static/colab-badge.svg``,
staged by build.py).
Notebooks are never executed here: book/build.py stages them with the outputs to publish.
"""

project = "Applied machine learning"
author = "the course's authors"
copyright = "the course's authors"
extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # MathJax 3.2.2 copied into the site, mathjax_path pointing at it
    "sphinx.ext.githubpages",  # .nojekyll: GitHub Pages serves the _static/ folders
]
myst_enable_extensions = ["dollarmath", "amsmath"]
nb_execution_mode = "off"  # outputs come from the staged notebooks (fast- or full-mode runs in build/)
nb_merge_streams = True
html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = False  # no _sources/ copies of the notebooks
html_show_sourcelink = False
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "show_toc_level": 1,
    "home_page_in_toc": True,
}
html_context = {"default_mode": "light"}  # without it, a first visit logs "Got invalid theme mode" (an error)
suppress_warnings = ["mystnb.unknown_mime_type"]
