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
from secure_comprehend.posture.env import ENV_PREFIX, TTL_VAR, variable
from secure_comprehend.posture.origin import follow

if TYPE_CHECKING:  # fleet.read is imported when a fleet source is used
    from collections.abc import Callable, Mapping

    from secure_comprehend.posture.fleet.read import AppConfigSession, Fetched
    from secure_comprehend.posture.fleet.sources import FleetSource
    from secure_comprehend.posture.model import Posture

    Build = Callable[[Fetched], tuple[Posture, Mapping[tuple[str, ...], str]]]

logger = logging.getLogger("secure_comprehend")

DEFAULT_TTL = 300.0
MAX_TTL = 86_400.0
_now = time.monotonic  # the cache's clock; tests move it on
# between failed refreshes: a broken store is not hammered, and a short TTL still retries
# (a quarter of it) before twice the TTL fails closed
_RETRY_EVERY = 30.0


@dataclass(frozen=True)
class Loaded:
    """A posture, where each setting came from, and the document it was built from."""

    posture: Posture
    sources: Mapping[tuple[str, ...], str]
    fetched: Fetched
    env: tuple[tuple[str, str], ...]  # the SECURE_COMPREHEND_* variables it was built under


def ttl_from_env() -> float:
    """``SECURE_COMPREHEND_CONFIG_TTL`` in seconds, or the default.

    Raises:
        PostureError: the value is not a number of seconds from 1 to 86400.
    """
    var = variable(TTL_VAR)
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

    def __init__(
        self, source: FleetSource, session: Any, region: str | None, ttl: float, build: Build
    ) -> None:
        self.source = source
        self.region = region
        self.ttl = ttl
        self._session = session
        self._build = build
        from secure_comprehend.posture.fleet.read import AppConfigSession

        self._lock = threading.Lock()
        self._appconfig: AppConfigSession = AppConfigSession()
        self._loaded: Loaded | None = None
        self._good_at = -math.inf  # _now() of the last good fetch
        self._retry_at = -math.inf
        self._failure: PostureError | None = None

    def current(self) -> Loaded:
        """The posture to enforce now, for ``load_posture()``: cached, refreshed, or kept
        while refreshes fail. With no usable posture it waits for another thread's read of
        the store, and with none at all reads again even within the retry pause.

        Raises:
            PostureError: the first fetch failed, or every refresh has failed for
                twice the TTL since the last good fetch.
        """
        return self._get(wait=True)

    def following(self) -> Loaded:
        """The posture to enforce now, for a client following the source: as ``current()``,
        but it never waits. While one thread reads the store, others are served the last
        good posture (within twice the TTL) or refused, at once.

        Raises:
            PostureError: as ``current()``.
        """
        return self._get(wait=False)

    def cached(self) -> Loaded:
        """The posture to enforce now without reading the store (an async handler on the
        event loop: it reads in a worker thread when ``due()``).

        Raises:
            PostureError: no good posture within twice the TTL.
        """
        loaded, now = self._loaded, _now()
        if loaded is not None and now - self._good_at < self.ttl:
            return loaded
        return self._stale(now)

    def _get(self, *, wait: bool) -> Loaded:
        loaded, now = self._loaded, _now()
        if loaded is not None and now - self._good_at < self.ttl:
            return loaded
        if not wait and now < self._retry_at:
            return self._stale(now)
        usable = loaded is not None and now - self._good_at < 2 * self.ttl
        if not self._lock.acquire(blocking=wait and not usable):
            return self._stale(now)  # another thread reads the store
        try:
            now = _now()
            if self._loaded is not None and now - self._good_at < self.ttl:
                return self._loaded  # another thread refreshed it meanwhile
            if self._loaded is None or now >= self._retry_at:
                try:
                    from secure_comprehend.posture.fleet.read import fetch

                    return self._install(
                        fetch(self.source, self._session, self._appconfig, self.region)
                    )
                except Exception as exc:  # any failure to read or build: never a crash here
                    failure = _as_posture_error(exc, self.source)
                    self._failed(failure)
                    if self._loaded is None:
                        raise failure from exc
            return self._stale(_now())
        finally:
            self._lock.release()

    def due(self) -> bool:
        """Whether a following client's ``current()`` would read the store now."""
        now = _now()
        expired = self._loaded is None or now - self._good_at >= self.ttl
        return expired and now >= self._retry_at

    def load(self) -> Loaded:
        """``current()``, rebuilt from the cached document if the environment's
        ``SECURE_COMPREHEND_*`` variables changed since (they apply over it, as over a file).

        Raises:
            PostureError: as ``current()``, or a variable is invalid.
        """
        loaded = self.current()
        if loaded.env == env_snapshot():
            return loaded
        with self._lock:
            if self._loaded is loaded:  # clients follow the rebuilt posture at their next call
                return self._install(loaded.fetched, keep_time=True)
        return self.current()

    def forget(self) -> None:
        """Drop the cached posture: the next ``current()`` fetches."""
        with self._lock:
            self._loaded, self._good_at, self._retry_at = None, -math.inf, -math.inf
            self._appconfig = type(self._appconfig)()

    def _install(self, fetched: Fetched, *, keep_time: bool = False) -> Loaded:
        env = env_snapshot()
        posture, sources = self._build(fetched)
        self._loaded = loaded = Loaded(posture, sources, fetched, env)
        follow(posture, self)  # on the posture: clients protected with it follow this source
        if not keep_time:
            self._good_at, self._failure = _now(), None
        return loaded

    def _failed(self, exc: PostureError) -> None:
        now = _now()  # after the fetch, which may have taken long
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
        if loaded is None:
            why = self._failure or "another thread is reading it"
            raise PostureError(
                f"posture source {self.source}: no posture yet ({why}); covered operations "
                "are refused until a fetch succeeds"
            ) from self._failure
        raise PostureError(
            f"posture source {self.source}: no good posture for {age:.0f} s (twice the "
            f"{self.ttl:.0f} s TTL), refreshing fails: {self._failure}; covered operations "
            "are refused until a fetch succeeds"
        ) from self._failure


_SOURCES: dict[tuple[str, str | None, str | None], LiveSource] = {}
_SOURCES_LOCK = threading.Lock()
_EVER: weakref.WeakSet[LiveSource] = weakref.WeakSet()  # evicted ones too: clients follow them
_SOURCES_MAX = 64  # the oldest is forgotten first: a long-lived process stays bounded


def live_source(source: FleetSource, session: Any, region: str | None, build: Build) -> LiveSource:
    """The process's cached ``LiveSource`` for ``source``, per region and credentials.

    ``region`` is the caller's (a client's, say), else the session's; an ARN's wins.
    Credentials are part of the key: two accounts' sessions never share a posture.
    """
    region = source.region or region or session.region_name
    key = (str(source), region, _identity(session))
    with _SOURCES_LOCK:
        live = _SOURCES.get(key)
        if live is None:
            if len(_SOURCES) >= _SOURCES_MAX:  # rotating credentials add a key an hour
                del _SOURCES[next(iter(_SOURCES))]  # its clients keep following it
            live = _SOURCES[key] = LiveSource(source, session, region, ttl_from_env(), build)
            _EVER.add(live)
        return live


def _identity(session: Any) -> str | None:
    """The access key the session signs with (who reads the store), if it has one."""
    try:
        credentials = session.get_credentials()
        return str(credentials.access_key) if credentials is not None else None
    except Exception:  # no credentials yet: the fetch will say so
        return None


def env_snapshot() -> tuple[tuple[str, str], ...]:
    """The ``SECURE_COMPREHEND_*`` variables, which apply over a fleet document."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)))


def _as_posture_error(exc: Exception, source: FleetSource) -> PostureError:
    if isinstance(exc, PostureError):
        return exc
    return PostureError(f"posture source {source} could not be read: {type(exc).__name__}: {exc}")


def clear_posture_cache() -> None:
    """Forget every fleet posture fetched so far: the next use fetches again.

    Clients protected with a fleet posture keep following their source (one evicted
    from the bounded cache too); their next call fetches it anew. Meant for tests,
    and for a process that must see a change before the TTL ends.
    """
    with _SOURCES_LOCK:
        sources = list(_EVER)
        _SOURCES.clear()
    for live in sources:
        live.forget()


def _after_fork_in_child() -> None:
    """A child forked while a thread held a lock here would wait on it forever (the thread
    is not copied): every lock starts free in the child, and no read is in flight."""
    global _SOURCES_LOCK
    _SOURCES_LOCK = threading.Lock()
    for live in list(_EVER):
        live._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
