"""The one transport policy every chain family uses: what is worth another try, how a failure
reads, how often a request is tried, and the `chains.toml` keys that tune it.

Like httpx's `map_httpcore_exceptions`, this is the one place where lower-level errors
(aiohttp's, timeouts) become the library's own: a family's wire module raises them or
`Transient`, and `Transport.call` turns whatever is left into a `ProviderError` naming the
provider and the address. A balance is never guessed: retries used up is an error, not a zero.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from por.errors import InputError, ProviderError

T = TypeVar("T")

DEFAULT_ATTEMPTS = 4  # the first try included
DEFAULT_TIMEOUT = 30.0  # seconds per request
TRANSPORT_KEYS = frozenset({"timeout", "attempts", "retries", "concurrency", "rate_limit"})


class Transient(Exception):
    """A failure worth another try that arrived as an answer: HTTP 429/5xx, a rate limit in a JSON body."""


def is_transient(exc: BaseException) -> bool:
    """Timeouts, dropped or refused connections, answers cut short, HTTP 429 and 5xx."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.status == 429 or exc.status >= 500
    return isinstance(exc, (Transient, TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError))


def describe(exc: BaseException, timeout: float | None = None) -> str:
    """A failure as the auditor reads it: what happened, never a Python class name if avoidable."""
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"HTTP {exc.status} {exc.message}".strip()
    if isinstance(exc, TimeoutError):
        return "timed out" + (f": no answer within {timeout:g}s" if timeout else "")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut short"
    if isinstance(exc, aiohttp.ClientConnectionError):
        return f"connection failed ({exc})"
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class TransportSettings:
    """Per provider: `attempts` counts every try, the first included."""

    timeout: float = DEFAULT_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    concurrency: int = 4
    rate_limit: float | None = None  # requests per second; None: no limit


class Transport:
    """One provider's calls: concurrency slots, an optional rate limit, retries with backoff and jitter."""

    def __init__(self, label: str, settings: TransportSettings) -> None:
        self.label, self.settings = label, settings
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._limiter = AsyncLimiter(settings.rate_limit, 1) if settings.rate_limit else None

    async def call(self, request: Callable[[], Awaitable[T]], *, address: str | None = None) -> T:
        """`request()` until it succeeds, fails for good, or the attempts are used up."""
        retryer = AsyncRetrying(
            stop=stop_after_attempt(self.settings.attempts),
            reraise=True,
            wait=wait_exponential_jitter(multiplier=0.2, max=5.0, jitter=0.25),
            retry=retry_if_exception(is_transient),
        )
        try:
            async for attempt in retryer:
                with attempt:
                    async with self._slots:
                        if self._limiter is not None:
                            await self._limiter.acquire()
                        return await request()
        except (ProviderError, InputError):
            raise
        except Exception as exc:
            tries = f" (after {self.settings.attempts} attempts)" if is_transient(exc) else ""
            raise ProviderError(self.label, describe(exc, self.settings.timeout) + tries, address=address) from None
        raise AssertionError("unreachable: tenacity re-raises the last failure")


# --- the chains.toml keys -------------------------------------------------------------------------------------
def integer(config: Mapping[str, Any], field: str, key: str, default: int | None, minimum: int = 1) -> int | None:
    """An integer >= minimum (None only if absent and the default is None); `field` is "chains.NAME."."""
    value = config.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"must be an integer >= {minimum}", field=f"{field}{key}")
    return value


def positive(config: Mapping[str, Any], field: str, key: str, default: float | None) -> float | None:
    """A number > 0 (None only if absent and the default is None)."""
    value = config.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value == float("inf"):
        raise InputError("must be a positive number", field=f"{field}{key}")
    return float(value)


def transport_settings(
    name: str, config: Mapping[str, Any], *, concurrency: int
) -> tuple[TransportSettings, list[str]]:
    """The tuning keys every family shares, and deprecation notes to show the user.

    `attempts` counts every try. The old `retries` meant attempts on EVM and retries on
    Bitcoin; it is still read, as what its name says (attempts = retries + 1), with a note."""
    field, notes = f"chains.{name}.", []
    attempts = integer(config, field, "attempts", DEFAULT_ATTEMPTS) or DEFAULT_ATTEMPTS
    if "retries" in config:
        if "attempts" in config:
            raise InputError("set `attempts` only (`retries` is its deprecated older form)", field=f"{field}retries")
        attempts = (integer(config, field, "retries", 0, minimum=0) or 0) + 1
        notes.append(f"{field}retries is deprecated: write `attempts = {attempts}` (attempts count the first try)")
    settings = TransportSettings(
        timeout=positive(config, field, "timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT,
        attempts=attempts,
        concurrency=integer(config, field, "concurrency", concurrency) or concurrency,
        rate_limit=positive(config, field, "rate_limit", None),
    )
    return settings, notes
