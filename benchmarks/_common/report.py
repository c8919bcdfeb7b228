"""How the benchmarks print: a table (rich, or pipe-separated text for plain logs), then one
summary line. Number formats shared by several scripts are here, so they read the same."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table


def console(width: int | None = None) -> Console:
    """A rich console without syntax highlighting (numbers stay plain)."""
    return Console(highlight=False, width=width)


def rich_table(title: str, columns: Sequence[str], left: int | Collection[str] = 1) -> Table:
    """A rich table; the first ``left`` columns (or the columns named in ``left``) are left-
    justified, the others right-justified (numbers)."""
    table = Table(title=title)
    for k, col in enumerate(columns):
        is_left = k < left if isinstance(left, int) else col in left
        table.add_column(col, justify="left" if is_left else "right")
    return table


@dataclass(frozen=True)
class PipeTable:
    """A Markdown-style text table: ``| a | b |`` rows of fixed widths. The first ``left``
    columns are left-aligned, the others right-aligned."""

    columns: Sequence[tuple[str, int]]  # (header, width)
    left: int = 0

    def row(self, cells: Sequence[str]) -> str:
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        out = [
            f"{c:<{w}}" if k < self.left else f"{c:>{w}}"
            for k, (c, (_, w)) in enumerate(zip(cells, self.columns, strict=True))
        ]
        return "| " + " | ".join(out) + " |"

    def header(self) -> str:
        """The header row and the rule under it (two lines)."""
        rule = "|" + "|".join("-" * (w + 2) for _, w in self.columns) + "|"
        return self.row([name for name, _ in self.columns]) + "\n" + rule


def ms(seconds: float) -> str:
    """Seconds as milliseconds: one decimal below 100 ms; "—" for NaN, "failed" for infinity."""
    if math.isnan(seconds):
        return "—"
    if math.isinf(seconds):
        return "failed"
    return f"{seconds * 1e3:.1f}" if seconds < 0.1 else f"{seconds * 1e3:.0f}"


def rate(x: float | None) -> str:
    """A rate (per second): one decimal below 10; "—" for none."""
    if x is None:
        return "—"
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def kilo(x: float) -> str:
    """183243 -> "183k"."""
    return f"{x / 1000:.0f}k"


def times(ratio: float, digits: int = 1) -> str:
    """A speed ratio against the reference: 4.236 -> "4.2x"."""
    return f"{ratio:.{digits}f}x"


def verdict(ok: bool, missed: str = "missed") -> str:
    """Whether a target was met, as the summary lines say it."""
    return "met" if ok else missed


def machine(*extra: str) -> str:
    """Processor, CPUs, Python and numpy versions, then ``extra`` items, comma-separated."""
    items = [
        platform.processor() or platform.machine(),
        f"{os.cpu_count()} cpus",
        f"python {platform.python_version()}",
        f"numpy {np.__version__}",
        *extra,
    ]
    return ", ".join(items)


def load_average(at_start: float) -> str:
    """``1-min load average: A at start, B at end (N CPUs)``: other work lowers every figure."""
    return (
        f"1-min load average: {at_start:.1f} at start, {os.getloadavg()[0]:.1f} at end "
        f"({os.cpu_count()} CPUs)"
    )


def summary(label: str, parts: Sequence[str], sep: str = ", ") -> str:
    """The one-line summary: ``label: part, part``. Print it with ``print`` (not a rich console,
    which wraps long lines), so it stays one line for ``make bench`` logs and greps."""
    line = f"{label}: {sep.join(parts)}"
    if "\n" in line:
        raise ValueError("a summary is one line")
    return line
