"""A fleet posture, once per process: fetched, cached for a TTL, refreshed, or refused.

The posture of a fleet source is fetched on first use and kept for the TTL
(``SECURE_COMPREHEND_CONFIG_TTL`` seconds, 300 by default). The first call after
the TTL fetches it again; protected clients follow it without being rebuilt.
When a refresh fails (the store cannot be read, or holds an invalid posture),
the last good posture is kept for at most twice the TTL, with a WARNING per
failed attempt; after that the source fails closed: ``current()`` raises, and
clients refuse their covered operations until a fetch succeeds.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import PostureError

if TYPE_CHECKING:  # _fleet is imported when a fleet source is used: protect() checks only _LIVE
    from collections.abc import Callable, Mapping

    from secure_comprehend._fleet import AppConfigSession, Fetched, FleetSource
    from secure_comprehend._posture import Posture

    Build = Callable[[Fetched], tuple[Posture, Mapping[tuple[str, ...], str]]]

logger = logging.getLogger("secure_comprehend")

TTL_VAR = "SECURE_COMPREHEND_CONFIG_TTL"
DEFAULT_TTL = 300.0
MAX_TTL = 86_400.0
_now = time.monotonic  # the cache's clock; tests move it on
_RETRY_EVERY = 30.0  # at most, between failed refreshes: a broken store is not hammered


@dataclass(frozen=True)
class Loaded:
    """A posture, where each setting came from, and the document it was built from."""

    posture: Posture
    sources: Mapping[tuple[str, ...], str]
    fetched: Fetched


def ttl_from_env() -> float:
    """``SECURE_COMPREHEND_CONFIG_TTL`` in seconds, or the default.

    Raises:
        PostureError: the value is not a number of seconds from 1 to 86400.
    """
    var = next((v for v in os.environ if v.upper() == TTL_VAR), None)
    if var is None:
        return DEFAULT_TTL
    raw = os.environ[var]
    try:
        ttl = float(raw)
    except ValueError:
        ttl = math.nan
    if not 1 <= ttl <= MAX_TTL:  # NaN fails too
        raise PostureError(
            f"environment variable {var}={raw!r}: the posture cache's lifetime must be a "
            f"number of seconds from 1 to {MAX_TTL:.0f} (default {DEFAULT_TTL:.0f})"
        )
    return ttl


class LiveSource:
    """One fleet source in one region: its last good posture, and how to refresh it."""

    def __init__(self, source: FleetSource, session: Any, ttl: float, build: Build) -> None:
        self.source = source
        self.ttl = ttl
        self._session = session
        self._build = build
        from secure_comprehend._fleet import AppConfigSession

        self._lock = threading.Lock()
        self._appconfig: AppConfigSession = AppConfigSession()
        self._loaded: Loaded | None = None
        self._good_at = -math.inf  # _now() of the last good fetch
        self._retry_at = -math.inf
        self._failure: PostureError | None = None

    def current(self) -> Loaded:
        """The posture to enforce now: cached, refreshed, or kept while refreshes fail.

        Raises:
            PostureError: the first fetch failed, or every refresh has failed for
                twice the TTL since the last good fetch.
        """
        loaded = self._loaded
        if loaded is not None and _now() - self._good_at < self.ttl:
            return loaded
        with self._lock:
            now = _now()
            if self._loaded is not None and now - self._good_at < self.ttl:
                return self._loaded  # another thread refreshed it meanwhile
            if self._loaded is None or now >= self._retry_at:
                try:
                    return self._fetch()
                except PostureError as exc:
                    if self._loaded is None:
                        raise
                    self._failed(exc, now)
            return self._stale(now)

    def forget(self) -> None:
        """Drop the cached posture: the next ``current()`` fetches."""
        with self._lock:
            self._loaded, self._good_at, self._retry_at = None, -math.inf, -math.inf
            self._appconfig = type(self._appconfig)()

    def _fetch(self) -> Loaded:
        from secure_comprehend._fleet import fetch

        fetched = fetch(self.source, self._session, self._appconfig)
        posture, sources = self._build(fetched)
        self._loaded = loaded = Loaded(posture, sources, fetched)
        _LIVE[id(posture)] = self
        weakref.finalize(posture, _LIVE.pop, id(posture), None)
        self._good_at, self._failure = _now(), None
        return loaded

    def _failed(self, exc: PostureError, now: float) -> None:
        self._failure = exc
        self._retry_at = now + min(_RETRY_EVERY, self.ttl / 4)
        kept = self._loaded.fetched if self._loaded else None
        left = 2 * self.ttl - (now - self._good_at)
        if kept is not None and left > 0:
            logger.warning(
                "posture source %s: refresh failed, keeping the posture fetched at %s for "
                "at most %.0f s more: %s",
                self.source,
                kept.fetched_at.isoformat(timespec="seconds"),
                left,
                exc,
                extra={"posture_source": str(self.source), "failure": str(exc)},
            )

    def _stale(self, now: float) -> Loaded:
        loaded = self._loaded
        age = now - self._good_at
        if loaded is not None and age < 2 * self.ttl:
            return loaded
        raise PostureError(
            f"posture source {self.source}: no good posture for {age:.0f} s (twice the "
            f"{self.ttl:.0f} s TTL), refreshing fails: {self._failure}; covered operations "
            "are refused until a fetch succeeds"
        ) from self._failure


_SOURCES: dict[tuple[str, str | None], LiveSource] = {}
_SOURCES_LOCK = threading.Lock()
_LIVE: dict[int, LiveSource] = {}  # id(posture) -> the source it came from


def live_source(source: FleetSource, session: Any, build: Build) -> LiveSource:
    """The process's cached ``LiveSource`` for ``source`` in the session's region."""
    key = (str(source), source.region or session.region_name)
    with _SOURCES_LOCK:
        live = _SOURCES.get(key)
        if live is None:
            live = _SOURCES[key] = LiveSource(source, session, ttl_from_env(), build)
        return live


def live_of(posture: Posture) -> LiveSource | None:
    """The fleet source ``posture`` was fetched from; None for a file, variables or code."""
    return _LIVE.get(id(posture))


def clear_posture_cache() -> None:
    """Forget every fleet posture fetched so far: the next use fetches again.

    Clients protected with a fleet posture keep following their source; their
    next call fetches it anew. Meant for tests, and for a process that must see
    a change before the TTL ends.
    """
    with _SOURCES_LOCK:
        sources = list(_SOURCES.values())
        _SOURCES.clear()
    for live in sources:
        live.forget()
