"""Every botocore internal this library relies on, in one place.

botocore has no public hook for these; each is pinned by ``tests/test_internals.py``,
whose failure names the internal when a botocore upgrade changes it.

- ``Endpoint.create_request`` and ``Endpoint._send`` (per client, also aiobotocore's
  coroutine versions): the request as it will be sent, before any ``before-send``
  handler sees it, and at the HTTP send itself.
- ``Endpoint._event_emitter``, an ``EventAliaser`` (``_emitter``, ``_alias_event_name``)
  over a ``HierarchicalEmitter`` that finds an event's handlers with its ``_PrefixTrie``'s
  ``prefix_search`` and caches them in ``_lookup_cache`` (shared by a ``copy``): the
  trie's and the emitter's classes become subclasses, so that the ``before-send``
  handlers found get a look before each, and copies do not. The endpoint names the
  event ``before-send.<service id, hyphenized>.<operation>``.
- ``botocore.endpoint.history_recorder`` (``_enabled``, ``_handlers``) and
  ``botocore.endpoint.logger``: they show a request to outside code (the recorder's
  handlers, DEBUG logging) before any ``before-send`` handler.
- ``ClientCreator.create_client``: every client any session creates (``patch()``), and
  aiobotocore's ``AioClientCreator.create_client`` (a coroutine function), wrapped when
  ``aiobotocore.client`` is imported, before or after ``patch()``.
- ``ServiceModel._service_description``, a client's ``_loader`` and the loader's
  ``_cache``: the raw model document, walked once per loaded model.
- ``BaseClient._make_api_call``: a coroutine function on aiobotocore's clients.
- ``BaseClient._ruleset_resolver.construct_endpoint``: the endpoint botocore's rules give
  the client's calls (dualstack in some partitions names another host than ``meta``'s).
- ``HeadersDict._dict`` and ``_HeaderKey`` (its ``_key`` and ``_lower``): a request's
  headers, read without building a view per header, and built anew from what was checked.
- ``AWSPreparedRequest``: the one class of request an endpoint creates (aiobotocore's too).
- ``URLLib3Session.send`` reads ``request.context["read_timeout"]`` before it writes the
  request.
- ``RpcV2CBORParser``'s stream reader and ``_parse_key_value_pair``: botocore's own CBOR
  decoder, made strict for request bodies.
"""

from __future__ import annotations

import collections
import contextvars
import functools
import importlib.abc
import importlib.util
import inspect
import logging
import sys
import threading
from logging import DEBUG
from typing import TYPE_CHECKING, Any

from botocore import endpoint as _botocore_endpoint  # imported with boto3: no cost here
from botocore.awsrequest import (
    AWSPreparedRequest,
    HeadersDict,
    _HeaderKey,
)
from botocore.history import HistoryRecorder
from botocore.hooks import _PrefixTrie  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from botocore.client import BaseClient
    from botocore.model import OperationModel, ServiceModel

    Created = Callable[[AWSPreparedRequest, dict[str, Any], OperationModel], None]
    # (request, at the HTTP send, whether a request it does not know is let through)
    Look = Callable[[AWSPreparedRequest, bool, bool], None]


def wrap_endpoint(client: BaseClient, created: Created, look: Look) -> None:
    """Call ``created`` on each request the client's endpoint creates, and ``look``
    before each ``before-send`` handler and inside the HTTP send.

    ``created`` runs after ``request-created`` handlers and signing, before any
    ``before-send`` handler; ``look`` runs before every ``before-send`` handler, whatever
    its name, its order or when it was registered (a transport such as moto's answers
    there: each sees only a request just looked at), and at the send, after every
    handler (``_BeforeSendLooks``), and right after ``created`` when outside code sees the
    request before any handler (botocore's history recorder, the endpoint's DEBUG log).
    aiobotocore's methods are coroutine functions.

    Raises:
        TypeError: the client has no endpoint or emitter laid out as botocore's (fail
            closed).
    """
    endpoint = getattr(client, "_endpoint", None)
    create = getattr(endpoint, "create_request", None)
    send = getattr(endpoint, "_send", None)
    events = getattr(endpoint, "_event_emitter", None)
    if create is None or send is None or not _emits_as_botocore(events):
        raise TypeError(
            "secure_comprehend needs botocore's Endpoint.create_request, Endpoint._send and "
            f"{_EMITTER_NEEDED}; this client's endpoint is a {type(endpoint).__name__} "
            f"emitting through a {type(events).__name__}"
        )
    looks = _BeforeSendLooks(endpoint, look)
    create_now, send_now = _current(endpoint, "create_request"), _current(endpoint, "_send")
    if inspect.iscoroutinefunction(create):

        async def create_async(params: dict[str, Any], operation_model: Any = None) -> Any:
            token = _CREATING.set(looks)
            try:
                request = await create_now()(params, operation_model)
            finally:
                _CREATING.reset(token)
            created(request, params, operation_model)
            looks.created(request, operation_model)
            return request

        async def send_async(request: Any) -> Any:
            look(request, True, False)
            return await send_now()(request)

        endpoint.create_request, endpoint._send = create_async, send_async  # type: ignore[union-attr]
        return

    def create_sync(params: dict[str, Any], operation_model: Any = None) -> Any:
        token = _CREATING.set(looks)
        try:
            request = create_now()(params, operation_model)
        finally:
            _CREATING.reset(token)
        created(request, params, operation_model)
        looks.created(request, operation_model)
        return request

    def send_sync(request: Any) -> Any:
        look(request, True, False)
        return send_now()(request)

    endpoint.create_request, endpoint._send = create_sync, send_sync  # type: ignore[union-attr]


def _current(endpoint: Any, name: str) -> Callable[[], Any]:
    """What ``endpoint.<name>`` is now, below this library's wrapper: the endpoint's own
    (someone's wrapper on this very endpoint, kept as it is), or else the class's, found
    at each call as plain botocore finds it (so a class-level patch made later, with
    ``unittest.mock`` say, is called, and one that ended is not)."""
    own = getattr(endpoint, "__dict__", {}).get(name)
    if own is not None:
        return lambda: own
    return lambda: _of_class(endpoint, name)


def _of_class(obj: Any, name: str) -> Any:
    """``obj.<name>`` as its class gives it, without ``obj``'s own attribute."""
    attribute = getattr(type(obj), name)
    get = getattr(type(attribute), "__get__", None)
    return get(attribute, obj, type(obj)) if get is not None else attribute


# the before-send looks of the endpoint creating a request in this thread or task: a
# request it does not know is one of its own being created (refused), not someone's own
# request emitted by their code (left to their handlers)
_CREATING: contextvars.ContextVar[Any] = contextvars.ContextVar("secure_comprehend_creating")


_EMITTER_NEEDED = "an EventAliaser over a HierarchicalEmitter as Endpoint._event_emitter"


def _emits_as_botocore(events: Any) -> bool:
    """Whether ``events`` is botocore's own ``EventAliaser`` over botocore's (or
    aiobotocore's) own ``HierarchicalEmitter``, whose ``_emit`` finds an event's handlers
    with its ``_PrefixTrie``'s ``prefix_search`` (a subclass could dispatch otherwise)."""
    from botocore.hooks import EventAliaser, HierarchicalEmitter

    emitter = getattr(events, "_emitter", None)
    trie = getattr(emitter, "_handlers", None)
    own = [HierarchicalEmitter._emit]  # type: ignore[attr-defined]
    aio = sys.modules.get("aiobotocore.hooks")
    if aio is not None and hasattr(aio, "AioHierarchicalEmitter"):
        own.append(aio.AioHierarchicalEmitter._emit)
    return (
        type(events) is EventAliaser
        and any(getattr(type(emitter), "_emit", None) is emit for emit in own)
        and isinstance(getattr(emitter, "_lookup_cache", None), dict)
        and (type(trie) is _PrefixTrie or type(trie) is _LookingTrie)
    )


class _BeforeSendLooks:
    """A look at the request before each ``before-send`` handler one endpoint emits.

    ``HierarchicalEmitter._emit`` finds an event's handlers with its trie's
    ``prefix_search`` and caches the list until the next register or unregister: for
    the event the endpoint emits as ``before-send`` (under any alias), the list the
    client's trie finds has a look before each handler, whatever its name, its order or
    when it was registered. No other event changes, and an event with no handler costs
    nothing more. A copy of the client's emitter finds its own handlers, as botocore's
    does, without looks.

    Raises:
        TypeError: the endpoint does not emit through botocore's own classes (fail closed).
    """

    events: Any  # the EventAliaser, its HierarchicalEmitter and its trie, as installed
    emitter: Any
    trie: Any
    kinds: tuple[type, type]

    def __init__(self, endpoint: Any, look: Look) -> None:
        self.endpoint, self.look = endpoint, look
        self.handler = self.look_at  # one bound method: what the trie lists
        self.names: dict[str, str] = {}  # operation -> the before-send event botocore emits
        self.install()

    def look_at(self, request: Any = None, **_: Any) -> None:
        self.look(request, False, _CREATING.get(None) is not self)

    def install(self) -> None:
        """Find the endpoint's before-send handlers with looks (again, if code replaced
        an object the endpoint emits through)."""
        events = getattr(self.endpoint, "_event_emitter", None)
        if not _emits_as_botocore(events):  # replaced since protect(): refused as then
            raise TypeError(
                f"secure_comprehend needs {_EMITTER_NEEDED}; this client's endpoint is now "
                f"emitting through a {type(events).__name__}"
            )
        emitter = events._emitter  # type: ignore[union-attr]
        trie = emitter._handlers
        looks = trie.__dict__.get(_LOOKS)
        if looks is not None and looks[0] is not self.handler:  # another client's guard
            raise TypeError(
                "secure_comprehend protects a client whose endpoint emits through an emitter "
                "of its own; this one emits through another protected client's emitter"
            )
        trie.__class__ = _LookingTrie
        emitter.__class__ = _looking_emitter(type(emitter))
        trie.__dict__[_LOOKS] = looks or (self.handler, set())
        emitter._lookup_cache = {}  # lists found before now have no looks: found again
        self.events, self.emitter, self.trie = events, emitter, trie
        self.kinds = (type(events), type(emitter))

    def holds(self) -> bool:
        """Whether the endpoint still emits through the objects looked at, as they were."""
        return (
            self.endpoint._event_emitter is self.events
            and self.events._emitter is self.emitter
            and self.emitter._handlers is self.trie
            and type(self.trie) is _LookingTrie  # by identity: a metaclass could make == lie
            and type(self.events) is self.kinds[0]
            and type(self.emitter) is self.kinds[1]
        )

    def created(self, request: Any, operation_model: Any) -> None:
        """Right after the endpoint created ``request``: its before-send handlers, found
        under whatever name an alias gives the event, come after looks; and code that
        sees the request before any of them (botocore's history recorder, the endpoint's
        DEBUG log), after one."""
        if not self.holds():
            self.install()
        if operation_model is not None:
            self._follow_alias(operation_model)
        if _seen_before_send():
            self.look(request, False, False)

    def _follow_alias(self, operation_model: Any) -> None:
        """Looks also before the handlers of the name an alias gives the operation's
        before-send event."""
        name = self.names.get(operation_model.name)
        if name is None:  # as Endpoint._do_get_response names it
            service = operation_model.service_model.service_id.hyphenize()
            name = self.names[operation_model.name] = (
                f"before-send.{service}.{operation_model.name}"
            )
        aliased = self.events._alias_event_name(name)
        if not aliased.startswith("before-send."):  # an alias renamed the event: look there
            looked_too = self.trie.__dict__[_LOOKS][1]
            if aliased not in looked_too:
                looked_too.add(aliased)
                self.emitter._lookup_cache = {}


class _LookingTrie(_PrefixTrie):  # type: ignore[misc]
    """botocore's handler trie, finding each ``before-send`` handler right after a look."""

    def prefix_search(self, key: str) -> Any:
        handlers = super().prefix_search(key)
        looks = self.__dict__.get(_LOOKS)
        if looks is None or not (key.startswith("before-send.") or key in looks[1]):
            return handlers
        looked: collections.deque[Any] = collections.deque()
        for handler in handlers:
            looked += (looks[0], handler)
        return looked

    def __copy__(self) -> Any:
        copied = super().__copy__()
        copied.__class__ = _PrefixTrie  # a copy is botocore's own: its handlers, no looks
        copied.__dict__.pop(_LOOKS, None)
        return copied


# a protected client's trie keeps (the look before each handler, the names an alias gives
# its before-send event) under this attribute
_LOOKS = "_secure_comprehend_looks"
_LOOKING_EMITTERS: dict[type, type] = {}


def _looking_emitter(base: Any) -> type:
    """``base`` (botocore's or aiobotocore's emitter), whose copies are ``base`` again, with
    a lookup cache of their own (botocore's copies share the cache, and would share the
    lists found with looks)."""
    if any(base is looking for looking in _LOOKING_EMITTERS.values()):
        return base  # type: ignore[no-any-return]
    looking = _LOOKING_EMITTERS.get(base)
    if looking is None:

        def __copy__(self: Any) -> Any:
            copied = base.__copy__(self)
            copied.__class__ = base
            copied._lookup_cache = {}
            return copied

        looking = type(base.__name__, (base,), {"__copy__": __copy__})
        _LOOKING_EMITTERS[base] = looking
    return looking


def _seen_before_send() -> bool:
    """Whether code outside botocore's handlers may see a request after it is created and
    before its ``before-send`` handlers: botocore's history recorder (the AWS CLI's
    ``history``: enabled with a handler, or not botocore's) or the endpoint's DEBUG log
    record "Sending http request" (its logging handlers and filters)."""
    for module in (_botocore_endpoint, sys.modules.get("aiobotocore.endpoint")):
        recorder = getattr(module, "history_recorder", None)
        if recorder is not None and (
            type(recorder) is not HistoryRecorder
            or (getattr(recorder, "_enabled", True) and getattr(recorder, "_handlers", True))
        ):
            return True
        log = getattr(module, "logger", None)
        if log is not None and (type(log) is not logging.Logger or log.isEnabledFor(DEBUG)):
            return True
    return False


def wrap_client_creator(wrap: Callable[[Any], Any]) -> None:
    """Wrap ``botocore.client.ClientCreator.create_client``: every session's clients.

    ``wrap(client)`` is called with each new client, after botocore resolved its name.
    """
    from botocore.client import ClientCreator

    create_client = ClientCreator.create_client

    @functools.wraps(create_client)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrap(create_client(self, *args, **kwargs))

    ClientCreator.create_client = create  # type: ignore[method-assign]


def wrap_aio_client_creator(wrap: Callable[[Any], Any]) -> None:
    """Wrap aiobotocore's ``AioClientCreator.create_client``: every aiobotocore session's
    clients. Now, if ``aiobotocore.client`` is imported; and each time it is executed
    (first imported later, imported again after a failure, reloaded)."""
    sys.meta_path.insert(0, _AfterImport("aiobotocore.client", lambda m: _wrap_aio(m, wrap)))
    module = sys.modules.get("aiobotocore.client")
    if module is not None and hasattr(module, "AioClientCreator"):
        _wrap_aio(module, wrap)


_WRAPPED = "__secure_comprehend_wraps__"


def _wrap_aio(module: Any, wrap: Callable[[Any], Any]) -> None:
    creator = module.AioClientCreator
    create_client = creator.create_client
    if getattr(create_client, _WRAPPED, None) is wrap:  # once per wrap, however often asked
        return

    @functools.wraps(create_client)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrap(await create_client(self, *args, **kwargs))

    setattr(create, _WRAPPED, wrap)
    creator.create_client = create


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then(module)`` right after the module ``name`` is executed, every time it is
    (a ``find_spec`` that imports nothing, or an import that fails, uses nothing up)."""

    def __init__(self, name: str, then: Callable[[Any], None]) -> None:
        self.name, self.then = name, then
        self.finding = threading.local()  # our own look-up must not find us again

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name or getattr(self.finding, "busy", False):
            return None
        self.finding.busy = True
        try:
            spec = importlib.util.find_spec(fullname)  # the other finders' answer
        finally:
            self.finding.busy = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            self.then(module)

        loader.exec_module = exec_module  # a new loader per spec: wrapped once
        return spec


def service_document(model: ServiceModel) -> dict[str, Any]:
    """The raw JSON document a service model was built from (the loader caches it)."""
    document: dict[str, Any] = model._service_description  # type: ignore[attr-defined]
    return document


def client_loader(client: BaseClient) -> Any:
    """The botocore loader a client's model came from (shared by its session's clients)."""
    return getattr(client, "_loader", None)


def resolved_endpoint_url(client: BaseClient, model: ServiceModel) -> str | None:
    """The endpoint botocore's endpoint rules resolve for the client's calls (Comprehend's
    rules read no operation input), which can name another host than
    ``meta.endpoint_url``; None when it cannot be had here (an aiobotocore client's
    resolver is a coroutine function, or the rules need more)."""
    resolver = getattr(client, "_ruleset_resolver", None)
    construct = getattr(resolver, "construct_endpoint", None)
    if construct is None or inspect.iscoroutinefunction(construct) or not model.operation_names:
        return None
    try:
        operation = model.operation_model(model.operation_names[0])
        url = getattr(construct(operation, {}, {}), "url", None)
    except Exception:  # the rules could not resolve without a call's input: meta's stands
        return None
    return url if isinstance(url, str) else None


def is_async_client(client: BaseClient) -> bool:
    """Whether ``client`` is an aiobotocore one (its calls are coroutines)."""
    return inspect.iscoroutinefunction(getattr(type(client), "_make_api_call", None))


def loader_holds(loader: Any, document: object) -> bool:
    """Whether botocore's loader keeps ``document`` in its cache (so its id stays its own)."""
    cache = getattr(loader, "_cache", None)
    return isinstance(cache, dict) and any(value is document for value in cache.values())


def header_items(headers: Any) -> tuple[list[tuple[Any, Any, Any]], bool]:
    """Every (name, its lower case, value) of a request's headers (lower case: None for
    a name that is not a ``str``), and whether the object read is sent as it is (else
    ``fresh_headers`` builds what is sent from what was read).

    botocore's ``HeadersDict`` is read through its dict of keys (its ``items()`` builds
    a key object per header, several times slower); it is sent as it is when each key is
    botocore's own, with a ``str`` name and that name's lower case (what botocore's
    ``items()``, and so the HTTP client, then reads is exactly what was read here). Any
    other mapping (a handler may replace the headers, with an object whose methods
    disagree) is read through ``items()``, which lists a repeated header each time.
    """
    if type(headers) is not HeadersDict:
        return [(name, _lower(name), value) for name, value in headers.items()], False
    read = []
    found = headers._dict  # type: ignore[attr-defined]
    consistent = type(found) is dict  # a subclass could answer botocore's look-ups otherwise
    for key, value in dict.items(found):
        name = key._key
        lower = _lower(name)
        consistent = consistent and type(key) is _HeaderKey and key._lower == lower  # type: ignore[attr-defined]
        read.append((name, lower, value))
    return read, consistent


def _lower(name: Any) -> str | None:
    return str.lower(name) if type(name) is str else None


def fresh_headers(read: Iterable[tuple[str, Any, Any]]) -> Any:
    """A new ``HeadersDict`` of what ``header_items`` read (names checked to be ``str``)."""
    headers = HeadersDict()
    found = headers._dict  # type: ignore[attr-defined]
    for name, _, value in read:
        found[_HeaderKey(name)] = value
    return headers


def header_columns(headers: Any) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] | None:
    """(names, lower cases, values) of headers exactly as botocore makes them, read as its
    ``items()`` (and so the HTTP client) would read them; None for anything else (read it
    with ``header_items``).

    As botocore makes them: a ``HeadersDict`` over a plain ``dict`` whose every key is a
    ``_HeaderKey`` with an exact ``str`` name and lower case, and every value a plain
    ``str``, ``bytes`` or ``int`` (the HTTP client writes those without calling anyone's
    code). Classes are compared by identity: a metaclass could make ``==`` lie. Whether
    each lower case is its name's is for the caller to compare.
    """
    if type(headers) is not HeadersDict:
        return None
    found = headers._dict  # type: ignore[attr-defined]
    if type(found) is not dict:  # a subclass could answer botocore's look-ups otherwise
        return None
    names, lowers = [], []
    for key, value in dict.items(found):
        if type(key) is not _HeaderKey:
            return None
        name, lower, kind = key._key, key._lower, type(value)  # type: ignore[attr-defined]
        if (
            type(name) is not str
            or type(lower) is not str
            or (kind is not bytes and kind is not str and kind is not int and kind is not bool)
        ):
            return None
        names.append(name)
        lowers.append(lower)
    return tuple(names), tuple(lowers), tuple(dict.values(found))


def sendable_context(request: Any) -> str | None:
    """Give the HTTP send a plain copy of ``request.context`` to read, built without
    calling anyone's code: its ``str``-keyed entries, with ``read_timeout`` as an exact
    ``int`` or ``float``. Returns why the context could not be copied whole (None if it
    could): it is not a ``dict`` (left as it is), or its ``read_timeout`` is no number
    (left out).

    ``URLLib3Session.send`` reads ``request.context.get("read_timeout")`` and hands the
    value to urllib3 (which converts it to a number) before it writes the request: a
    context whose ``get``, a key's ``__eq__`` or the timeout's ``__float__`` is someone's
    code could change the request there, after the last look.
    """
    context = getattr(request, "context", None)
    if context is None:
        return None
    if not isinstance(context, dict):
        return f"its context is a {type(context).__name__}, not a dict"
    plain = {key: value for key, value in dict.items(context) if type(key) is str}
    problem = None
    timeout = plain.get("read_timeout")  # keys of exact str: no one's code runs here
    if timeout is not None:
        number = _plain_number(timeout)
        if number is None:
            del plain["read_timeout"]
            problem = f"its read_timeout is a {type(timeout).__name__}, not a number"
        else:
            plain["read_timeout"] = number
    request.context = plain
    return problem


def _plain_number(value: Any) -> int | float | None:
    """An exact ``int`` or ``float`` copy of a number (a subclass such as numpy's float64
    included, read through the base class: its own methods are not called); None: not one."""
    kind = type(value)
    if kind is int or kind is float or kind is bool:  # a bool: urllib3 says no, as it would
        return value  # type: ignore[no-any-return]
    if isinstance(value, int):
        return int.__index__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return None


def decode_cbor(body: bytes) -> Any:
    """One CBOR data item, decoded by botocore's own CBOR parser, strictly.

    botocore reads responses leniently (a repeated map key: the last wins; a null
    value: dropped); a request is read as a server might read it, so a map key that is
    not text, a key repeated (in any case) and trailing bytes are errors, and a null is
    kept (the decision refuses a null where a value belongs).

    Raises:
        ValueError: any of the above.
    """
    parser = _strict_cbor_parser()
    stream = parser.get_peekable_stream_from_bytes(body)
    value = parser.parse_data_item(stream)
    if stream.read(1):
        raise ValueError("trailing bytes after the CBOR data item")
    return value


_CBOR_PARSER: list[Any] = []
_CASE_MAPPINGS = (str.lower, str.upper, str.casefold)  # what a reader might compare keys by


def _strict_cbor_parser() -> Any:
    if not _CBOR_PARSER:
        from botocore.parsers import RpcV2CBORParser

        class StrictCBOR(RpcV2CBORParser):
            def _parse_key_value_pair(self, stream: Any, items: dict[str, Any]) -> None:
                key = self.parse_data_item(stream)
                if type(key) is not str:
                    raise ValueError(f"a map key is a {type(key).__name__}, not text")
                if key in items or any(
                    fold(key) == fold(k) for k in items for fold in _CASE_MAPPINGS
                ):
                    raise ValueError(f"the map key {key!r} is repeated")
                items[key] = self.parse_data_item(stream)

        _CBOR_PARSER.append(StrictCBOR())
    return _CBOR_PARSER[0]
