# The two commands of the README:  make demo  (the main job)  and  make test  (every test).
# Each creates .venv when it is missing and installs the package with its dev extras first.
VENV  ?= .venv
PY    := $(VENV)/bin/python
TORCH ?= torch==2.14.1 torchvision==0.29.1 torchaudio==2.11.0
STAMP := $(VENV)/.avl_nb-installed

.PHONY: demo test env clean-data

env: $(STAMP)

$(STAMP): setup.py settings.ini Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	# tinysoundfont declares pyaudio (live playback only), which needs PortAudio headers to build: skip its deps
	$(PY) -m pip install -q --no-deps tinysoundfont==0.3.7
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/avl-nb demo

# the explorer's browser test drives Debian's Chromium (Playwright cannot download a browser here)
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

test: $(STAMP) $(CHROMIUM)
	bash tests/run_all.sh

clean-data:
	rm -rf data outputs
