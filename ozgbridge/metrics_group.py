"""Metrics of a group of API processes (`ozgbridge api --processes N`, `ozgbridge.processes`).

A scrape reaches one process of the group, whichever the kernel hands the connection to, so each
must serve the figures of all: prometheus_client's multiprocess mode keeps every counter,
histogram and gauge of every process in files under ``PROMETHEUS_MULTIPROC_DIR`` (set by the
supervisor), and the answering process sums them — counters and histograms over all processes
the group ever ran, so they never go backwards. Gauges say how they combine (`ozgbridge.metrics`).

The standard ``process_*`` metrics (CPU, memory, descriptors) cannot be summed that way; they are
served for every process of the group, labelled ``process`` (0 … N-1), read from /proc at scrape
time — ``sum without (process)`` gives the group's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Written by the supervisor into that directory: "<index> <pid>" per line.
MEMBERS_FILE = "ozgbridge-members"


def multiprocess_dir() -> str | None:
    """The directory if this process keeps its metrics there (prometheus_client decides on the
    variable at import, so it is read here the same way)."""
    return os.environ.get(MULTIPROC_ENV) or None


def members(directory: Path) -> list[tuple[str, int]]:
    try:
        text = (directory / MEMBERS_FILE).read_text(encoding="ascii")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        index, _, pid = line.partition(" ")
        if index.isdigit() and pid.isdigit():
            found.append((index, int(pid)))
    return found


class GroupProcesses(Collector):
    """``process_*`` of every member, from its /proc entry (one gone is left out)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for index, pid in members(self.directory):
            reader = ProcessCollector(pid=lambda pid=pid: pid, registry=None)  # type: ignore[misc]
            for family in reader.collect():
                into = merged.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                into.samples.extend(
                    Sample(s.name, {**s.labels, "process": index}, s.value) for s in family.samples
                )
        yield from merged.values()
