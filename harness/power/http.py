"""The ``http`` power backend: a smart plug or PDU with a URL per action (Tasmota, Shelly, PDUs).

``on = "http://plug/cm?cmnd=Power%20On"`` or, for a REST API,
``on = { url = "https://pdu/outlets/3", method = "PUT", body = '{"state": "on"}' }``. Basic auth
takes ``user`` and ``password_env``, bearer auth ``token_env``; the secret is read from the
environment at the moment of the request and never appears in a message or a report.
"""

from __future__ import annotations

import base64
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from harness.errors import PowerError
from harness.model.board import Board
from harness.model.config import Section
from harness.power.base import DEFAULT_TIMEOUT, PowerBackend, off_wait_on

REPLY_LIMIT = 200
METHODS = {"GET", "POST", "PUT", "PATCH"}
_SECRET_QUERY_KEY = re.compile(r"pass|pwd|passwd|^pw$|token|secret|key|auth|sig|session|cred", re.IGNORECASE)
# A plug or PDU sits on the lab network: an http_proxy meant for the internet must not catch it.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Request:
    """One action's request."""

    url: str
    method: str
    body: str | None


@dataclass(frozen=True)
class Auth:
    """Where the credentials come from: names of environment variables, never the secrets."""

    user: str | None = None
    password_env: str | None = None
    token_env: str | None = None


def redact_url(url: str) -> str:
    """``url`` without a ``user:password@`` part and with secret-looking query values masked."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query_text = parts.query
    if any(_SECRET_QUERY_KEY.search(key) for key, _value in query):
        masked = [(key, "***" if _SECRET_QUERY_KEY.search(key) else value) for key, value in query]
        query_text = urllib.parse.urlencode(masked, safe="*")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query_text, parts.fragment))


class HttpSwitch:
    """Sends one HTTP request per action and checks the status (and optionally the body)."""

    name = "http"

    def __init__(
        self,
        requests: dict[str, Request],
        *,
        auth: Auth,
        expect_status: tuple[int, ...],
        expect_body: re.Pattern[str] | None,
        content_type: str,
        timeout: float,
    ) -> None:
        self.requests = requests
        self.auth = auth
        self.expect_status = expect_status
        self.expect_body = expect_body
        self.content_type = content_type
        self.timeout = timeout

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": "hartbeat"}
        if self.auth.token_env:
            headers["Authorization"] = f"Bearer {_secret(self.auth.token_env, 'token_env')}"
        elif self.auth.user is not None:
            password = _secret(self.auth.password_env, "password_env") if self.auth.password_env else ""
            pair = base64.b64encode(f"{self.auth.user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {pair}"
        return headers

    def _send(self, label: str) -> None:
        request = self.requests[label]
        shown = f"{request.method} {redact_url(request.url)}"
        headers = self._headers()
        data = None
        if request.body is not None:
            data = request.body.encode("utf-8")
            headers["Content-Type"] = self.content_type
        prepared = urllib.request.Request(request.url, data=data, headers=headers, method=request.method)
        try:
            with _OPENER.open(prepared, timeout=self.timeout) as reply:
                status, body = reply.status, reply.read(4096).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read(4096).decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # http.client.InvalidURL is a ValueError: a URL the checks above let through.
            reason = getattr(exc, "reason", exc)
            raise PowerError(f"power backend http: {label}: {shown}: no reply: {reason}") from None
        reply_text = " ".join(body.split())[:REPLY_LIMIT] or "(empty body)"
        if status not in self.expect_status:
            expected = " or ".join(str(s) for s in self.expect_status)
            raise PowerError(
                f"power backend http: {label}: {shown}: status {status}, expected {expected}: {reply_text}"
            )
        if self.expect_body is not None and not self.expect_body.search(body):
            raise PowerError(
                f"power backend http: {label}: {shown}: reply does not match /{self.expect_body.pattern}/: {reply_text}"
            )

    def on(self) -> None:
        """Send the ``on`` request."""
        self._send("on")

    def off(self) -> None:
        """Send the ``off`` request."""
        self._send("off")

    def cycle(self, off_time: float) -> None:
        """The ``cycle`` request when the device has one, else off, wait, on."""
        if "cycle" in self.requests:
            self._send("cycle")
            return
        off_wait_on(self, off_time)

    def describe(self) -> dict[str, Any]:
        """Methods and redacted URLs; the names of the secret variables, not their values."""
        described: dict[str, Any] = {"backend": self.name}
        for label, request in self.requests.items():
            described[label] = f"{request.method} {redact_url(request.url)}"
        if self.auth.token_env:
            described["auth"] = f"bearer token from ${self.auth.token_env}"
        elif self.auth.user is not None:
            described["auth"] = f"basic as {self.auth.user}" + (
                f", password from ${self.auth.password_env}" if self.auth.password_env else ""
            )
        return described


def _secret(variable: str | None, key: str) -> str:
    value = os.environ.get(variable or "")
    if not value:
        raise PowerError(f"power backend http: environment variable {variable} (power.{key}) is not set")
    return value


def _request(section: Section, board: Board, key: str, method: str, *, required: bool) -> Request | None:
    value = section.raw(key)
    if value is None:
        if required:
            raise section.error(key, 'missing; expected a URL, e.g. "http://plug/cm?cmnd=Power%20On"')
        return None
    if isinstance(value, str):
        table = Section({"url": value}, section.source, section.key(key))
    elif isinstance(value, dict):
        table = Section(value, section.source, section.key(key))
    else:
        raise section.error(key, f"expected a URL or a table {{ url, method, body }}, got {value!r}")
    url = board.expand(table.string("url", required=True) or "", table.key("url"))
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise table.error("url", f"expected an http:// or https:// URL, got {redact_url(url)!r}")
    if "@" in parts.netloc:
        # A password in a profile ends up in reports, logs and shell history; the user alone
        # would silently be dropped. Both have their own keys.
        raise table.error(
            "url",
            f"credentials in the URL ({redact_url(url)!r}) are refused: set `user` and name an environment "
            "variable holding the password in `password_env` (or a token in `token_env`)",
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise table.error("url", f"bad port in {redact_url(url)!r}: {exc}") from None
    action_method = (table.string("method", method) or method).upper()
    if action_method not in METHODS:
        raise table.error("method", f"expected one of {', '.join(sorted(METHODS))}, got {action_method!r}")
    body = table.string("body")
    table.reject_unknown()
    return Request(url=url, method=action_method, body=body)


def _statuses(section: Section) -> tuple[int, ...]:
    value = section.raw("expect_status", [200])
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, int) and not isinstance(item, bool) for item in items):
        raise section.error(
            "expect_status", f"expected an HTTP status or a list of them, e.g. [200, 204], got {value!r}"
        )
    return tuple(items)


def from_section(section: Section, board: Board) -> HttpSwitch:
    """Read the URLs, the method, the credentials' variable names and the expected reply."""
    method = (section.string("method", "GET") or "GET").upper()
    if method not in METHODS:
        raise section.error("method", f"expected one of {', '.join(sorted(METHODS))}, got {method!r}")
    requests = {}
    for key in ("on", "off", "cycle"):
        request = _request(section, board, key, method, required=key != "cycle")
        if request is not None:
            requests[key] = request
    auth = Auth(
        user=section.string("user"),
        password_env=section.string("password_env"),
        token_env=section.string("token_env"),
    )
    if auth.password_env and auth.user is None:
        raise section.error("password_env", "basic auth needs `user` as well")
    return HttpSwitch(
        requests,
        auth=auth,
        expect_status=_statuses(section),
        expect_body=section.regex("expect_body"),
        content_type=section.string("content_type", "application/json") or "application/json",
        timeout=section.duration("timeout", DEFAULT_TIMEOUT),
    )


BACKEND = PowerBackend(name="http", build=from_section)
