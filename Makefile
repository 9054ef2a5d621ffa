# wplambda: the two quick-start commands are `make demo` and `make test`.
# Both run `make setup` first, which installs what is missing (Debian packages, .venv).

VENV := .venv
PY := $(VENV)/bin/python
WPLAMBDA := $(VENV)/bin/wplambda
DEMO_DIR ?= demo

.PHONY: setup demo test test-fast lint checkov bench clean template doctor fresh-check docs docs-build

setup:
	@scripts/setup.sh

demo: setup
	@scripts/demo.sh "$(DEMO_DIR)"

doctor: setup
	@$(WPLAMBDA) doctor

# `make test` from a clean clone of the committed tree in a pristine Debian 12 root (needs root and
# many minutes; not part of CI). Prints pytest's pass line and the wall time.
fresh-check:
	@scripts/fresh-check.sh

# Every tier (tests/unit, tests/integration, tests/e2e), on one xdist worker per core. loadfile:
# all of a module's tests run on one worker, so its module fixtures (a serve, a build) are built
# once. (loadgroup cannot group here: xdist 3.8 renames node ids, which pytest 9.2 no longer allows.)
# --durations=25 lists the slowest tests at the end of every run: where the next minute of the loop is.
test: setup
	$(PY) -m pytest -n auto --dist loadfile --durations=25 $(PYTEST_ARGS)

# The unit tier alone: no services, about 20 s.
test-fast: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# The code checks CI runs before the tests: style, types (mypy's mode is in pyproject.toml), structure.
lint: setup
	$(VENV)/bin/ruff check wp_lambda tests benchmarks scripts
	$(VENV)/bin/mypy wp_lambda
	$(VENV)/bin/lint-imports

# checkov on the rendered stack in every shape (offline); fails on a finding that is neither fixed nor
# listed with its reason in scripts/checkov_tradeoffs.toml (docs/guides/security.md shows the list).
checkov: setup
	$(PY) scripts/checkov_check.py

# The committed template.yaml is the default config's rendering; refresh it after editing the Jinja.
template: setup
	$(PY) scripts/render_template.py

bench: setup
	$(PY) -m benchmarks

# The docs site (mkdocs.yml, docs/): `docs` serves it with live reload, `docs-build` is CI's strict build
# (any warning fails it, a broken link or a docs page naming code that no longer exists among them).
# NO_MKDOCS_2_WARNING silences the theme's notice about MkDocs 2 and its own end of life (not a problem of this site).
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve -a 127.0.0.1:8000

docs-build: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) .venv-checkov $(DEMO_DIR) .pytest_cache .ruff_cache site
