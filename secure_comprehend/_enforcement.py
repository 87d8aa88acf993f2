"""Enforcement: botocore event handlers that apply the posture and check once more.

Three handlers per protected client, on the client's own event emitter,
registered once; protecting again swaps the posture they read in one
assignment, so no request ever runs unchecked while a client is re-protected.

- ``before-parameter-build`` (the generic name, registered last): the posture is
  applied to the parameters as every other handler left them, whatever name
  they registered under: their changes (Tags, say) survive, the posture's
  values are filled in on top, and in enforce mode a violating request is
  refused before anything is serialized. botocore changes the call's own
  top-level dict in place here; the caller's nested objects are never changed.
- ``*.*.*`` (for ``before-send`` events), ahead of every other handler, whatever
  name it used (``before-send.*.*``, ``*.comprehend.*``, ``*``, ...): read back the body botocore
  serialized, and the operation the request names (its ``X-Amz-Target`` header
  or CBOR path, not the event name), and check them again before any transport
  (moto's, a recorder, the real HTTP send) sees them. A handler that changed
  the request after the posture was applied cannot get a violating body out.
  In audit mode this is where a request's violations are logged, once, as sent.
- ``before-send`` (the generic name, registered last): if a handler changed the
  body or the operation after that check, check again before botocore's own
  HTTP send.

Operations without security members cost a dictionary look-up and a header
comparison per call.
"""

from __future__ import annotations

import inspect
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, TypeVar, cast

from secure_comprehend._errors import PostureError
from secure_comprehend._operation_spec import OperationSpec
from secure_comprehend._operations import operations_for
from secure_comprehend._protection import Protection, logger
from secure_comprehend._provenance import ModelVerifier

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from botocore.client import BaseClient

    from secure_comprehend._live import LiveSource
    from secure_comprehend._posture import EffectivePosture, Posture

ClientT = TypeVar("ClientT", bound="BaseClient")

_PREPARE = ("before-parameter-build", "secure_comprehend.apply-posture")
# "*.*.*": of every node a three-part event name reaches, botocore's prefix trie visits
# this one last and runs its handlers first (before-send.*.*, *.comprehend.*, ... after it)
_FINAL = ("*.*.*", "secure_comprehend.final-check")
_RECHECK = ("before-send", "secure_comprehend.recheck")


def protect(client: ClientT, posture: Posture | None = None) -> ClientT:
    """Protect an existing Comprehend client in place.

    Args:
        client: a botocore/boto3 ``comprehend`` client.
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.

    Returns:
        The same client, with its type. Protecting again replaces the earlier protection.

    Raises:
        PostureError: the posture is missing or invalid; in enforce mode also when it is
            not valid for the client's region, or sets ``[models] verify`` for an async
            (aiobotocore) client. The client is left as it was. (In audit mode such a
            client is protected, and its covered operations are logged as violations
            naming the problem.)
        TypeError: the client is not a Comprehend client, or ``posture`` is not a Posture.
    """
    from secure_comprehend._loading import posture_or_load

    region = getattr(getattr(client, "meta", None), "region_name", None)
    protect_with(client, posture_or_load(posture, None, region), strict=True)
    return client


def _live_of(posture: Posture) -> LiveSource | None:
    """The fleet source ``posture`` follows; None when none was ever loaded (no fleet code
    is imported on a Lambda's cold path for a posture from a file or the environment)."""
    live = sys.modules.get("secure_comprehend._live")
    return None if live is None else cast("LiveSource | None", live.live_of(posture))


def protect_with(client: BaseClient, posture: Posture, *, strict: bool) -> None:
    """Install the handlers; ``strict``: raise, in enforce mode, for a region without posture."""
    protection = _protection_for(client, posture, strict=strict)
    with _GUARDS_LOCK:  # held until the handlers exist: protect() never returns before
        guard = _GUARDS.get(client)
        verifier = guard.protection.verifier if guard is not None else None
        protection.verifier = verifier or ModelVerifier(weakref.ref(client))
        if guard is not None:
            guard.follow(posture, _live_of(posture))
            guard.protection = protection  # one assignment: no request runs unchecked
        else:
            guard = _GUARDS[client] = _Guard(protection, client)
            guard.follow(posture, _live_of(posture))
            events = client.meta.events
            for (event, unique_id), handler, where in (
                (_PREPARE, guard.apply, "last"),
                (_FINAL, guard.check_sent, "first"),
                (_RECHECK, guard.recheck, "last"),
            ):
                typed = cast("Callable[..., None]", handler)
                getattr(events, f"register_{where}")(event, typed, unique_id=unique_id)
            _check_at_send(client, guard)
        _move_to_front(client.meta.events, _FINAL[0], guard.check_sent)


def _check_at_send(client: BaseClient, guard: _Guard) -> None:
    """Check once more inside botocore's HTTP send (the endpoint's ``_send``, per client).

    A ``before-send`` handler registered last after protection runs after the re-check;
    only the send itself comes later. aiobotocore's ``_send`` is a coroutine function.
    """
    endpoint = getattr(client, "_endpoint", None)
    send = getattr(endpoint, "_send", None)
    if send is None:  # pragma: no cover - a botocore laid out otherwise: the re-check stays
        return
    if inspect.iscoroutinefunction(send):

        async def checked_async(request: Any) -> Any:
            guard.protection.check_wire(request)
            return await send(request)

        endpoint._send = checked_async  # type: ignore[union-attr]
    else:

        def checked(request: Any) -> Any:
            guard.protection.check_wire(request)
            return send(request)

        endpoint._send = checked  # type: ignore[union-attr]


def _protection_for(
    client: BaseClient, posture: Posture | None, *, strict: bool, problem: str | None = None
) -> Protection:
    """What ``client``'s handlers enforce under ``posture``; None: refuse, saying ``problem``."""
    model = getattr(getattr(client, "meta", None), "service_model", None)
    service = getattr(model, "service_name", None)
    if model is None or service != "comprehend":
        raise TypeError(f"secure_comprehend protects comprehend clients, not {service!r}")
    specs = operations_for(model, getattr(client, "_loader", None)).specs
    protocol = getattr(model, "resolved_protocol", None) or model.protocol
    if posture is None:  # a fleet posture that cannot be had: every covered operation fails
        return Protection(specs, None, problem, "enforce", protocol, about="(posture)")
    effective: EffectivePosture | None = None
    verifiable = True
    try:
        if _describes_async(client, posture):
            if posture.mode != "audit":
                raise PostureError(_ASYNC_VERIFY)
            # audit mode: the rest of the posture applies; say once what is not checked
            logger.warning("audit mode: %s; the rest of the posture applies", _ASYNC_VERIFY)
            verifiable = False
        effective = posture.effective(client.meta.region_name, client.meta.partition)
    except PostureError as exc:
        if strict and posture.mode != "audit":
            raise
        problem = str(exc)
    about = "(posture)" if problem == _ASYNC_VERIFY else "(region)"
    protection = Protection(
        _relevant(specs, posture), effective, problem, posture.mode, protocol, about=about
    )
    protection.verifiable = verifiable
    return protection


_ASYNC_VERIFY = (
    "[models] verify = true is not supported on an async (aiobotocore) client: it describes "
    "each model with the client itself, synchronously; use a boto3 client for calls that "
    "name models, or set verify = false"
)


def _describes_async(client: BaseClient, posture: Posture) -> bool:
    """[models] verify describes models with the client itself, inside its handlers:
    an async (aiobotocore) client's calls are coroutines there, so it cannot."""
    return bool(posture.models and posture.models.verify) and _is_async(client)


def _is_async(client: BaseClient) -> bool:
    """Whether ``client`` is an aiobotocore one (its calls are coroutines)."""
    return inspect.iscoroutinefunction(getattr(type(client), "_make_api_call", None))


def _relevant(specs: dict[str, OperationSpec], posture: Posture) -> dict[str, OperationSpec]:
    """The operations this posture governs: [vpc]/[kms]/[iam] ones, and those of [s3] or
    [models] when the posture has that section."""
    s3, models = posture.s3 is not None, posture.models is not None
    return {name: spec for name, spec in specs.items() if spec.governed(s3, models)}


class _Guard:
    """The handlers of one client; they read the protection protect() last gave it.

    With a fleet posture the guard also follows its source: before each request it
    asks the source for the current posture (a clock comparison until the TTL ends)
    and, when that changed, or can no longer be had, swaps the protection.
    """

    __slots__ = ("__weakref__", "client", "covered", "is_async", "live", "posture", "protection")

    def __init__(self, protection: Protection, client: BaseClient) -> None:
        self.protection = protection
        self.client = weakref.ref(client)
        self.is_async = _is_async(client)
        # operations with a security member: no posture has anything to say about the rest
        model = client.meta.service_model
        self.covered = frozenset(operations_for(model, getattr(client, "_loader", None)).specs)
        self.live: LiveSource | None = None
        self.posture: Posture | None = None  # the posture the protection was built from

    def follow(self, posture: Posture, live: LiveSource | None) -> None:
        self.posture, self.live = posture, live

    def apply(self, model: Any, **kwargs: Any) -> Coroutine[Any, Any, None] | None:
        live = self.live
        if live is not None and model.name in self.covered:
            if not self.is_async:
                self._refresh(live)
            elif live.due():  # aiobotocore awaits what a handler returns
                return self._apply_after_refresh(live, model, kwargs)
            else:  # never read the store on the event loop, even if the TTL ends just now
                self._refresh(live, read=False)
        self.protection.apply(model=model, **kwargs)
        return None

    async def _apply_after_refresh(
        self, live: LiveSource, model: Any, kwargs: dict[str, Any]
    ) -> None:
        """Read the store in a worker thread: the event loop never waits on it."""
        import asyncio

        await asyncio.to_thread(self._refresh, live)
        self.protection.apply(model=model, **kwargs)

    def _refresh(self, live: LiveSource, *, read: bool = True) -> None:
        client = self.client()
        if client is None:  # pragma: no cover - a client's own handlers outlive it only in gc
            return
        started_from = self.posture
        try:  # a following client never waits on another thread's read of the store
            posture: Posture | None = live.current(wait=False, read=read).posture
            problem = None
        except PostureError as exc:
            posture, problem = None, str(exc)
        if posture is not None and posture is started_from:
            return
        # a new posture, or none to be had (the problem says for how long: built anew)
        protection = _protection_for(client, posture, strict=False, problem=problem)
        with _GUARDS_LOCK:
            if self.live is not live or self.posture is not started_from:
                return  # protect() gave the client another posture meanwhile: it stands
            protection.verifier = self.protection.verifier
            self.posture, self.protection = posture, protection

    def check_sent(self, event_name: str, **kwargs: Any) -> None:
        if event_name.startswith("before-send."):  # *.*.* hears every three-part event
            self.protection.check_sent(event_name=event_name, **kwargs)

    def recheck(self, **kwargs: Any) -> None:
        self.protection.recheck(**kwargs)


_GUARDS: weakref.WeakKeyDictionary[Any, _Guard] = weakref.WeakKeyDictionary()
_GUARDS_LOCK = threading.Lock()


def _move_to_front(events: Any, event: str, handler: Callable[..., None]) -> bool:
    """Put ``handler`` ahead of handlers registered first on ``event`` before it.

    botocore runs ``*.*.*`` handlers ahead of every other handler of a three-part
    event, and within that name ``register_first`` ones in registration order: one
    registered there before protection (on the session, say) would see the body first.
    botocore has no public way to reorder, so this reaches into its prefix trie; with a
    botocore laid out differently it leaves the order as registered and returns False
    (a test pins the installed botocore's layout).
    """
    try:
        emitter = getattr(events, "_emitter", events)  # EventAliaser wraps the emitter
        node = emitter._handlers._root
        for part in event.split("."):
            node = node["children"][part]
        first = node["values"].first
        if first and first[0] == handler:
            return True  # already first: leave botocore's lists alone
        # one slice assignment: a request emitted meanwhile sees the old list or the new one
        first[:] = [handler, *(h for h in first if h != handler)]
        emitter._lookup_cache = {}
    except (AttributeError, KeyError, TypeError, ValueError):
        return False
    return True
