"""The service's errors: the API maps them to 404 and 422, the CLI to exit codes."""

from __future__ import annotations


class NotFoundError(LookupError):
    """A named object (scenario, asset, track) does not exist."""


class InvalidInput(ValueError):
    """Bad input to a service call; the message names the field (``"da_ids: …"``).

    Called ``ValidationError`` before, which read as pydantic's; the API answers it with 422.
    """
