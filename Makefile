# Two commands: `make run` executes the whole course headlessly (fast mode), `make test` runs the
# tests. Both set up .venv from the pinned requirements.txt on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed

# nbgrader runs `alembic` from PATH; notebooks find the offline data mirror when it sits beside us.
export PATH := $(BIN):$(PATH)
export COURSE_DATA_DIR ?= $(wildcard $(abspath $(CURDIR)/../shared/data))
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run test lint hooks stamp release check-release lab formgrader feedback bench grade book clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -r requirements.txt -e .
	@touch $(STAMP)

run: setup          ## execute every lecture and lab (fast mode), release, autograde; print a table
	$(BIN)/python -m ci.run_course

test: setup         ## the test suite
	$(BIN)/python -m pytest

lint: setup         ## the pre-commit hooks on every file: stripped notebooks, ruff, Colab cells, release sync
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

hooks: setup        ## run those hooks on each `git commit`
	$(BIN)/pre-commit install

stamp: setup        ## add/update every notebook's Colab badge and set-up cell, re-release changed labs
	$(BIN)/python -m ci.colab stamp

release: setup      ## regenerate the student release labs/ from solutions/
	$(BIN)/python -m autograder release

check-release: setup
	$(BIN)/python -m ci.check_release

bench: setup        ## benchmarks into benchmarks/results.md (hours); a subset: make bench ONLY=mnist [BENCH_ARGS="--ours-repeats 3"]
	$(BIN)/python -m benchmarks $(if $(ONLY),--only $(ONLY)) $(BENCH_ARGS)

grade: setup        ## grade a folder or zip of submissions: make grade LAB=mnist-cnn SUBMISSIONS=path
	@test -n "$(LAB)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade LAB=<lab> SUBMISSIONS=<folder or zip>"; exit 2; }
	$(BIN)/python -m autograder batch $(LAB) $(SUBMISSIONS) $(GRADE_ARGS)

book: setup         ## the course website in build/book/html (lectures with outputs, released labs); NO_EXECUTE=1: no runs
	$(BIN)/python -m book $(if $(NO_EXECUTE),--no-execute)

formgrader: setup   ## nbgrader's formgrader on the batch grader's gradebook: grade written answers by hand
	$(BIN)/jupyter server --notebook-dir=$(CURDIR) --ServerApp.default_url=/formgrader

feedback: setup     ## rewrite a lab's feedback with the points and comments given in formgrader: make feedback LAB=...
	@test -n "$(LAB)" || { echo "usage: make feedback LAB=<lab>"; exit 2; }
	$(BIN)/python -m autograder feedback $(LAB)

lab: setup          ## JupyterLab on the course
	$(BIN)/jupyter lab --notebook-dir=$(CURDIR)

clean:
	rm -rf build grading
