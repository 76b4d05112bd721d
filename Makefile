# Orderflow developer entry points. pip uses the machine's own configuration (no index URL here).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: install dev test lint format clean histories slow

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/oms dev

test: $(STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q

# Slow reliability proofs (issue 6): the real processes SIGKILLed, stopped and restarted; left out
# of `make test` by their marker (tests/reliability/conftest.py). -s shows each test's summary line.
.PHONY: reliability
reliability: $(STAMP)
	$(BIN)/python -m pytest -m reliability tests/reliability -q -s
# The lifecycle fuzzer's long mode (issue 16, docs/fuzzing.md): thousands of seeded orders over the
# real stack, outside CI. OMS_FUZZ_SEED picks the history (printed at start and on failure).
FUZZ_ORDERS ?= 2000
.PHONY: fuzz
fuzz: $(STAMP)
	OMS_FUZZ_ORDERS=$${OMS_FUZZ_ORDERS:-$(FUZZ_ORDERS)} $(BIN)/python -m pytest -q -s tests/lifecycle -k test_fuzz_budget
# Full-size runs kept out of `make test` (the 1,000-row import).
slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The ops console's browser tests drive Debian's Chromium (never a browser download): installed
# here when missing (as root, on Debian), a no-op once it is there.
$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

.PHONY: chromium
chromium: $(CHROMIUM)

clean:
	rm -rf .pytest_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

# Re-record tests/histories/ (replayed by tests/integration/test_replay.py); see docs/versioning.md.
histories: $(STAMP)
	rm -f tests/histories/*.json
	OMS_RECORD_HISTORIES=1 $(BIN)/python -m pytest -q $$($(BIN)/python -m tests.histories.recording)
