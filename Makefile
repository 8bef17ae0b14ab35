# Two commands for a newcomer: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint check clean need-node

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "Python 3.11+ is required, and '$(PYTHON)' is not installed."; \
	  echo "Install it (Debian/Ubuntu: apt-get install -y python3 python3-venv), or name another one:"; \
	  echo "  make $(MAKECMDGOALS) PYTHON=python3.12"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	  "Python 3.11+ is required; $(PYTHON) is " + sys.version.split()[0] + \
	  ". Install a newer one and run: make $(MAKECMDGOALS) PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# OCR models ship in rapidocr-onnxruntime; --no-deps keeps its opencv-python requirement from replacing
# OpenCV 5 headless (both install the cv2 module). Its runtime dependencies are in pyproject.toml.
RAPIDOCR := rapidocr-onnxruntime==1.4.4

# constraints.txt pins the versions the tests passed with, within pyproject.toml's ranges.
PIP_INSTALL := $(PY) -m pip install -q -c constraints.txt

$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e .
	$(PIP_INSTALL) --no-deps $(RAPIDOCR)
	touch $@

$(DEV_STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP_INSTALL) -e '.[dev]'
	$(PIP_INSTALL) --no-deps $(RAPIDOCR)
	touch $@ $(STAMP)

# The OpenID Connect test provider (oidc-provider) for the OAuth tests, pinned by package-lock.json.
# `make run` never needs Node.js; `make test` checks for it first and says what to install.
NODE_DEPS := node_modules/.package-lock.json
$(NODE_DEPS): package.json package-lock.json | need-node
	npm ci --no-audit --no-fund --loglevel=error

need-node:
	@if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then \
	  echo "make test needs Node.js 20 (20.19 or newer) with npm: the OAuth tests run a real OpenID provider."; \
	  echo "Install it (Debian 13: apt-get install -y nodejs npm; other systems: https://nodejs.org), then run make test again."; \
	  exit 1; fi
	@node -e 'const [major, minor] = process.versions.node.split(".").map(Number); process.exit(major > 20 || (major === 20 && minor >= 19) ? 0 : 1)' || { \
	  echo "make test needs Node.js 20.19 or newer; this node is $$(node --version). Install a newer one (https://nodejs.org)."; \
	  exit 1; }

run: $(STAMP)
	$(PY) manage.py serve

# Test files run on TEST_PROCESSES processes, each file whole on one (its module fixtures start once).
TEST_PROCESSES ?= 2
test: need-node $(DEV_STAMP) $(NODE_DEPS)
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

check: $(DEV_STAMP)
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV)
