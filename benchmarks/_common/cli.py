"""Argument-parser patterns the scripts share. Imports nothing heavy: ``bench_tewa.py`` parses its
arguments (and pins the BLAS threads) before numpy is first imported."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence

#: The server the PostgreSQL benchmarks create their database on (its admin database).
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def parser(doc: str | None, full_doc: bool = False) -> argparse.ArgumentParser:
    """A parser described by the script's docstring: its first line, or all of it (``--help``
    then shows the usage and targets written there)."""
    if full_doc:
        return argparse.ArgumentParser(
            description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
        )
    return argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)


def add_database(ap: argparse.ArgumentParser, sqlite: bool = False, exclusive: bool = True) -> None:
    """``--pg-url`` (the server, via its admin database, to create the bench database on) and,
    with ``sqlite``, ``--sqlite`` (a temporary SQLite file instead; exclusive with ``--pg-url``
    unless ``exclusive`` is false)."""
    group: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup = ap
    if sqlite and exclusive:
        group = ap.add_mutually_exclusive_group()
    group.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="PostgreSQL server (admin database) to create the bench database on "
        f"(default {DEFAULT_PG_URL})",
    )
    if sqlite:
        group.add_argument("--sqlite", action="store_true", help="a temporary SQLite file instead")


def comma_ints(flag: str, minimum: int = 1) -> Callable[[str], list[int]]:
    """An argparse ``type``: "1,2" -> [1, 2], at least one, each >= ``minimum``."""

    def parse(text: str) -> list[int]:
        try:
            out = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{flag}: integers separated by commas, got {text!r}"
            ) from None
        if not out or min(out) < minimum:
            raise argparse.ArgumentTypeError(f"{flag}: at least one, each >= {minimum}")
        return out

    return parse


def comma_choices(flag: str, choices: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse ``type``: "a,b" -> ["a", "b"], at least one, each among ``choices``."""

    def parse(text: str) -> list[str]:
        out = [x.strip() for x in text.split(",") if x.strip()]
        unknown = [x for x in out if x not in choices]
        if unknown or not out:
            raise argparse.ArgumentTypeError(
                f"{flag}: unknown {unknown}; choose among {', '.join(choices)}"
            )
        return out

    return parse


def require(
    ap: argparse.ArgumentParser,
    args: argparse.Namespace,
    at_least_one: Sequence[str] = (),
    positive: Sequence[str] = (),
) -> None:
    """Exit with a usage error unless each ``at_least_one`` option is >= 1 and each
    ``positive`` one is > 0 (names as attributes: ``max_in_flight`` for ``--max-in-flight``)."""
    for name in at_least_one:
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in positive:
        if not getattr(args, name) > 0:
            ap.error(f"--{name.replace('_', '-')} must be > 0")


def set_blas_threads(n: int) -> None:
    """Pin BLAS/OpenMP to ``n`` threads: only effective before numpy is first imported."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
