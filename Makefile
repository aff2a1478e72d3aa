# The README's two commands: `make demo` (the main job) and `make test` (install + full test suite).
# Both create the virtual environment they need on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo app test bench docs walkthrough clean

# The demo needs the core package only; the tests also need torch/timm/ONNX (a few GB, ~2 min).
$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[xgboost-cpu]"
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.core
	$(PY) -m forensics demo

# The research workflow on generated videos (docs/user-guide/workflow.md), in results/walkthrough/.
$(VENV)/.workflow: $(VENV)/.core
	$(PY) -m pip install --quiet -e ".[workflow]"
	touch $@

walkthrough: $(VENV)/.workflow
	rm -rf results/walkthrough && mkdir -p results/walkthrough
	cd results/walkthrough && PATH="$(abspath $(VENV))/bin:$$PATH" sh ../../examples/workflow/walkthrough.sh

# The web page that scores one uploaded file (Streamlit), with a demo model fitted offline in seconds.
$(VENV)/.app: $(VENV)/.core
	$(PY) -m pip install --quiet -e ".[app]"
	touch $@

app: $(VENV)/.app
	$(PY) -m forensics app --demo

# The report test renders HTML in headless Chromium (Debian package); installed here when we can.
test: $(VENV)/.test
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed: the report rendering test will be skipped"
	@command -v chromedriver >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-driver >/dev/null; } || \
		echo "chromedriver is not installed: the app's browser test will be skipped"
	$(PY) -m pytest

docs: $(VENV)/.test
	$(PY) docs/build_catalogue.py
	$(VENV)/bin/mkdocs build --strict

bench: $(VENV)/.test
	$(PY) benchmarks/bench_features.py

clean:
	rm -rf $(VENV) build dist *.egg-info results
