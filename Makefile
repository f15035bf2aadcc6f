# mqaflow: `make run` for a local demo, `make test` for the whole suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run web worker beat test test-fast fuzz lint typecheck format bench loadtest probe browser-deps axe clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

# Reinstall only when the dependency list or the pins change.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# A local demo that needs no server: SQLite, a filesystem broker, mails written to var/mail.
# Links in the emails and the URL printed by seed_demo use the port it runs on; beat runs
# the recompute and the sweep once at start-up, so /health/ is green at once.
run: export DEBUG ?= 1
run: export SITE_URL ?= http://$(HOST):$(PORT)
run: install
	mkdir -p var/mail
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo
	@echo "  Emails are written to var/mail/. Stop with Ctrl-C."
	@echo ""
	HOST=$(HOST) PORT=$(PORT) $(BIN)/honcho start -f Procfile.dev

# Browsers for the Playwright tests come from Debian, never a downloaded build.
browser-deps:
	@command -v /usr/bin/chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# axe-core for the browser tests' accessibility checks, from the npm registry into var/node
# (ignored by git). Without npm the checks fail loudly; they are never skipped.
AXE_CORE_VERSION ?= 4.10.2
AXE_SCRIPT := var/node/node_modules/axe-core/axe.min.js
export AXE_CORE_VERSION

$(AXE_SCRIPT):
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install axe-core for the accessibility checks"; exit 1; }
	npm install --prefix var/node --no-audit --no-fund --silent axe-core@$(AXE_CORE_VERSION)

axe: $(AXE_SCRIPT)

test: export DATABASE_URL ?= $(TEST_DATABASE_URL)
test: export REDIS_URL ?= $(TEST_REDIS_URL)
test: install browser-deps axe
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || { echo "run 'make format'"; exit 1; }
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test >/dev/null \
		|| { echo "Missing migrations: run manage.py makemigrations"; exit 1; }
	$(MAKE) --no-print-directory typecheck
	# Unit tests on both cores (each xdist worker has its own test database); tests that start
	# processes, drive the browser or fuzz the live API (marked integration) run alone, after.
	$(BIN)/pytest -p no:cacheprovider -n 2 -m "not integration and not browser" $(PYTEST_ARGS)
	$(BIN)/pytest -p no:cacheprovider -m "integration or browser" $(PYTEST_ARGS)

test-fast: export DATABASE_URL ?= $(TEST_DATABASE_URL)
test-fast: export REDIS_URL ?= $(TEST_REDIS_URL)
test-fast: install
	$(BIN)/pytest -m "not integration and not browser" $(PYTEST_ARGS)

# Schemathesis against a live server with more examples, a random seed and a time budget per
# token (the seed is printed; FUZZ_SEED=<n> replays it). `make test` runs a bounded pass.
FUZZ_EXAMPLES ?= 100
FUZZ_SEED ?= random
FUZZ_MAX_TIME ?= 300
fuzz: export DATABASE_URL ?= $(TEST_DATABASE_URL)
fuzz: export REDIS_URL ?= $(TEST_REDIS_URL)
fuzz: install
	SCHEMATHESIS_EXAMPLES=$(FUZZ_EXAMPLES) SCHEMATHESIS_SEED=$(FUZZ_SEED) \
		SCHEMATHESIS_MAX_TIME=$(FUZZ_MAX_TIME) \
		$(BIN)/pytest -p no:cacheprovider -s tests/api/test_schemathesis.py $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

# mypy with django-stubs and djangorestframework-stubs over every package of the project (the
# plugin reads config.settings.test, so the database URL must parse; nothing connects).
typecheck: export DATABASE_URL ?= $(TEST_DATABASE_URL)
typecheck: install
	$(BIN)/mypy mqaflow plays config integrations tuning

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The hardening scenarios over HTTP against gunicorn, a Celery worker and beat, a private
# redis-server and an SMTP server (tests/processes/test_probe.py; also part of `make test`).
probe: export DATABASE_URL ?= $(TEST_DATABASE_URL)
probe: export REDIS_URL ?= $(TEST_REDIS_URL)
probe: install
	$(BIN)/pytest -p no:cacheprovider tests/processes/test_probe.py $(PYTEST_ARGS)

bench: export DATABASE_URL ?= $(TEST_DATABASE_URL)
bench: export REDIS_URL ?= $(TEST_REDIS_URL)
bench: install
	$(PY) -m benchmarks.run $(BENCH_ARGS)

loadtest: export DATABASE_URL ?= $(TEST_DATABASE_URL)
loadtest: export REDIS_URL ?= $(TEST_REDIS_URL)
loadtest: install
	$(PY) -m benchmarks.loadtest $(LOADTEST_ARGS)

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache .mypy_cache
