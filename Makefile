# The two commands: `make run` (the platform) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install migrate bench load clean eb-bundle css vendor

# `make run`'s process counts (README: Process layout), from the CPU count unless the
# environment sets them (a value in .env wins under honcho too): HTTP processes (web) one up
# to 3 CPUs, then CPUs/2; feed-server processes (ws) one up to 7 CPUs, then CPUs/4. On 2
# cores that is one of each: a second one would cost ~100 MB for a core already shared.
CPUS := $(shell getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
WEB_CONCURRENCY ?= $(shell n=$(CPUS); echo $$(( n >= 4 ? n / 2 : 1 )))
FEED_PROCESSES ?= $(shell n=$(CPUS); echo $$(( n >= 8 ? n / 4 : 1 )))

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

# Hosted Python strategies run in an interpreter of their own (requirements-strategies.txt).
STRATEGY_VENV := .venv-strategies
$(STRATEGY_VENV)/.installed: requirements-strategies.txt
	@test -x $(STRATEGY_VENV)/bin/python || $(PYTHON) -m venv $(STRATEGY_VENV)
	$(STRATEGY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(STRATEGY_VENV)/bin/python -m pip install --quiet -r requirements-strategies.txt
	@touch $@

install: $(STAMP) $(STRATEGY_VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Beat's schedule runs in the worker (WORKER_BEAT); with one feed-server process the feed
# process serves the feed itself (FEED_SERVES_WS) and no ws process starts.
comma := ,
FEED_SERVES_WS := $(if $(filter 1,$(FEED_PROCESSES)),true,false)
RUN_SKIP := beat=0$(if $(filter true,$(FEED_SERVES_WS)),$(comma)ws=0)

run: install
	$(BIN)/python manage.py prepare
	@echo "OpenAlgo: http://$${HOST:-127.0.0.1}:$${PORT:-5000}/  (feed ws://$${HOST:-127.0.0.1}:$${WS_PORT:-8765}/, API docs /api/docs/)"
	WORKER_BEAT=true FEED_SERVES_WS=$(FEED_SERVES_WS) WEB_CONCURRENCY="$(WEB_CONCURRENCY)" FEED_PROCESSES="$(FEED_PROCESSES)" WEB_PORT="$${WEB_PORT:-$${PORT:-5000}}" PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -c $(RUN_SKIP)

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m mypy
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run --verbosity 0
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	@for script in bench/*.py; do case $$script in bench/load.py|bench/abtest.py) ;; *) $(BIN)/python $$script || exit 1;; esac; done

# Five minutes of mixed traffic against the whole platform on PostgreSQL + Redis (bench/load.py).
load: install
	$(BIN)/python bench/load.py

# The AWS Elastic Beanstalk source bundle (deploy/README.md): needs python3 only, no eb CLI.
eb-bundle:
	$(PYTHON) deploy/aws/build_bundle.py --output dist/openalgo-eb.zip

# Front-end build (needs Node and npm; the outputs are committed, so `run` and `test` never do):
# `css` compiles frontend/tailwind.css with Tailwind + DaisyUI, `vendor` copies htmx and
# lightweight-charts with their licences into static/vendor/.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

css: node_modules/.installed
	npx @tailwindcss/cli -i frontend/tailwind.css -o static/css/app.css --minify

vendor: node_modules/.installed
	mkdir -p static/vendor/htmx static/vendor/lightweight-charts
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx.org/LICENSE static/vendor/htmx/
	cp node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js node_modules/lightweight-charts/LICENSE static/vendor/lightweight-charts/
	cp node_modules/lightweight-charts/NOTICE static/vendor/lightweight-charts/ 2>/dev/null || true
	cp node_modules/daisyui/LICENSE static/vendor/daisyui.LICENSE
	cp node_modules/tailwindcss/LICENSE static/vendor/tailwindcss.LICENSE

clean:
	rm -rf $(VENV) $(STRATEGY_VENV) var/staticfiles dist
