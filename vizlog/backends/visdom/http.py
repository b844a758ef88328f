"""The few HTTP calls vizlog makes to a Visdom server, each with a short timeout.

The ``visdom.Visdom`` client is not used for sending: it has no timeouts (a hung server hangs
the caller), asks the server whether a window exists before every append (two round trips per
point), and cannot append many points in one request.  The messages sent here are the ones
that client builds (see ``vizlog.backends.visdom.payloads``), posted to the same endpoints.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlparse

DEFAULT_CONNECT_TIMEOUT = 1.0
DEFAULT_READ_TIMEOUT = 5.0


class VisdomUnavailable(ConnectionError):
    """The server did not answer (down, restarting, too slow, or refusing our login)."""


class VisdomRejected(RuntimeError):
    """The server answered, but with an error for this one request."""


def parse_server(server: str) -> str:
    """``host:port`` or a URL -> the base URL (scheme, host, port, path), without a slash.

    Raises ValueError naming ``server`` when it is not an http(s) address.
    """
    if not isinstance(server, str):
        raise TypeError(f"VisdomBackend(server=...): expected a URL string, got {server!r}")
    text = server.strip()
    if "://" not in text:
        text = "http://" + text
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            f"VisdomBackend(server=...): expected an address like http://localhost:8097, "
            f"got {server!r}"
        )
    try:
        port = parsed.port
    except ValueError as exc:
        raise ValueError(f"VisdomBackend(server=...): bad port in {server!r}") from exc
    netloc = parsed.netloc if port is not None else f"{parsed.netloc}:8097"
    return f"{parsed.scheme}://{netloc}{parsed.path.rstrip('/')}"


def describe(exc: Exception) -> str:
    """A short reason for a failed request (requests' own messages run to several lines)."""
    import requests

    text = str(exc)
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Failed to resolve", "unknown host"),
        ("Name or service not known", "unknown host"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed by the server"),
    ):
        if marker in text:
            return reason
    return f"{type(exc).__name__}: {text[:200]}"


class VisdomHTTP:
    """A keep-alive session to one server; every call either answers or raises quickly."""

    def __init__(
        self,
        server: str,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.base_url = parse_server(server)
        self.username = username
        self._password_hash = (
            hashlib.sha256(password.encode("utf-8")).hexdigest() if password else None
        )
        self.timeout = (connect_timeout, read_timeout)
        self._session: Any = None

    def _open(self) -> Any:
        import requests

        session = requests.Session()
        session.trust_env = False  # a proxy from the environment must not see loopback traffic
        if self.username:
            try:
                response = session.post(
                    self.base_url + "/",
                    json={"username": self.username, "password": self._password_hash},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                session.close()
                raise VisdomUnavailable(describe(exc)) from exc
            if response.status_code != 200:
                session.close()
                raise VisdomUnavailable(
                    f"login as {self.username!r} refused (HTTP {response.status_code}); "
                    "check VIZLOG_VISDOM_USERNAME / VIZLOG_VISDOM_PASSWORD"
                )
        return session

    def post(self, endpoint: str, message: dict[str, Any] | str,
             timeout: float | None = None) -> str:
        """POST ``message`` as JSON (or JSON text already encoded) to ``/<endpoint>``; the
        answer's text.

        ``timeout`` (seconds to wait for the answer) overrides the session's read timeout.
        """
        import requests

        if self._session is None:
            self._session = self._open()
        try:
            body = message if isinstance(message, str) else json.dumps(message, allow_nan=False)
        except ValueError as exc:  # a NaN that the payload builders did not turn into None
            raise VisdomRejected(f"cannot encode the message for /{endpoint}: {exc}") from exc
        try:
            response = self._session.post(
                f"{self.base_url}/{endpoint}",
                data=body,
                timeout=self.timeout if timeout is None else (self.timeout[0], timeout),
            )
        except requests.RequestException as exc:
            self.reset()
            raise VisdomUnavailable(describe(exc)) from exc
        status = response.status_code
        if status == 200:
            return response.text
        if status in (400, 401, 403):
            self.reset()
            hint = (
                "login refused"
                if self.username
                else "the server may require a login: set VIZLOG_VISDOM_USERNAME and "
                "VIZLOG_VISDOM_PASSWORD"
            )
            raise VisdomUnavailable(f"HTTP {status} from /{endpoint} ({hint})")
        if status >= 500 and status != 500:
            raise VisdomUnavailable(f"HTTP {status} from /{endpoint}")
        raise VisdomRejected(f"HTTP {status} from /{endpoint}: {response.text[:200]}")

    def reset(self) -> None:
        """Drop the connection (and login); the next call opens a new one."""
        if self._session is not None:
            self._session.close()
            self._session = None

    close = reset
