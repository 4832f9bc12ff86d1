# The README's two commands: `make demo` and `make test`. Both build the virtualenv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv browser test test-compat constraints test-scale demo bench simulator clean

# constraints.txt pins the versions the suite was last run with (Airflow's own practice): no resolver backtracking.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,s3]" -c constraints.txt
	touch $(STAMP)

venv: $(STAMP)

## Debian's chromium for the browser test of the connection forms (tests/ui; Playwright cannot download browsers
## here). Installed with apt-get when missing and running as root; elsewhere that test skips (and fails under CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: the browser test will skip"; \
	  else echo "chromium is missing and apt-get cannot run here: the browser test will skip"; fi; }

## Run the whole test suite (unit, simulator, hooks, triggers, DAGs with dag.test(), moto S3, packaging, browser),
## then the real Airflow deployments: standalone (SQLite), and distributed (Celery on the machine's Postgres and Redis).
test: $(STAMP) browser
	$(BIN)/python -m pytest -m "not deployment and not distributed" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m deployment $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(BIN)/python -m pytest -m distributed $(PYTEST_ARGS) || [ $$? -eq 5 ]

## The compatibility matrix: one virtualenv per supported Airflow minor (2.11, 3.0, 3.1, 3.2, 3.3; uv builds each in
## seconds), the provider's wheel installed there with constraints/airflow-<minor>.txt, and tests/compat run in each.
## COMPAT_MINORS="3.1 3.2" runs some.
COMPAT_MINORS ?=
test-compat: $(STAMP)
	$(BIN)/python scripts/test_compat.py $(COMPAT_MINORS) --pytest-args="$(PYTEST_ARGS)"

## Re-make constraints/airflow-<minor>.txt (needs the package index; see scripts/make_constraints.py).
constraints: $(STAMP)
	$(BIN)/python scripts/make_constraints.py

## 100 mapped transfers on one credential across two Celery workers and two triggerers (5-8 minutes).
test-scale: $(STAMP)
	ARP_DISTRIBUTED_SCALE=1 $(BIN)/python -m pytest -m distributed tests/distributed/test_scale.py $(PYTEST_ARGS)

## Start the simulator, run every example DAG end to end, write reports under demo-output/.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## Streaming, trigger-scale and conversion benchmarks (figures and ratios against baselines measured in the same run).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet apache-airflow-providers-dbt-cloud -c constraints.txt  # the import-cost yardstick
	cd benchmarks && ../$(BIN)/python bench_imports.py
	$(BIN)/python benchmarks/bench_transfer.py
	$(BIN)/python benchmarks/bench_triggers.py
	$(BIN)/python benchmarks/bench_triggerer.py
	$(BIN)/python benchmarks/bench_conversion.py
	$(BIN)/python benchmarks/bench_shared_limit.py

## Run the API simulator in the foreground on port 8090 (Airflow's api-server keeps 8080).
simulator: $(STAMP)
	$(BIN)/python -m airflow_report_provider.simulator --port 8090

clean:
	rm -rf $(VENV) .compat .airflow-home demo-output .pytest_cache
