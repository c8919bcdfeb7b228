"""The astronomy service's errors (the TEWA ones, so the API maps them to 404 and 422 alike)."""

from __future__ import annotations

from dataclasses import dataclass

from argus.tewa.service.errors import InvalidInput, NotFoundError


class NoActiveModel(NotFoundError):
    """No model of the asked type is registered and active; the message names the command
    that trains one (``argus astro train``). There is never an untrained fallback."""


@dataclass(frozen=True)
class RowError:
    """One bad input: which file or row, which field (keyword, column), and why."""

    where: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.field}: {self.reason}"


class RejectedBatch(InvalidInput):
    """A batch (files of an ingest, rows of a candidate table) refused whole; ``errors`` lists
    every bad file or row. The message starts with the field of the first error."""

    def __init__(self, what: str, errors: list[RowError]) -> None:
        self.errors = errors
        first = errors[0] if errors else RowError("?", "?", "?")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(
            f"{first.field}: {what} rejected, nothing stored: {first.where}: {first.reason}{more}"
        )


__all__ = ["InvalidInput", "NoActiveModel", "NotFoundError", "RejectedBatch", "RowError"]
