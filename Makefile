# Sampark — the two commands are `make run` and `make test`; everything else is what they need.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SAMPARK := $(VENV)/bin/sampark
export SAMPARK_HOME ?= $(CURDIR)/var

.PHONY: run test lint fmt bench bench-quick assets install messages clean

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# Front-end packages from npm, copied into static files (never a CDN, never committed).
build/static/vendor/.copied: node_modules/.package-lock.json
	rm -rf build/static/vendor && mkdir -p build/static/vendor/fonts
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map \
	   node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map \
	   build/static/vendor/
	cp node_modules/echarts/dist/echarts.min.js build/static/vendor/
	cp node_modules/@fontsource/noto-sans-devanagari/files/noto-sans-devanagari-devanagari-400-normal.woff2 \
	   node_modules/@fontsource/noto-sans-devanagari/files/noto-sans-devanagari-devanagari-700-normal.woff2 \
	   build/static/vendor/fonts/
	touch $@

assets: build/static/vendor/.copied

run: install assets
	$(SAMPARK) serve --seed-demo

# The same gates as CI: lint, types, Django checks, migrations, then the whole suite.
test: install assets lint
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy sampark config
	$(SAMPARK) check
	$(SAMPARK) makemigrations --check --dry-run

fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Hindi translations: extract, then edit sampark/locale/hi/LC_MESSAGES/django.po and recompile.
messages: install
	cd sampark && ../$(SAMPARK) makemessages -l hi --no-obsolete --add-location file
	cd sampark && ../$(SAMPARK) compilemessages -l hi

bench: install assets
	@for f in bench/[!_]*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

bench-quick: install assets
	@for f in bench/[!_]*.py; do echo "== $$f"; $(PY) $$f --quick || exit 1; done

clean:
	rm -rf $(VENV) node_modules build var
