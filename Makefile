# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-scenarios test-compat test-deployment test-browser deployment redis chromium lint \
	typecheck pytest docs demo bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The deployment extra (Celery provider, PostgreSQL drivers, Redis client) on top of dev.
DEPLOY_STAMP := $(VENV)/.installed-deployment
$(DEPLOY_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,deployment]'
	touch $(DEPLOY_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The unit and sandbox tests (the inner loop). The end-to-end suites of tests/scenarios (whole
# DAGs under `airflow dags test`, the fault matrix) are `make test-scenarios`.
pytest: $(STAMP)
	$(BIN)/pytest --ignore=tests/scenarios

test-scenarios: $(STAMP)
	$(BIN)/pytest tests/scenarios

test: lint typecheck pytest

# The wheel against every supported Airflow minor x databricks provider floor/latest
# (scripts/compat.py, compat/README.md). Virtualenvs are cached under .compat/.
test-compat: $(STAMP)
	$(BIN)/python scripts/compat.py

# Debian's redis-server when missing (as root; otherwise `up` says what to install).
redis:
	@if [ "$$(id -u)" = 0 ] && ! command -v redis-server >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; fi

# Start the local deployment and leave it running (stop: .venv/bin/python scripts/deployment.py down).
deployment: $(DEPLOY_STAMP) redis
	$(BIN)/python scripts/deployment.py up

# A real multi-process deployment (scripts/deployment.py), driven over REST; always torn down.
test-deployment: $(DEPLOY_STAMP) redis
	$(BIN)/python scripts/deployment.py down
	status=0; $(BIN)/pytest tests/deployment -p no:cacheprovider --timeout 900 -rA || status=$$?; \
		$(BIN)/python scripts/deployment.py down; exit $$status

# The browser extra (Playwright for Python, Pillow) on top of the deployment's. Playwright drives
# Debian's Chromium: its own browser download (`playwright install`) is never used.
BROWSER_STAMP := $(VENV)/.installed-browser
$(BROWSER_STAMP): $(DEPLOY_STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,deployment,browser]'
	touch $(BROWSER_STAMP)

# Debian's chromium when missing (as root; otherwise the tests say what to install).
chromium:
	@if [ "$$(id -u)" = 0 ] && [ ! -x /usr/bin/chromium ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi

# The UI in a real browser on the local deployment (LocalExecutor); screenshots to docs/images/.
test-browser: $(BROWSER_STAMP) chromium
	$(BIN)/python scripts/deployment.py down
	status=0; $(BIN)/pytest tests/browser -p no:cacheprovider --timeout 900 -rA || status=$$?; \
		$(BIN)/python scripts/deployment.py down; exit $$status

# The docs extra (Sphinx, MyST-parser) on top of dev.
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,docs]'
	touch $(DOCS_STAMP)

# The user documentation (docs/, Sphinx + MyST + autodoc) to docs/_build/html, every warning an
# error (a broken internal reference is one), then the offline check of every relative link and
# image in README.md, CONTRIBUTING.md and docs/ (scripts/check_links.py; nothing goes online).
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -E -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/python scripts/check_links.py

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/apply.py
	$(BIN)/python benchmarks/trigger_fanin.py
	$(BIN)/python benchmarks/dag_parse.py
	$(BIN)/python tests/scenarios/reliability/report.py
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/workflow_clusters.py
	$(BIN)/python benchmarks/doctor.py

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache .demo .compat .deployment
