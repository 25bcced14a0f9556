# Everything runs from a virtual environment in .venv, installed from the pinned constraints.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := -e 'libs/core[embedded]' -e services/ingest -e services/detector \
            -e services/incidents -e services/demo-shop
STAMP := $(VENV)/.installed

.PHONY: install up test lint format bench bench-ingest bench-up bench-query bench-detect bench-rca lock clean

install: $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt libs/core/pyproject.toml services/*/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt $(PACKAGES) -r requirements-dev.txt
	touch $(STAMP)

# The whole platform, the demo shop and its load in one process, on embedded servers.
up: install
	$(BIN)/aiops up

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: bench-ingest bench-up bench-query bench-detect bench-rca

bench-ingest: install
	$(BIN)/python bench/ingest.py

bench-up: install
	$(BIN)/python bench/up.py

bench-query: install
	$(BIN)/python bench/query.py

# Detection: quality on the NAB corpus (NAB's rules), live faults and false alarms on the demo
# shop (about 35 minutes), faults present from the start, lasting twice the baseline's history
# and repeated right after recovery (about 30 minutes), and what detection costs.
bench-detect: install
	$(BIN)/python bench/detect_nab.py
	$(BIN)/python bench/detect_live.py
	$(BIN)/python bench/detect_lasting.py
	$(BIN)/python bench/detect_cost.py

# Root cause and incidents: the platform and the shop as separate processes, every fault
# scenario injected by `aiops chaos --seed 7` after 10 quiet minutes, scored from the incidents
# API (about 45 minutes).
bench-rca: install
	$(BIN)/python bench/rca.py

# Re-resolve every dependency to its newest release and pin the result.
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet --disable-pip-version-check $(PACKAGES) -r requirements-dev.txt
	$(VENV)-lock/bin/pip freeze --exclude-editable | grep -v '^-e ' > constraints.txt
	rm -rf $(VENV)-lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

# Plain manifests for `kubectl apply -f k8s/`: the chart rendered with its default values.
.PHONY: k8s
k8s: install
	$(BIN)/python -m tests.deploy.chart

# The README's settings table, the chart's values schema and the settings listed in its values.yaml,
# rendered from the settings models (a test fails while they are stale).
.PHONY: settings
settings: install
	$(BIN)/python -m aiops_core.settings_reference
