# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
NODE_STAMP := fixtures/node/node_modules/.installed
WEB_STAMP := web-src/node_modules/.installed
BROWSER_STAMP := $(VENV)/.browser

.PHONY: setup demo test lint bench clean install-check page

setup: $(PIP_STAMP) $(NODE_STAMP) $(WEB_STAMP)

$(PIP_STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[test,dask,lint]'
	touch $@

$(NODE_STAMP): fixtures/node/package.json fixtures/node/package-lock.json
	cd fixtures/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# @noble/hashes, @noble/curves and esbuild, pinned by web-src/package-lock.json, for the verifier page's crypto.
$(WEB_STAMP): web-src/package.json web-src/package-lock.json
	cd web-src && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Rebuild the crypto bundle inside por/web/verifier.html (committed, so `pip install` needs no Node);
# tests/test_web_crypto.py checks the committed page is a fresh build.
page: $(WEB_STAMP)
	node web-src/build.mjs

# Debian's headless Chromium for the HTML report and verifier page tests (playwright drives it), and
# Debian's Noto CJK fonts, without which every Japanese word of the pages is drawn as empty boxes.
$(BROWSER_STAMP): Makefile | $(PIP_STAMP)
	(command -v chromium >/dev/null && dpkg -s fonts-noto-cjk >/dev/null 2>&1) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null)
	touch $@

demo: setup
	$(VENV)/bin/por demo

# lint first: a style or type error fails in seconds, before the 17 minutes of tests (CI calls `make test`).
test: lint setup $(BROWSER_STAMP)
	$(PY) -m pytest -q

# ruff check (rules in pyproject.toml), ruff format --check (never reformats here) and mypy on por/ and
# chains/ ([tool.mypy]); ruff and mypy are the `lint` extra, installed by the setup stamp.
lint: $(PIP_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# `pip install .` in clean virtualenvs, without and with requirements.lock, then por run as a user would (CI runs it)
install-check:
	bash .ci/install-check

bench: setup
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) fixtures/node/node_modules web-src/node_modules demo-out
