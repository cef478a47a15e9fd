"""Run the benchmarks and print one table with each figure's ratio to its ceiling.

    ./dev bench                      # everything, SQLite and PostgreSQL (about 5 minutes)
    ./dev bench --quick              # smaller counts, for a smoke run
    ./dev bench --only intake,claims --engines postgresql

Ratios are the numbers to compare across machines: each figure is measured in the same run as its
ceiling (a bare INSERT+COMMIT loop for intake, a bare aiohttp client for delivery, with a bare httpx
client as a second reference), on the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import time
from typing import Any

from tests.benchmarks import (
    bench_claims,
    bench_delivery,
    bench_e2e,
    bench_intake,
    bench_memory,
    bench_reports,
)
from tests.benchmarks.common import Row, workdir

SUITES = {
    "intake": bench_intake.run,
    "delivery": bench_delivery.run,
    "e2e": bench_e2e.run,
    "claims": bench_claims.run,
    "memory": bench_memory.run,
    "reports": bench_reports.suite,
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--only", default=",".join(SUITES))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, Row]] = []
    started = time.perf_counter()
    directory = workdir()

    def emit_for(engine: str):  # type: ignore[no-untyped-def]
        def emit(values: Row | tuple[Any, ...]) -> None:
            row = Row(*values)
            rows.append((engine, row))
            print(_format(engine, row), flush=True)

        return emit

    machine = platform.processor() or platform.machine()
    print(f"ozgbridge benchmarks on {machine}, {os.cpu_count()} cores, work dir {directory}")
    print(_header())
    for engine in args.engines.split(","):
        for name in args.only.split(","):
            asyncio.run(SUITES[name](engine, directory, emit_for(engine), quick=args.quick))
    shutil.rmtree(directory, ignore_errors=True)  # kept on failure: the process logs are there
    print()
    print(f"summary ({time.perf_counter() - started:.0f} s in all)")
    print(_header())
    for engine, row in rows:
        print(_format(engine, row))


def _header() -> str:
    columns = f"{'value':>12} {'unit':<26}{'ceiling':>11}{'ratio':>8}{'alt ceil.':>11}"
    return f"{'engine':<11}{'figure':<44}{columns}  notes"


def _format(engine: str, row: Row) -> str:
    def number(value: float | None, width: int, digits: int) -> str:
        return f"{value:{width}.{digits}f}" if value is not None else " " * width

    return (
        f"{engine:<11}{row.figure:<44}{row.value:12.1f} {row.unit:<26}"
        f"{number(row.ceiling, 11, 1)}{number(row.ratio, 8, 2)}{number(row.alt_ceiling, 11, 1)}"
        f"  {row.notes}"
    )


if __name__ == "__main__":
    main()
