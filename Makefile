# ctpat-audit: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := demo
PARTNERS ?= 200
SEED   ?= 7
AS_OF  ?= 2026-11-01
VALIDATIONS ?= 8
REPORTS := reports
# demonstration keys only: a fixed passphrase that is not a secret
CTPAT_PASS := CTPAT_DEMO_PASS=demo-passphrase-not-secret
# Debian packages the tests and reports need (installed when run as root, else named):
# poppler-utils (pdftotext/pdftoppm checks), chromium (PDF rendering, browser tests),
# softhsm2 + opensc (PKCS#11 token signing tests), fonts-droid-fallback (CJK and fullwidth
# characters in report PDFs: partners' names and notes are not all Latin),
# node-configurable-http-proxy (the proxy in front of the team server, ctpat-audit hub).
SYSTEM_PACKAGES := poppler-utils chromium softhsm2 opensc fonts-droid-fallback node-configurable-http-proxy

.PHONY: install system-deps demo test lint bench stress clean catalogue-demo lab

$(STAMP): pyproject.toml constraints/overrides.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python \
	    --override constraints/overrides.txt -e '.[dev]'
	# bytecode of the libraries and the package written now, not left to the first import
	# (which never writes it where PYTHONDONTWRITEBYTECODE is set: then every start compiles
	# pandas, scipy and IPython again, about 5 s of CPU; see docs/performance.md)
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" ctpat_audit templates notebooks >/dev/null || true  # speed only
	# the "python3" kernel that papermill and JupyterLab use is this venv's interpreter
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	touch $@

# Bytecode compiled once at install (pip does it by default, uv does not): a new Python process,
# such as a notebook's kernel, then loads its modules instead of compiling them from source,
# which matters where PYTHONDONTWRITEBYTECODE is set or the environment is read-only (nothing is
# cached then): importing pandas in a new kernel took 2.0 s of CPU from source, 0.4 s compiled.
BYTECODE := $(VENV)/.bytecode
$(BYTECODE): $(STAMP)
	$(BIN)/python -m compileall -q -j 0 "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" ctpat_audit >/dev/null
	touch $@

install: $(STAMP) $(BYTECODE) system-deps

system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" = 0 ]; then \
	        echo "installing system packages:$$missing"; \
	        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    else \
	        echo "please install these Debian packages (as root): apt-get install$$missing"; exit 1; \
	    fi; \
	fi

demo: install
	rm -rf $(DEMO)
	find $(REPORTS) -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	$(BIN)/ctpat-audit sample $(DEMO)/source --partners $(PARTNERS) --seed $(SEED) --as-of $(AS_OF)
	$(BIN)/ctpat-audit init -w $(DEMO)/workspace
	$(BIN)/ctpat-audit import -w $(DEMO)/workspace $(DEMO)/source
	$(BIN)/ctpat-audit sample-sessions -w $(DEMO)/workspace --validations $(VALIDATIONS) --self-assessments 3 --seed $(SEED) --as-of $(AS_OF)
	$(BIN)/ctpat-audit portfolio -w $(DEMO)/workspace --as-of $(AS_OF) --limit 8 --xlsx $(DEMO)/portfolio.xlsx
	$(CTPAT_PASS) $(BIN)/ctpat-audit keys demo -w $(DEMO)/workspace --passphrase-env CTPAT_DEMO_PASS
	$(CTPAT_PASS) $(BIN)/ctpat-audit batch -w $(DEMO)/workspace --out $(REPORTS) \
	    --specialist-keys $(DEMO)/workspace/demo-keys --key $(DEMO)/workspace/demo-keys/supervisor-demo.supervisor_cbp.example.p12 \
	    --passphrase-env CTPAT_DEMO_PASS
	$(BIN)/ctpat-audit verify $$(ls -d $(REPORTS)/*/V-* | head -1) --trust $(DEMO)/workspace/keys -w $(DEMO)/workspace
	@echo
	@echo "Signed, countersigned and verified reports: $(REPORTS)/index.html (and $(REPORTS)/index.xlsx)"
	@echo "Portfolio workbook: $(DEMO)/portfolio.xlsx. Open a partner in JupyterLab: make lab ACCOUNT=<id> USER_EMAIL=<you>"

# one pytest worker more than cores: many tests wait on a browser, a kernel or a subprocess
TEST_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))
test: install lint  ## quality gates, then the whole suite, a pytest worker per core and one more (a test file stays on one worker)
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile

lint: install  ## layer contracts (import-linter), ruff (pyproject [tool.ruff]), mypy (pyproject [tool.mypy])
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check .
	$(BIN)/mypy ctpat_audit

bench: install
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick,)

stress: install  ## crash, tamper, hostile-input and concurrency recipes; figures to benchmarks/stress.json
	$(BIN)/python -m stress.run

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info

catalogue-demo: install  ## regenerate the demonstration catalogue after confirmed_criteria.yaml changes
	$(BIN)/python -m ctpat_audit.criteria.demonstration

lab: install  ## JupyterLab on the demo workspace (run make demo first); ACCOUNT=0012345 USER_EMAIL=you@cbp.example
	$(BIN)/ctpat-audit lab -w $(DEMO)/workspace $(if $(ACCOUNT),--account $(ACCOUNT),) $(if $(USER_EMAIL),--user $(USER_EMAIL),)
