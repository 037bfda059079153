PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint format install install-test clean bench system-deps

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

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=15

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
