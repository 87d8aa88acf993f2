"""Enforcement: the guard of one client, and the one path every request takes.

A request's path, as the README states it:

1. When a covered call starts (``provide-client-params``, for the operations with
   security members only), the guard picks the client's protection for this call and
   binds it to the call's own context. A fleet posture is refreshed here, once per TTL.
   With ``[models] verify``, the models the caller named are described now.
2. When its parameters are built (``before-parameter-build``, after every other
   handler, whatever name it used), that protection applies the posture to them as
   the other handlers left them: what is missing is filled in, a violating request is
   refused in enforce mode, and the decision is logged once, there.
3. When botocore has created, signed and prepared the request, it is bound to the
   call (what a handler could later change on the request is not trusted).
4. Before each ``before-send`` handler, whatever its name, order or registration (a
   transport such as moto's answers there), and inside the HTTP send, the request is
   checked as the operation the caller invoked: every wire signal (the
   ``X-Amz-Target`` header, the URL path, the content type, the body's encoding) must
   name that operation in the client's protocol, and the body, read back whole, must
   need no amending. What was read is what is sent: the body becomes the exact
   ``bytes`` judged, and headers that are not botocore's own a new ``HeadersDict`` of
   the pairs checked. Each later look reads every wire signal again, and judges the
   body again unless it is the very ``bytes`` object judged before (immutable, and held
   since). Nothing a handler or the HTTP client reads can run anyone's code (header
   values, the request's context). Outside code that sees the request before the first
   handler (botocore's history recorder, the endpoint's DEBUG log) sees it after a look.

Every step of one call uses the protection bound in step 1: ``protect()`` or a fleet
refresh affects the next call, never one in flight. Operations without security
members skip step 1 and pay a dictionary look-up in step 2 and a look at their wire
signals and the body's first byte in step 4: with no ``before-send`` handler, one look
in all.
"""

from __future__ import annotations

import collections
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, TypeVar, cast

from secure_comprehend._botocore import (
    client_loader,
    is_async_client,
    resolved_endpoint_url,
    wrap_endpoint,
)
from secure_comprehend._errors import PostureError
from secure_comprehend.decision.operations import is_comprehend, operations_for
from secure_comprehend.guard.protection import (
    CALL,
    Call,
    Checked,
    Protection,
    logger,
    refuse_unchecked,
)
from secure_comprehend.guard.provenance import ModelVerifier
from secure_comprehend.guard.wire import Wire
from secure_comprehend.posture.origin import loaded_from

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, MutableMapping

    from botocore.awsrequest import AWSPreparedRequest
    from botocore.client import BaseClient
    from botocore.model import ServiceModel

    from secure_comprehend.decision.spec import OperationSpec
    from secure_comprehend.posture.fleet.cache import LiveSource, Loaded
    from secure_comprehend.posture.model import EffectivePosture, Posture

ClientT = TypeVar("ClientT", bound="BaseClient")

_APPLY = ("before-parameter-build", "secure_comprehend.apply-posture")


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
    from secure_comprehend.posture.loading import posture_or_load

    region = getattr(getattr(client, "meta", None), "region_name", None)
    protect_with(client, posture_or_load(posture, None, region), strict=True)
    return client


def _live_of(posture: Posture) -> LiveSource | None:
    """The fleet source's cache ``posture`` came from, which its clients follow; None for a
    posture from a file, the environment or code."""
    found = loaded_from(posture)
    return cast("LiveSource | None", found.live if found else None)


def protect_with(client: BaseClient, posture: Posture, *, strict: bool) -> None:
    """Install the handlers; ``strict``: raise, in enforce mode, for a region without posture."""
    _comprehend_model(client)
    existing = _GUARDS.get(client)
    verifier = existing.verifier if existing is not None else ModelVerifier(weakref.ref(client))
    protection = _protection_for(client, posture, verifier, strict=strict)
    with _GUARDS_LOCK:  # held until the handlers exist: protect() never returns before
        guard = _GUARDS.get(client)
        if guard is not None:
            guard.follow(posture, _live_of(posture))
            guard.replace(protection)
            return
        guard = _Guard(protection, client, verifier)
        guard.follow(posture, _live_of(posture))
        wrap_endpoint(client, guard.created, guard.look)  # first: it refuses an odd endpoint
        _GUARDS[client] = guard
        events = client.meta.events
        for name in guard.covered:  # the operations with security members only
            events.register(
                f"provide-client-params.comprehend.{name}",
                cast("Callable[..., None]", guard.bind),
                unique_id=f"secure_comprehend.bind.{name}",
            )
        events.register_last(_APPLY[0], guard.apply, unique_id=_APPLY[1])


def _protection_for(
    client: BaseClient,
    posture: Posture | None,
    verifier: ModelVerifier | None,
    *,
    strict: bool,
    problem: str | None = None,
    mode: str = "enforce",
) -> Protection:
    """What ``client``'s calls get under ``posture``; None: refuse (or in observe ``mode``,
    log), saying ``problem``."""
    model = _comprehend_model(client)
    specs = operations_for(model, client_loader(client)).specs
    wire = Wire(model, client.meta.endpoint_url, resolved_endpoint_url(client, model))
    if posture is None:  # a fleet posture that cannot be had: every covered operation fails
        return Protection(specs, None, problem, mode, wire, about="(posture)")
    effective: EffectivePosture | None = None
    about = "(region)"
    try:
        if _describes_async(client, posture):
            if posture.mode == "enforce":
                about = "(posture)"  # the posture's own setting, whatever the region
                raise PostureError(ASYNC_VERIFY)
            # audit or observe: the rest of the posture applies; say once what is not checked
            logger.warning("%s mode: %s; the rest applies", posture.mode, ASYNC_VERIFY)
            verifier = None
        effective = posture.effective(client.meta.region_name, client.meta.partition)
    except PostureError as exc:
        if strict and posture.mode == "enforce":
            raise
        problem = str(exc)
    return Protection(
        _relevant(specs, posture), effective, problem, posture.mode, wire, verifier, about
    )


def _comprehend_model(client: BaseClient) -> ServiceModel:
    """The client's service model.

    Raises:
        TypeError: the client is not a botocore client of Comprehend.
    """
    model = getattr(getattr(client, "meta", None), "service_model", None)
    if model is None or not is_comprehend(model):
        service = getattr(model, "service_name", None)
        raise TypeError(
            f"secure_comprehend protects comprehend clients: client must be a botocore "
            f"comprehend client, not {service or type(client).__name__!r}"
        )
    return cast("ServiceModel", model)


ASYNC_VERIFY = (
    "[models] verify = true is not supported on an async (aiobotocore) client: it describes "
    "each model with the client itself, synchronously; use a boto3 client for calls that "
    "name models, or set verify = false"
)


def _describes_async(client: BaseClient, posture: Posture) -> bool:
    """[models] verify describes models with the client itself, inside its handlers:
    an async (aiobotocore) client's calls are coroutines there, so it cannot."""
    return bool(posture.models and posture.models.verify) and is_async_client(client)


def _relevant(specs: dict[str, OperationSpec], posture: Posture) -> dict[str, OperationSpec]:
    """The operations this posture governs: [vpc]/[kms]/[iam] ones, and those of [s3] or
    [models] when the posture has that section."""
    s3, models = posture.s3 is not None, posture.models is not None
    return {name: spec for name, spec in specs.items() if spec.governed(s3, models)}


class _Guard:
    """The handlers of one client; each call runs under the protection it started with.

    With a fleet posture the guard also follows its source: when a covered call starts
    it asks the source for the current posture (a clock comparison until the TTL ends)
    and, when that changed, or can no longer be had, swaps the protection.
    """

    __slots__ = (
        "__weakref__",
        "checked",
        "client",
        "covered",
        "earlier",
        "is_async",
        "issued",
        "live",
        "posture",
        "protection",
        "verifier",
    )

    def __init__(self, protection: Protection, client: BaseClient, verifier: ModelVerifier) -> None:
        self.protection = protection
        # the protections this guard gave its client: a call bound to any other is refused
        self.issued: weakref.WeakSet[Protection] = weakref.WeakSet([protection])
        # the last few protections before the current one: a call whose binding a handler
        # removed is judged by each of them too (its own posture is not known)
        self.earlier: collections.deque[Protection] = collections.deque(maxlen=4)
        self.client = weakref.ref(client)
        self.verifier = verifier  # one per client: its cache outlives re-protection
        self.is_async = is_async_client(client)
        # operations with a security member: no posture has anything to say about the rest
        model = client.meta.service_model
        self.covered = frozenset(operations_for(model, client_loader(client)).specs)
        self.live: LiveSource | None = None
        self.posture: Posture | None = None  # the posture the protection was built from
        # each request in flight (by a weak reference): what was checked, kept here (a
        # handler could forge it on the request); gone with the request
        self.checked: dict[weakref.ref[Any], Checked] = {}

    def follow(self, posture: Posture, live: LiveSource | None) -> None:
        self.posture, self.live = posture, live

    def replace(self, protection: Protection) -> None:
        """The next call starts under ``protection`` (callers hold ``_GUARDS_LOCK``)."""
        self.issued.add(protection)
        self.earlier.append(self.protection)
        self.protection = protection  # one assignment: calls in flight keep their own

    def bind(
        self, params: MutableMapping[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> Coroutine[Any, Any, None] | None:
        """provide-client-params (covered operations): bind the call to a protection."""
        live = self.live
        if live is not None:
            if not self.is_async:
                self._refresh(live, live.following)
            elif live.due():  # aiobotocore awaits what a handler returns
                return self._bind_after_refresh(live, params, model, context)
            else:  # never read the store on the event loop, even if the TTL ends just now
                self._refresh(live, live.cached)
        context[CALL] = self.protection.bind(model.name, params, context)
        return None

    async def _bind_after_refresh(
        self, live: LiveSource, params: MutableMapping[str, Any], model: Any, context: Any
    ) -> None:
        """Read the store in a worker thread: the event loop never waits on it."""
        import asyncio

        await asyncio.to_thread(self._refresh, live, live.following)
        context[CALL] = self.protection.bind(model.name, params, context)

    def apply(
        self,
        params: MutableMapping[str, Any],
        model: Any,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """before-parameter-build, last: apply the call's protection to its parameters."""
        if context is None:  # pragma: no cover - botocore always passes the call's context
            context = {}
        protection = self.protection
        if CALL not in context and model.name not in protection.specs:
            context[CALL] = Call(protection, None, context)  # nothing to apply: bound, no more
            return
        call = self._bound(context, model.name)
        if call is None:  # its binding was removed or forged (or the call began unprotected)
            unbound = model.name in self.covered
            call = self.protection.bind(model.name, params, context, unbound=unbound)
            context[CALL] = call
        call.protection.apply(call, params)

    def _bound(self, context: dict[str, Any], operation: str) -> Call | None:
        """The call's binding, if it is one this guard made for this very call (``context``
        is the call's own) of ``operation``; None if there is none, or a handler replaced
        or forged it (the call is bound anew)."""
        call = context.get(CALL)
        if type(call) is not Call or call.context is not context:
            return None  # none, forged, or another call's (an earlier protection's, say)
        protection = call.protection
        if protection is not self.protection and protection not in self.issued:
            return None  # another guard's
        return call if call.spec is protection.specs.get(operation) else None

    def created(self, request: AWSPreparedRequest, params: Any, operation_model: Any) -> None:
        """The endpoint created the request: bind it to its call (the looks judge it)."""
        context = params.get("context") if isinstance(params, dict) else None
        operation = str(getattr(operation_model, "name", ""))
        call = self._bound(context, operation) if isinstance(context, dict) else None
        if call is None:  # its binding or context was removed or replaced: not known
            call = self.protection.bind(operation, {}, None, unbound=True)
        self.checked[weakref.ref(request, self._gone)] = Checked(call, operation)

    def _gone(self, request: weakref.ref[Any]) -> None:
        self.checked.pop(request, None)

    def look(
        self, request: AWSPreparedRequest, sending: bool = False, unknown_ok: bool = False
    ) -> None:
        """Before each before-send handler and inside the HTTP send (``sending``): look.

        A request this client's endpoint did not create is refused, unless ``unknown_ok``
        (code emitting before-send itself, outside the endpoint's own work, with a request
        of its own: its handlers get it, as plain botocore's would).
        """
        try:
            checked = self.checked.get(weakref.ref(request))
        except TypeError:  # None, or an object no request is
            checked = None
        if checked is None:
            if not unknown_ok:
                refuse_unchecked(self.protection)
            return
        call = checked.call
        if call.unbound:  # its binding was lost: judged by each recent protection too
            operation = checked.operation
            for earlier in tuple(self.earlier):
                if earlier is not call.protection:
                    earlier.check(Checked(earlier.bind(operation, {}, None), operation), request)
        call.protection.check(checked, request, sending=sending)

    def _refresh(self, live: LiveSource, current: Callable[[], Loaded]) -> None:
        """Follow ``live``: ``current`` is ``live.following`` (may read the store, never
        waits on another thread's read) or ``live.cached`` (never reads)."""
        client = self.client()
        if client is None:  # pragma: no cover - a client's own handlers outlive it only in gc
            return
        started_from = self.posture
        try:
            posture: Posture | None = current().posture
            problem = None
        except PostureError as exc:
            posture, problem = None, str(exc)
        if posture is not None and posture is started_from:
            return
        # a new posture, or none to be had (the problem says for how long: built anew)
        # past twice the TTL: refused, in audit mode too; observe mode never refuses, and a
        # posture that cannot be had keeps the mode of the protection it replaces
        mode = "observe" if self.protection.mode == "observe" else "enforce"
        protection = _protection_for(
            client, posture, self.verifier, strict=False, problem=problem, mode=mode
        )
        with _GUARDS_LOCK:
            if self.live is not live or self.posture is not started_from:
                return  # protect() gave the client another posture meanwhile: it stands
            self.posture = posture
            self.replace(protection)


_GUARDS: weakref.WeakKeyDictionary[Any, _Guard] = weakref.WeakKeyDictionary()
_GUARDS_LOCK = threading.Lock()


def guard_for(client: object) -> _Guard | None:
    """The guard of ``client``, if it is protected (any object may be asked)."""
    try:
        return _GUARDS.get(client)
    except TypeError:  # an object that cannot be weakly referenced is no client
        return None


def _after_fork_in_child() -> None:
    """A child forked while a thread held one of these locks would wait on it forever."""
    global _GUARDS_LOCK
    _GUARDS_LOCK = threading.Lock()
    for guard in list(_GUARDS.values()):
        guard.verifier.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
