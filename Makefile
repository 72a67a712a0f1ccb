# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv and install what is missing, every time it is missing.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
DEMO_RUN ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup demo serve test test-unit test-notebooks bench-torch-env clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

# The main job: the CPU recipe (preset fast) on the embedded procedural anime faces (no account, no network) for
# 49 kimg (49,152 images shown = 12 epochs of the 4,096 faces), then the judge's GQ/DQ/PQ (and KID/FID) of 200
# samples and 64 faces from its averaged generator. 3 min 4 s on this 2-core CPU (2026-12-01), set-up excluded.
DEMO_DATA ?= synthetic:4096
DEMO_KIMG ?= 49.152
demo: setup
	$(PY) -m animegan_tf train --preset fast --data $(DEMO_DATA) --kimg $(DEMO_KIMG) --out $(DEMO_RUN) --quiet
	$(PY) -m animegan_tf evaluate --run $(DEMO_RUN) --n 200 --ref-n 500
	$(PY) -m animegan_tf sample --run $(DEMO_RUN) --n 64 --grid $(DEMO_RUN)/final_grid.png
	@echo "demo grid: $(DEMO_RUN)/final_grid.png   (per-epoch grids in $(DEMO_RUN)/samples/)"

# The web page for the newest run `make demo` wrote, on http://127.0.0.1:$(PORT)/ (Ctrl+C stops it).
PORT ?= 8000
serve: setup
	@run=$$(ls -d runs/demo-* 2>/dev/null | sort | tail -n 1); \
	if [ -z "$$run" ]; then echo "error: no runs/demo-* yet: run make demo first" >&2; exit 2; fi; \
	$(PY) -m animegan_tf serve --runs runs --run "$${run#runs/}" --port $(PORT)

test: setup test-unit test-notebooks

test-unit: setup
	$(PY) -m pytest tests -q

test-notebooks: setup
	@if ls notebooks/*.ipynb >/dev/null 2>&1; then \
		ANIMEGAN_FAST=1 $(PY) -m pytest --nbval-lax notebooks -q -p no:cacheprovider; \
	else echo "no notebooks yet"; fi

# The PyTorch peer of benchmarks/train_throughput.py lives in its own environment: torch is never a lab dependency.
TORCH_VENV ?= .venv-torch
bench-torch-env: $(TORCH_VENV)/.installed
$(TORCH_VENV)/.installed:
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install --quiet torch==2.13.0 numpy
	touch $@

clean:
	rm -rf $(VENV) $(TORCH_VENV) *.egg-info .pytest_cache
