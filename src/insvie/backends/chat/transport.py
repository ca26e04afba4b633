"""One HTTP exchange with the standard library, network failures turned into :class:`ChatError`.

urllib keeps the core install free of an HTTP client dependency. Two choices guard the key:
redirects are never followed (urllib would carry the ``Authorization`` header to whatever host a
redirect names), and loopback servers are reached directly, never through an ``HTTP_PROXY`` that
would see the request. HTTP error statuses are returned, not raised: what to retry is the caller's
policy.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from insvie import __version__
from insvie.backends.chat.errors import ChatError

USER_AGENT = f"insvie/{__version__}"


@dataclass(frozen=True)
class HttpResponse:
    """Status, headers (names lower-cased) and the raw body of one response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (an HTML error page from a proxy)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # surfaces as an HTTPError with the 3xx status


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
_ENV_PROXIES = urllib.request.build_opener(_NoRedirect())


def _opener(url: str) -> urllib.request.OpenerDirector:
    return _DIRECT if _is_loopback(urlsplit(url).hostname) else _ENV_PROXIES


def _headers(message: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in message.items()} if message is not None else {}


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (TimeoutError, socket.timeout)) or "timed out" in str(exc)


def http_request(
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    payload: dict[str, Any] | None = None,
    timeout: float,
) -> HttpResponse:
    """Send one request; raise ``ChatError`` (retryable) only when no HTTP response came back.

    ``timeout`` bounds each socket operation (connect, each read), as in urllib; the reasons are
    ``timeout``, ``unreachable`` (refused, no route, unknown host) and ``connection_lost`` (the
    server hung up mid-exchange).
    """
    data = None if payload is None else json.dumps(payload).encode("utf-8")
    all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **headers}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
    try:
        with _opener(url).open(request, timeout=timeout) as response:
            return HttpResponse(response.status, _headers(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except OSError:
            body = b""
        return HttpResponse(exc.code, _headers(exc.headers), body)
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, BaseException) else exc
        if _is_timeout(reason):
            raise ChatError("timeout", f"no answer from {url} within {timeout:g} s", retryable=True) from None
        raise ChatError("unreachable", f"cannot connect to {url}: {exc.reason}", retryable=True) from None
    except OSError as exc:  # raised while waiting for or reading the response, after connecting
        if _is_timeout(exc):
            raise ChatError("timeout", f"no answer from {url} within {timeout:g} s", retryable=True) from None
        raise ChatError("connection_lost", f"{url}: {type(exc).__name__}: {exc}", retryable=True) from None
    except http.client.HTTPException as exc:  # a malformed or cut-off response
        raise ChatError("connection_lost", f"{url}: {type(exc).__name__}: {exc}", retryable=True) from None
