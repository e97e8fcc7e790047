# Set-up and everyday jobs. `make demo` and `make test` are all a fresh clone needs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench bench-identity lock clean browser

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<27"
	$(BIN)/python -m pip install -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# The studio's waveform (wavesurfer.js, BSD-3-Clause) from the npm registry, pinned by
# ui/web/package-lock.json. Without npm the studio still runs, with a plain player instead.
WEB := ui/web/node_modules/.installed

$(WEB): ui/web/package.json ui/web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --prefix ui/web --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else echo "npm not found: the studio will show a plain audio player, not the waveform"; fi

install: $(STAMP) $(WEB)

demo: install
	$(BIN)/retake demo --output out

lint: install
	$(BIN)/ruff check .

# Headless Chromium for the studio's browser tests: Debian's package (never
# `playwright install`, which downloads its own browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: install lint browser
	$(BIN)/python -m pytest -q

# The inner loop: everything but the slow and browser tests (under a minute).
test-fast: install lint
	$(BIN)/python -m pytest -q -m "not slow and not browser" -x

bench: install
	$(BIN)/python bench/align.py
	$(BIN)/python bench/edit.py
	$(BIN)/python bench/faceswap.py
	$(BIN)/python bench/lipsync.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/watermark.py
	$(BIN)/python bench/detect.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/batch.py --loop-minutes 2
	$(BIN)/python bench/autoencoder.py --minutes 10

# Identity judged by an independent model as well as dlib: FaceNet + MTCNN need OpenCV 4.8,
# so they get their own environment under bench/, never the runtime's.
IDENTITY_VENV := bench/.identity-venv

$(IDENTITY_VENV)/.installed: bench/requirements-identity.txt
	$(PYTHON) -m venv $(IDENTITY_VENV)
	$(IDENTITY_VENV)/bin/python -m pip install -q -r bench/requirements-identity.txt
	touch $@

bench-identity: install $(IDENTITY_VENV)/.installed
	$(BIN)/python bench/identity.py

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
