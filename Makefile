PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

OIDC_PROVIDER := tests/portal_browser/oidc

.PHONY: run test lint format install install-test clean bench browser-test-deps system-deps

# pysodium (the ristretto255 group of the blind pseudonyms, docs/adr/0020) loads the system's
# libsodium; Debian's libsodium23 is installed when it is missing (needs root, as on CI).
system-deps:
	@ldconfig -p 2>/dev/null | grep -q 'libsodium\.so' || { \
		echo "installing libsodium23 (needed by pysodium)"; \
		apt-get install -y -q libsodium23 >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q libsodium23; }; }

$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $@

install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)
	$(BIN)/verwijsindex db upgrade
	$(BIN)/verwijsindex demo
	$(BIN)/verwijsindex serve

# What the portal's browser tests need beyond pip: Debian's Chromium (driven by Playwright
# through its executable path; no browser download) and the npm package oidc-provider
# (a real OpenID Connect provider under node), installed when missing.
browser-test-deps:
	@test -x /usr/bin/chromium || { \
		echo "installing chromium and chromium-driver (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	@command -v node >/dev/null || { \
		echo "installing nodejs and npm (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	@test -d $(OIDC_PROVIDER)/node_modules/oidc-provider || \
		npm install --prefix $(OIDC_PROVIDER) --no-audit --no-fund --loglevel=error

# One pytest-xdist worker per core: every test has its own database (a copy of the worker's
# migrated template) and its own temporary directory and ports, so the workers share nothing.
test: $(TEST_STAMP) browser-test-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --durations=15

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	@command -v wrk >/dev/null || { echo "make bench needs wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python -m scripts.bench.run --quick --out bench-results/

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(OIDC_PROVIDER)/node_modules
