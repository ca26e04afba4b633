"""When to retry and how long to wait: the same policy as OpenAI's own client.

Rate limits (429), request timeouts (408), server errors (5xx), timeouts and dropped connections are
transient; any other 4xx (bad key, bad request, unknown model) will fail the same way again and is
raised at once. Waits grow exponentially with jitter, so a fleet of workers hitting one limit does
not retry in lockstep, and a server's ``Retry-After`` (or OpenAI's ``retry-after-ms``) wins.
"""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime


def retryable_status(status: int) -> bool:
    """Whether an HTTP status is worth another try."""
    return status in (408, 429) or status >= 500


def retry_after_seconds(headers: dict[str, str]) -> float | None:
    """The server's requested wait (``retry-after-ms``, or ``retry-after`` in seconds or as a date)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            return max(0.0, float(milliseconds) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(retry: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``retry`` (1-based), never more than ``cap``."""
    if retry_after is not None:
        return min(retry_after, cap)
    return min(cap, base * 2 ** (retry - 1)) * random.uniform(0.75, 1.0)
