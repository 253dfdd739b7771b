# The two set-up commands: `make run` (serve on the embedded default) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test test-slow install lint typecheck bench css clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,neural]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/studysmart db upgrade
	$(BIN)/studysmart demo --if-empty
	$(BIN)/studysmart serve --host 127.0.0.1 --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not browser and not slow and not deploy" -p no:cacheprovider -n 2 --dist worksteal
	$(BIN)/pytest -m browser -p no:cacheprovider tests/web/browser
	$(BIN)/pytest -m deploy -p no:cacheprovider tests/deploy

# The slow tests (real-data bars, long fits, the neural adversaries): not in `make test` / CI.
test-slow: $(STAMP)
	$(BIN)/pytest -m "slow" -p no:cacheprovider -n 2 --dist worksteal

# The pages' Tailwind stylesheet (src/studysmart/web/static/tailwind.css, committed): after changing a page's classes.
css: $(STAMP)
	$(BIN)/python -m studysmart.web.styles

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) var
