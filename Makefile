# Two entry points on a fresh machine: `make demo` (the main job) and `make test`.
# Both install what they need: Debian packages when run as root, then a virtualenv.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export WANDB_MODE ?= offline
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE ?= 1
export PYTHONUNBUFFERED := 1

# Fonts for the synthetic generator, sentences for its text, git-lfs for the model repo.
SYSTEM_PACKAGES := fonts-dkg-handwriting fonts-breip fonts-sjfonts fonts-kristi \
	fonts-dancingscript fonts-kaushanscript fonts-lobstertwo fonts-leckerli-one \
	fonts-comic-neue fonts-ecolier-court fonts-dejavu-core dasher-data git-lfs

# Only the tests need a browser: Debian's Chromium, driven by Playwright (never `playwright install`).
TEST_PACKAGES := chromium tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra

# The benchmark's peer: Tesseract 5 with English and French (Debian bookworm ships 5.3).
BENCH_PACKAGES := tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra

.PHONY: setup system test-system bench-system venv space space-examples space-bundle demo preview train quick export-model publish tensorboard api ablation layout test \
	lint format typecheck bench clean

setup: system fonts venv

system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages (run as root or install them): $$missing"; exit 1; fi; \
	fi

test-system:
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="$(TEST_PACKAGES)"

bench-system:
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="$(BENCH_PACKAGES)"

# More handwriting fonts for the generator: npm's @fontsource packages, pinned by fonts/package.json
# and its lockfile (licences in fonts/LICENSES.md), installed into fonts/node_modules (gitignored).
.PHONY: fonts
fonts: fonts/node_modules/.installed

fonts/node_modules/.installed: fonts/package.json fonts/package-lock.json
	@if command -v npm >/dev/null; then \
	  cd fonts && npm ci --ignore-scripts --no-audit --no-fund && touch node_modules/.installed; \
	else echo "npm not found: the generator uses the Debian fonts only; install Node.js and" \
	  "npm, then run make fonts, for the fonts of fonts/package.json"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# The main job on embedded defaults: look at the data, train the quick preset (synthetic
# lines, stopped by its short training clock), export the TorchScript model, evaluate it and
# publish it to the local Hub (.hub/, a bare git repo with Git LFS).
demo: setup
	$(BIN)/python -m training.data preview --out artifacts/preview.png
	$(BIN)/python -m training.data speed
	$(BIN)/python -m training.train --preset quick
	$(BIN)/python -m training.finder --preset quick
	$(MAKE) --no-print-directory export-model RUN=quick publish
	$(BIN)/python -m training.data examples --real
	@echo "The Space is starting on http://127.0.0.1:7860 (the model just published; Ctrl-C stops it)"
	$(BIN)/python space/app.py

# The Space alone, on the last model published to the local Hub.
space: venv space-examples
	$(BIN)/python space/app.py

# Real example lines for the Space, from ../shared/data when present (gitignored, credited).
space-examples: venv
	$(BIN)/python -m training.data examples --real

# The folder to push to a Hugging Face Space: its README (front matter) and requirements at
# the root, with the space/, serving/ and htr/ packages.
space-bundle:
	rm -rf dist/space && mkdir -p dist/space
	cp space/README.md space/requirements.txt dist/space/
	mkdir -p dist/space/space/examples dist/space/serving dist/space/htr
	cp space/*.py dist/space/space/
	cp space/examples/*.png dist/space/space/examples/
	if [ -d space/examples/real ]; then cp -r space/examples/real dist/space/space/examples/; fi
	cp serving/*.py dist/space/serving/
	cp htr/*.py dist/space/htr/
	@echo "dist/space is ready: push it to a Space repository"

preview: setup
	$(BIN)/python -m training.data preview --out artifacts/preview.png

quick: setup
	$(BIN)/python -m training.train --preset quick

# The full preset: synthetic plus the real lines of ../shared/data/lines, stopped by its clock.
train: setup
	$(BIN)/python -m training.train --preset full

# The line finder of whole pages: synthetic pages plus the real ones of ../shared/data/pages,
# stopped by its clock, in runs/finder-full (export-model FINDER=its best checkpoint);
# `make demo` trains the quick one, in runs/finder.
.PHONY: finder
finder: setup
	$(BIN)/python -m training.finder --preset full

# The newest line finder of runs/finder goes in too, when there is one: the file then reads pages.
RUN ?= quick
FINDER ?= $(firstword $(shell ls -t runs/finder/checkpoints/best-*.ckpt 2>/dev/null))
export-model: venv
	$(BIN)/python -m release.export $$(ls -t runs/$(RUN)/checkpoints/best-*.ckpt | head -1) \
	  $(if $(FINDER),--finder $(FINDER))
	$(BIN)/python -m release.evaluate

# Adapt a published model to a hand or document from a few corrected lines (the Space's
# feedback/ folder, a kraken-style folder or a shard): make finetune MODEL=... LINES=...
.PHONY: finetune
finetune: venv
	$(BIN)/python -m release.finetune $(or $(MODEL),model_repo/model.pt) $(or $(LINES),feedback) \
	  --out $(or $(OUT),model_repo_finetuned) \
	  $(if $(MINUTES),--minutes $(MINUTES)) $(if $(STEPS),--steps $(STEPS))

publish: venv
	$(BIN)/python -m release.publish

tensorboard: venv
	$(BIN)/tensorboard --logdir runs --host 127.0.0.1 --port 6006

# The Lambda handler under the real AWS runtime interface client, on the port AWS's docs map
# the emulator to: POST http://127.0.0.1:9000/2015-03-31/functions/function/invocations
api: venv
	$(BIN)/python lambda/local_runtime.py --port 9000 --workers 2

# Our published model against Tesseract on the same lines, speed, size and the Lambda load
# test: writes BENCHMARKS.md (which records how long it took) and bench/results.json.
bench: setup bench-system
	$(BIN)/python -m bench

ablation: setup
	$(BIN)/python -m experiments.ablation --seconds 150

# float32 / bf16 / channels_last / torch.compile training steps: experiments/layout.md
layout: setup
	$(BIN)/python -m experiments.layout --compile

test: setup test-system
	$(BIN)/ruff check .
	$(BIN)/mypy space lambda
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy space lambda

clean:
	rm -rf artifacts runs cache .pytest_cache
