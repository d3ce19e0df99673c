# The two commands: `make run` (the platform) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install migrate bench load clean eb-bundle

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py loadsandbox
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py shell -c "from core.metrics import clear_directory; clear_directory()"
	@echo "OpenAlgo: http://$${HOST:-127.0.0.1}:$${PORT:-5000}/  (feed ws://$${HOST:-127.0.0.1}:$${WS_PORT:-8765}/, API docs /api/docs/)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
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

clean:
	rm -rf $(VENV) var/staticfiles dist
