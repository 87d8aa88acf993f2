"""Every botocore internal this library relies on, in one place.

botocore has no public hook for these; each is pinned by ``tests/test_internals.py``,
whose failure names the internal when a botocore upgrade changes it.

- ``Endpoint.create_request`` and ``Endpoint._send`` (per client, also aiobotocore's
  coroutine versions): the request as it will be sent, before any ``before-send``
  handler sees it, and at the HTTP send itself.
- ``ClientCreator.create_client``: every client any session creates (``patch()``).
- ``ServiceModel._service_description``, a client's ``_loader`` and the loader's
  ``_cache``: the raw model document, walked once per loaded model.
- ``BaseClient._make_api_call``: a coroutine function on aiobotocore's clients.
- ``HeadersDict._dict``: a request's headers, read without building a view per header.
- ``RpcV2CBORParser``'s stream reader: botocore's own CBOR decoder, for request bodies.
"""

from __future__ import annotations

import functools
import inspect
import operator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from botocore.awsrequest import AWSPreparedRequest
    from botocore.client import BaseClient
    from botocore.model import OperationModel, ServiceModel

    Created = Callable[[AWSPreparedRequest, dict[str, Any], OperationModel], None]
    Sending = Callable[[AWSPreparedRequest], None]


def wrap_endpoint(client: BaseClient, created: Created, sending: Sending) -> None:
    """Call ``created`` on each request the client's endpoint creates, and ``sending``
    inside its HTTP send.

    ``created`` runs after ``request-created`` handlers and signing, before any
    ``before-send`` handler (a transport such as moto's answers there); ``sending`` runs
    at the send, after every handler. aiobotocore's methods are coroutine functions.

    Raises:
        TypeError: the client has no endpoint laid out as botocore's (fail closed).
    """
    endpoint = getattr(client, "_endpoint", None)
    create = getattr(endpoint, "create_request", None)
    send = getattr(endpoint, "_send", None)
    if create is None or send is None:
        raise TypeError(
            "secure_comprehend needs botocore's Endpoint.create_request and Endpoint._send; "
            f"this client's endpoint is a {type(endpoint).__name__}"
        )
    if inspect.iscoroutinefunction(create):

        async def create_async(params: dict[str, Any], operation_model: Any = None) -> Any:
            request = await create(params, operation_model)
            created(request, params, operation_model)
            return request

        async def send_async(request: Any) -> Any:
            sending(request)
            return await send(request)

        endpoint.create_request, endpoint._send = create_async, send_async  # type: ignore[union-attr]
        return

    def create_sync(params: dict[str, Any], operation_model: Any = None) -> Any:
        request = create(params, operation_model)
        created(request, params, operation_model)
        return request

    def send_sync(request: Any) -> Any:
        sending(request)
        return send(request)

    endpoint.create_request, endpoint._send = create_sync, send_sync  # type: ignore[union-attr]


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


def service_document(model: ServiceModel) -> dict[str, Any]:
    """The raw JSON document a service model was built from (the loader caches it)."""
    document: dict[str, Any] = model._service_description  # type: ignore[attr-defined]
    return document


def client_loader(client: BaseClient) -> Any:
    """The botocore loader a client's model came from (shared by its session's clients)."""
    return getattr(client, "_loader", None)


def is_async_client(client: BaseClient) -> bool:
    """Whether ``client`` is an aiobotocore one (its calls are coroutines)."""
    return inspect.iscoroutinefunction(getattr(type(client), "_make_api_call", None))


def loader_holds(loader: Any, document: object) -> bool:
    """Whether botocore's loader keeps ``document`` in its cache (so its id stays its own)."""
    cache = getattr(loader, "_cache", None)
    return isinstance(cache, dict) and any(value is document for value in cache.values())


def header_items(headers: Any, names: frozenset[str]) -> Iterable[tuple[Any, Any]]:
    """The (name, value) pairs of a request's headers whose lower-case name is in
    ``names``, and every pair whose name is not a ``str``, as they will be sent.

    botocore's ``HeadersDict`` (unique names, whatever their case) is read through its
    dict of keys, which hold each name and its lower case: its ``items()`` builds a key
    object per header, several times slower. Any other mapping (a handler may replace
    the headers) is read through ``items()``, which lists a repeated header each time.
    """
    if type(headers) is _headers_dict():
        return [
            (key._key, value)
            for key, value in headers._dict.items()
            if key._lower in names or type(key._key) is not str
        ]
    return [
        (name, value)
        for name, value in headers.items()
        if type(name) is not str or name.lower() in names
    ]


def header_snapshot(headers: Any) -> tuple[Any, ...] | None:
    """What ``same_headers`` compares: the very objects of a ``HeadersDict``; None: other."""
    if type(headers) is not _headers_dict():
        return None
    return (headers, tuple(headers._dict), tuple(headers._dict.values()))


def same_headers(headers: Any, snapshot: tuple[Any, ...] | None) -> bool:
    """Whether ``headers`` holds exactly the objects it held at ``snapshot`` (by identity:
    nothing can compare equal to what it is not)."""
    if snapshot is None or headers is not snapshot[0]:
        return False
    found = headers._dict
    keys, values = snapshot[1], snapshot[2]
    return (
        len(found) == len(keys)
        and all(map(operator.is_, found, keys))
        and all(map(operator.is_, found.values(), values))
    )


_HEADERS_DICT: list[type[Any]] = []


def _headers_dict() -> type[Any]:
    if not _HEADERS_DICT:
        from botocore.awsrequest import HeadersDict

        _HEADERS_DICT.append(HeadersDict)
    return _HEADERS_DICT[0]


def decode_cbor(body: bytes) -> Any:
    """One CBOR data item, decoded by botocore's own CBOR parser.

    Raises:
        ValueError: bytes after the data item.
    """
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    stream = parser.get_peekable_stream_from_bytes(body)
    value = parser.parse_data_item(stream)
    if stream.read(1):
        raise ValueError("trailing bytes after the CBOR data item")
    return value
