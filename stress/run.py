"""``make stress``: run every recipe, print its figures, write ``benchmarks/stress.json``, exit 1
when a target is missed. ``--quick`` runs the small counts of ``tests/test_stress_quick.py``;
``--only NAME`` runs some recipes and writes only their figures. A recipe that stops with an
error is reported (``NAME_failed``, ``NAME_error``; a missed target) and the others still run."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

RECIPES = ("autosave_kill", "two_writers", "tamper", "authority", "hostile_text", "hostile_ids",
           "fuzz_loaders", "server_defaults")
OUT = Path(__file__).resolve().parents[1] / "benchmarks" / "stress.json"
#: figure -> largest value that meets the target
TARGETS = {"autosave_lost": 0, "autosave_integrity_failures": 0, "autosave_chain_broken": 0,
           "two_writer_lost": 0, "two_writer_errors": 0, "two_writer_chain_broken": 0,
           "tamper_undetected": 0, "state_edits_undetected": 0, "chain_rewrites_undetected": 0,
           "unauthorized_signatures": 0, "authority_errors": 0,
           "formula_cells": 0, "live_html": 0, "hostile_unreadable": 0, "pdf_javascript": 0,
           "escaped_paths": 0,
           "hostile_id_crashes": 0, "papermill_value_injections": 0, "fuzz_crashes": 0,
           "fuzz_import_violations": 0, "bidi_spoofs": 0,
           "bomb_zip_seconds": 2, "bomb_entity_seconds": 2, "leading_zero_changed": 0,
           "server_unrefused": 0, "server_not_local": 0, "server_weak_token": 0,
           "server_port_unseen": 0}
#: figure -> smallest value that meets the target (quick and full runs alike)
MINIMA = {"bomb_zip_refused": 1, "bomb_entity_refused": 1,
          "two_writer_switches": 500,  # per 2,000 entries: quick runs them all too
          "server_kernel_sockets": 1,  # a kernel's sockets were read too
          "hostile_with_noncharacters": 1, "hostile_with_bidi": 1,
          "hostile_report_bidi_names": 1}  # bidi_spoofs was checked on some report
#: figure -> smallest count a full run must reach (a quick run tries fewer)
FULL_MINIMA = {"state_edits_tried": 1000, "chain_rewrites_tried": 100,
               "fuzz_import_tables_both_ways": 21}  # 7 tables x 3 formats


def missed(figures: dict) -> list[str]:
    bad = [f"{k}={figures[k]} (target <= {t})" for k, t in TARGETS.items()
           if k in figures and figures[k] > t]
    bad += [f"{name} stopped: {figures.get(f'{name}_error')}" for name in RECIPES
            if figures.get(f"{name}_failed")]
    floors = {**MINIMA, **(FULL_MINIMA if figures.get("size") == "full" else {})}
    return bad + [f"{k}={figures[k]} (target >= {t})" for k, t in floors.items()
                  if k in figures and figures[k] < t]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", choices=RECIPES)
    args = ap.parse_args(argv)
    figures: dict = {}  # only what this run measured: never figures of an earlier run
    for name in args.only or RECIPES:
        module = importlib.import_module(f"stress.{name}")
        t = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"stress-{name}-") as tmp:
            try:
                got = module.run(Path(tmp), quick=args.quick)
            except Exception as exc:  # the other recipes' figures are still written
                traceback.print_exc()
                got = {f"{name}_failed": 1, f"{name}_error": f"{type(exc).__name__}: {exc}"}
        got[f"{name}_seconds"] = round(time.monotonic() - t, 1)
        figures.update(got)
        for k, v in got.items():
            print(f"{name:16s} {k:32s} {v}", flush=True)
    figures["size"] = "quick" if args.quick else "full"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=1, sort_keys=True, default=str) + "\n")
    bad = missed(figures)
    for b in bad:
        print(f"TARGET MISSED: {b}", file=sys.stderr)
    print(f"wrote {OUT}; {'FAILED' if bad else 'all targets met'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
