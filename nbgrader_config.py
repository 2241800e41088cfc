# Entry point for the `nbgrader` CLI and JupyterLab's nbgrader extension; the settings live in
# autograder/nbgrader_config.py.
c = get_config()  # noqa: F821
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821
