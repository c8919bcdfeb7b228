"""The RF service's errors. They subclass the TEWA service's, so the API's handlers answer them
(404 and 422 problem+json) and the CLI turns them into exit codes the same way."""

from __future__ import annotations

from argus.tewa.service.errors import InvalidInput as _InvalidInput
from argus.tewa.service.errors import NotFoundError as _NotFoundError


class NotFoundError(_NotFoundError):
    """A receiver, acquisition, capture or localization does not exist."""


class InvalidInput(_InvalidInput):
    """Bad input; the message starts with the field (``"receiver_ids: …"``)."""


class CaptureError(RuntimeError):
    """A receiver could not deliver its capture (unreachable, refused, short or corrupt stream).

    Retried by the Celery task (with exponential backoff); the message names the receiver.
    """
