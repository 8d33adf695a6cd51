"""Shared fixtures (small sample sources and workspaces built by the real generator and
importer, a folder for artifacts) and the rule that no test writes into the source tree.

- Files a person may want to look at after the run (screenshots, charts) go to
  ``artifacts_dir``: under ``$CTPAT_TEST_ARTIFACTS`` when it is set, else under pytest's
  temporary folder of the run. The end of the run prints where they are.
- Hypothesis keeps its example database (failing examples are replayed on the next run) in
  ``$HYPOTHESIS_STORAGE_DIRECTORY``, by default a per-user cache folder, not ``.hypothesis/``
  in the working directory.
- :mod:`checkout_guard` fails the run, naming the files, when the checkout
  changed during it (run once, in the controller, with or without pytest-xdist).
"""
from __future__ import annotations

import os
from pathlib import Path

import checkout_guard
import pytest
from sample_helpers import AS_OF, few_criteria

from ctpat_audit.demo.sample_data import write_sample
from ctpat_audit.intake.importer import import_source
from ctpat_audit.workspace.reference import init_workspace

CHECKOUT = Path(__file__).resolve().parent.parent
ARTIFACTS_ENV = "CTPAT_TEST_ARTIFACTS"
HYPOTHESIS_ENV = "HYPOTHESIS_STORAGE_DIRECTORY"
_ARTIFACT_DIRS = pytest.StashKey[set[str]]()
_WORKER_OUTPUT_KEY = "ctpat_artifact_dirs"


def _inside_checkout(path: Path) -> bool:
    path = path.expanduser().resolve()
    return path == CHECKOUT or CHECKOUT in path.parents


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # set by pytest-xdist in its worker processes


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_ARTIFACT_DIRS] = set()
    artifacts = os.environ.get(ARTIFACTS_ENV)
    if artifacts and _inside_checkout(Path(artifacts)):
        raise pytest.UsageError(f"{ARTIFACTS_ENV}={artifacts} is inside the checkout "
                                f"{CHECKOUT}; choose a folder outside it")
    # before any test module imports hypothesis; xdist workers inherit the variable
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ.setdefault(HYPOTHESIS_ENV, str(cache / "ctpat-audit-tests" / "hypothesis"))
    if _inside_checkout(Path(os.environ[HYPOTHESIS_ENV])):
        raise pytest.UsageError(f"{HYPOTHESIS_ENV}={os.environ[HYPOTHESIS_ENV]} is inside the "
                                f"checkout {CHECKOUT}; choose a folder outside it")
    checkout_guard.register(config, CHECKOUT)


@pytest.fixture(scope="session")
def artifacts_root(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's folder for files a person may want to look at (never in the checkout)."""
    env = os.environ.get(ARTIFACTS_ENV)
    root = (Path(env).expanduser().resolve() if env
            else tmp_path_factory.getbasetemp() / "artifacts")
    root.mkdir(parents=True, exist_ok=True)
    pytestconfig.stash[_ARTIFACT_DIRS].add(str(root))
    if _is_worker(pytestconfig):  # handed to the controller, which prints it at the end
        pytestconfig.workeroutput[_WORKER_OUTPUT_KEY] = sorted(  # type: ignore[attr-defined]
            pytestconfig.stash[_ARTIFACT_DIRS])
    return root


@pytest.fixture
def artifacts_dir(artifacts_root: Path, request: pytest.FixtureRequest) -> Path:
    """This test module's artifacts folder: ``<artifacts root>/<test module name>/``."""
    folder = artifacts_root / request.path.stem
    folder.mkdir(exist_ok=True)
    return folder


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # type: ignore[no-untyped-def]
    """pytest-xdist: collect the artifact folders a worker used."""
    dirs = getattr(node, "workeroutput", {}).get(_WORKER_OUTPUT_KEY, [])
    node.config.stash[_ARTIFACT_DIRS].update(dirs)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    used = [d for d in sorted(config.stash.get(_ARTIFACT_DIRS, set()))
            if Path(d).is_dir() and any(Path(d).iterdir())]
    if used and not _is_worker(config):
        terminalreporter.write_sep("-", "test artifacts (screenshots, charts)")
        for folder in used:
            terminalreporter.write_line(folder)


@pytest.fixture
def small_source(tmp_path: Path) -> Path:
    """A 12-partner source that does not depend on the criteria catalogue."""
    return write_sample(tmp_path / "source", partners=12, seed=3, as_of=AS_OF,
                        shipments_per_partner=40, criteria_for=few_criteria)


@pytest.fixture
def empty_workspace(tmp_path: Path):
    return init_workspace(tmp_path / "ws")


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory):
    """A 30-partner workspace from the default sample (with the default catalogue); read-only use."""
    root = tmp_path_factory.mktemp("sample")
    src = write_sample(root / "source", partners=30, seed=11, as_of=AS_OF, shipments_per_partner=120)
    ws = init_workspace(root / "ws")
    import_source(ws, src, progress=False)
    return ws
