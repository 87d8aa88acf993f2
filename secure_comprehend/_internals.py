"""Every botocore internal this library relies on, in one place.

botocore has no public hook for these; each is pinned by ``tests/test_internals.py``,
whose failure names the internal when a botocore upgrade changes it.

- ``Endpoint.create_request`` and ``Endpoint._send`` (per client, also aiobotocore's
  coroutine versions): the request as it will be sent, before any ``before-send``
  handler sees it, and at the HTTP send itself.
- ``ClientCreator.create_client``: every client any session creates (``patch()``).
- ``ServiceModel._service_description`` and the loader's ``_cache``: the raw model
  document, walked once per loaded model.
- ``HeadersDict._dict``: a request's headers, read without building a view per header.
- ``RpcV2CBORParser``'s stream reader: botocore's own CBOR decoder, for request bodies.
"""

from __future__ import annotations

import functools
import inspect
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


def loader_holds(loader: Any, document: object) -> bool:
    """Whether botocore's loader keeps ``document`` in its cache (so its id stays its own)."""
    cache = getattr(loader, "_cache", None)
    return isinstance(cache, dict) and any(value is document for value in cache.values())


def header_items(headers: Any) -> Iterable[tuple[Any, Any]]:
    """Every (name, value) of a request's headers, as they will be sent.

    botocore's ``HeadersDict`` is read through its dict of keys (its ``items()`` builds
    a key object per header, several times slower); any other mapping (a handler may
    replace the headers) through ``items()``, which lists a repeated header each time.
    """
    from botocore.awsrequest import HeadersDict

    if type(headers) is HeadersDict:
        return [(key._key, value) for key, value in headers._dict.items()]  # type: ignore[attr-defined]
    return list(headers.items())


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
