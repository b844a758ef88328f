"""``make bench``: vizlog against the raw writers, side by side, in one run.

Prints the table (case, vizlog, raw, ratio, target, status), writes it as JSON
(``benchmarks/results/latest.json``) and, for a full run, as Markdown
(``benchmarks/RESULTS.md``, the table the README shows).  ``--quick`` runs every case with
tiny sizes, to check that the benchmark still works; its numbers mean nothing.

The exit status is 0 when every case ran, whether or not its target was met: targets are
reported, not enforced.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import (  # noqa: E402 - the repository root must be importable first
    case_codec,
    case_cuda,
    case_delivery,
    case_histogram,
    case_loop,
    case_model,
    case_outage,
    case_remote,
    case_scalar,
    case_startup,
    case_system,
    report,
)
from benchmarks.common import FULL, QUICK, Context, Row  # noqa: E402

CASES = {
    "1": case_scalar.run,
    "2": case_loop.run,
    "3": case_histogram.run,
    "4": case_delivery.run,
    "5": case_startup.run,
    "6": case_outage.run,
    "7": case_model.run,
    "8": case_remote.run,
    "9": case_system.run,
    "10": case_codec.run,
    "cuda": case_cuda.run,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes: checks that every case runs (numbers mean nothing)")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated cases to run (default: all: {','.join(CASES)})")
    parser.add_argument("--json", default=os.path.join(ROOT, "benchmarks", "results",
                                                       "latest.json"),
                        help="where to write the results as JSON")
    parser.add_argument("--markdown", default=None,
                        help="where to write the Markdown table (default: benchmarks/RESULTS.md "
                        "for a full run of every case, none otherwise)")
    args = parser.parse_args(argv)
    args.cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"--cases: unknown {', '.join(unknown)}; known: {', '.join(CASES)}")
    if args.markdown is None and not args.quick and args.cases == list(CASES):
        args.markdown = os.path.join(ROOT, "benchmarks", "RESULTS.md")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rows: list[Row] = []
    errors: dict[str, str] = {}
    timings: dict[str, float] = {}
    started = time.time()
    with Context(sizes) as ctx:
        for name in args.cases:
            print(f"case {name} ...", file=sys.stderr, flush=True)
            begin = time.perf_counter()
            try:
                new = CASES[name](ctx)
            except Exception:  # noqa: BLE001 - one broken case must not hide the others
                errors[name] = traceback.format_exc()
                print(errors[name], file=sys.stderr, flush=True)
                new = []
            timings[name] = time.perf_counter() - begin
            for row in new:
                print(report.text_table([row]).splitlines()[-1], file=sys.stderr, flush=True)
            rows.extend(new)
    info = report.machine()
    print()
    print(f"vizlog vs raw writers ({'quick' if args.quick else 'full'} run) on "
          f"{report.machine_line(info)}")
    print()
    print(report.text_table(rows))
    met = sum(row.met is True for row in rows)
    targets = sum(row.met is not None for row in rows)
    print(f"\n{met} of {targets} targets met; {time.time() - started:.0f} s in all")
    for name, trace in errors.items():
        print(f"case {name} FAILED:\n{trace}")
    report.write_json(args.json, rows, info, {
        "quick": args.quick, "cases": args.cases, "seconds_per_case": timings,
        "errors": errors, "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    })
    print(f"results: {args.json}")
    if args.markdown:
        report.write_markdown(args.markdown, rows, info,
                              "make bench", time.strftime("%Y-%m-%d"))
        print(f"table: {args.markdown}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
