"""A polite HTTP client for source pages.

Every fetch is bounded in time and size, follows redirects itself so that the whole
chain is recorded and every hop is checked (scheme, robots.txt), retries transient
failures with exponential backoff, and names itself with a User-Agent that says who is
asking. Failures come back as data (``FetchResult.error``), never as exceptions: a site
being down is something to report, not a crash.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Worth asking again: the server said "not now" rather than "no".
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# RFC 9309: crawlers may ignore a robots.txt beyond 500 KiB.
ROBOTS_MAX_BYTES = 500 * 1024
ROBOTS_MAX_REDIRECTS = 5

ErrorKind = Literal["timeout", "connection", "server", "too-large", "robots", "url", "redirects"]


def user_agent(contact: str | None = None) -> str:
    """``policy-briefs/<version> (+<contact>)``: who is fetching, and how to reach them."""
    from .. import __version__

    agent = f"policy-briefs/{__version__}"
    if contact:
        if "@" in contact and "://" not in contact and not contact.startswith("mailto:"):
            contact = f"mailto:{contact}"
        agent += f" (+{contact})"
    return agent


@dataclass(frozen=True)
class FetchSettings:
    """Limits and manners of the client. Tests shrink the times to keep fast."""

    timeout: float = 20.0
    """Seconds to connect, and to wait for each piece of the response."""
    deadline: float = 30.0
    """Seconds for one whole response, body included (a server trickling bytes)."""
    max_bytes: int = 10 * 1024 * 1024
    """Largest body accepted, after decompression."""
    max_redirects: int = 10
    """Redirects followed before giving up."""
    attempts: int = 3
    """Tries per request when the failure is transient (timeout, 5xx, 429)."""
    backoff: float = 2.0
    """Seconds before the second try; doubled for each try after."""
    max_wait: float = 10.0
    """Longest wait between tries, and the cap on a server's Retry-After and Crawl-delay."""
    host_interval: float = 1.0
    """Least time between two requests to the same host."""
    user_agent: str | None = None
    """The User-Agent header, also the name matched against robots.txt rules (default:
    ``user_agent()``; the commands add the publication's address or contact)."""


def settings_for(settings: FetchSettings | None, publication) -> FetchSettings:
    """Settings whose User-Agent names the publication's address or contact."""
    settings = settings or FetchSettings()
    if settings.user_agent:
        return settings
    contact = publication and (publication.url or publication.contact)
    return replace(settings, user_agent=user_agent(contact))


@dataclass(frozen=True)
class Hop:
    """One redirect on the way to the final page."""

    url: str
    status: int
    location: str


@dataclass
class FetchResult:
    """What came back for one address: the final response, or why there is none."""

    url: str
    final_url: str
    status: int | None = None
    hops: list[Hop] = field(default_factory=list)
    retrieved: dt.datetime | None = None
    content_type: str = ""
    charset: str | None = None
    body: bytes = b""
    attempts: int = 0
    error: str | None = None
    error_kind: ErrorKind | None = None

    @property
    def redirected(self) -> bool:
        return bool(self.hops)

    @property
    def ok(self) -> bool:
        """A successful final response with a body to read."""
        return self.error is None and self.status is not None and 200 <= self.status < 300


class _Failure(Exception):
    """A request that produced no usable response; ``transient`` ones are tried again."""

    def __init__(self, kind: ErrorKind, message: str, *, transient: bool):
        super().__init__(message)
        self.kind = kind
        self.transient = transient
        self.attempts = 0


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    charset: str | None


def check_url(url: str) -> str | None:
    """Why a source address cannot be fetched, or None: only http and https are."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"only http:// and https:// addresses are fetched, not '{parts.scheme or url}'"
    if not parts.hostname:
        return f"'{url}' names no host"
    return None


class Fetcher:
    """One HTTP client, its robots.txt cache and its per-host clock. Use as a context manager."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        settings = settings or FetchSettings()
        if not settings.user_agent:
            settings = replace(settings, user_agent=user_agent())
        self.settings = settings
        self._sleep = sleep
        self._robots: dict[str, urllib.robotparser.RobotFileParser | _Failure] = {}
        self._last_request: dict[str, float] = {}
        self._crawl_delay: dict[str, float] = {}
        self.client = httpx.Client(
            headers={
                "User-Agent": self.settings.user_agent or "",
                "Accept": "text/html,application/xhtml+xml;q=0.9,text/plain;q=0.8,*/*;q=0.5",
            },
            timeout=httpx.Timeout(self.settings.timeout),
            follow_redirects=False,
            transport=transport,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    # --- the one public call ------------------------------------------------------------

    def fetch(self, url: str) -> FetchResult:
        """GET ``url``, following redirects, obeying robots.txt. Never raises for the network."""
        result = FetchResult(url=url, final_url=url)
        current = url
        for _ in range(self.settings.max_redirects + 1):
            problem = check_url(current)
            if problem:
                return self._failed(result, current, _Failure("url", problem, transient=False))
            try:
                self._obey_robots(current)
                response, attempts = self._get(current, self.settings.max_bytes)
            except _Failure as failure:
                result.attempts += failure.attempts
                return self._failed(result, current, failure)
            result.attempts += attempts
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                target = urljoin(current, location.strip())
                result.hops.append(Hop(current, response.status, target))
                current = target
                continue
            result.final_url = current
            result.status = response.status
            result.retrieved = dt.datetime.now(dt.UTC).replace(microsecond=0)
            result.content_type = response.headers.get("content-type", "").split(";")[0].strip()
            result.charset = response.charset
            result.body = response.body
            return result
        return self._failed(
            result,
            current,
            _Failure(
                "redirects", f"more than {self.settings.max_redirects} redirects", transient=False
            ),
        )

    @staticmethod
    def _failed(result: FetchResult, url: str, failure: _Failure) -> FetchResult:
        result.final_url = url
        result.error = str(failure)
        result.error_kind = failure.kind
        return result

    # --- one request, tried again on transient failures -------------------------------

    def _get(self, url: str, max_bytes: int) -> tuple[_Response, int]:
        settings = self.settings
        retrying = Retrying(
            stop=stop_after_attempt(max(1, settings.attempts)),
            wait=self._wait,
            retry=retry_if_exception(_is_transient)
            | retry_if_result(lambda r: r.status in RETRY_STATUSES),
            sleep=self._sleep,
            # After the last try a 503 is an answer to report, and a failure is raised as
            # itself (outcome.result() re-raises it), not wrapped in tenacity's RetryError.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        )
        attempts = 0

        def once() -> _Response:
            nonlocal attempts
            attempts += 1
            return self._request(url, max_bytes)

        try:
            response = retrying(once)
        except _Failure as failure:
            failure.attempts = attempts
            raise
        return response, attempts

    def _wait(self, state: RetryCallState) -> float:
        settings = self.settings
        wait = settings.backoff * 2 ** (state.attempt_number - 1)
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            after = _retry_after(outcome.result().headers.get("retry-after"))
            if after is not None:
                wait = after
        return max(0.0, min(wait, settings.max_wait))

    def _request(self, url: str, max_bytes: int) -> _Response:
        self._pace(url)
        started = time.monotonic()
        try:
            with self.client.stream("GET", url) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(max_bytes)
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(max_bytes)
                    if time.monotonic() - started > self.settings.deadline:
                        raise _Failure(
                            "timeout",
                            f"no complete response within {self.settings.deadline:g} s",
                            transient=True,
                        )
                    chunks.append(chunk)
                return _Response(
                    response.status_code,
                    response.headers,
                    b"".join(chunks),
                    response.charset_encoding,
                )
        except httpx.TimeoutException:
            raise _Failure(
                "timeout", f"timed out after {self.settings.timeout:g} s", transient=True
            ) from None
        except httpx.TransportError as exc:  # refused, reset, DNS, TLS, protocol errors
            raise _Failure("connection", _describe(exc), transient=True) from None
        except httpx.HTTPError as exc:  # e.g. a header no client could accept
            raise _Failure("connection", _describe(exc), transient=False) from None
        finally:
            self._last_request[_origin(url)] = time.monotonic()

    def _pace(self, url: str) -> None:
        origin = _origin(url)
        last = self._last_request.get(origin)
        if last is None:
            return
        interval = max(self.settings.host_interval, self._crawl_delay.get(origin, 0.0))
        remaining = interval - (time.monotonic() - last)
        if remaining > 0:
            self._sleep(remaining)

    # --- robots.txt -------------------------------------------------------------------

    def _obey_robots(self, url: str) -> None:
        origin = _origin(url)
        if origin not in self._robots:
            self._robots[origin] = self._load_robots(origin)
        rules = self._robots[origin]
        if isinstance(rules, _Failure):
            raise rules
        if not rules.can_fetch(self.settings.user_agent or "*", url):
            raise _Failure(
                "robots", f"{origin}/robots.txt does not allow fetching this page", transient=False
            )

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser | _Failure:
        parser = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
        url = f"{origin}/robots.txt"
        for _ in range(ROBOTS_MAX_REDIRECTS + 1):
            try:
                response, _attempts = self._get(url, ROBOTS_MAX_BYTES)
            except _Failure as failure:
                # RFC 9309: an unreachable robots.txt means "assume nothing is allowed";
                # one too large to read is treated the same, to stay on the polite side.
                return _Failure(
                    failure.kind, f"robots.txt could not be read: {failure}", transient=False
                )
            location = response.headers.get("location")
            if response.status in REDIRECT_STATUSES and location:
                url = urljoin(url, location.strip())
                if check_url(url):
                    break
                continue
            if response.status >= 500 or response.status == 429:
                return _Failure(
                    "server", f"robots.txt answered HTTP {response.status}", transient=False
                )
            if response.status >= 400:  # no robots.txt: everything is allowed
                parser.allow_all = True  # type: ignore[attr-defined]  # set in its __init__
                return parser
            text = response.body.decode(response.charset or "utf-8", errors="replace")
            parser.parse(text.splitlines())
            delay = parser.crawl_delay(self.settings.user_agent or "*")
            if delay:
                self._crawl_delay[origin] = min(float(delay), self.settings.max_wait)
            return parser
        # RFC 9309: after five redirects, treat as unavailable (4xx).
        parser.allow_all = True  # type: ignore[attr-defined]  # set in its __init__
        return parser


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _Failure) and exc.transient


def _too_large(max_bytes: int) -> _Failure:
    return _Failure(
        "too-large",
        f"the response is larger than {max_bytes // (1024 * 1024) or 1} MB",
        transient=False,
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {text}"
    return text


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
