# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export FLASK_APP := app

.PHONY: run test install

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

## Serve the library on http://$(HOST):$(PORT) with the embedded SQLite database.
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask library import data/goodbooks-10k
	$(BIN)/flask create-admin
	$(BIN)/flask run --host $(HOST) --port $(PORT)

## Run the whole test suite.
test: install
	$(BIN)/python -m pytest
