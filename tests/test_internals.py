"""The botocore internals secure_comprehend relies on, one test each.

When one of these fails after a botocore (or aiobotocore) upgrade, the internal it
names has changed: read secure_comprehend/_botocore.py, where each is used.
"""

from __future__ import annotations

import inspect
from typing import Any

import boto3
import botocore
import pytest
from botocore.awsrequest import AWSPreparedRequest
from conftest import REGION, Recorder, make_posture

import secure_comprehend as sc
from secure_comprehend import _botocore as _internals


def _client() -> Any:
    return boto3.client("comprehend", region_name=REGION)


def test_endpoint_create_request_and_send_are_where_the_guard_looks() -> None:
    endpoint = _client()._endpoint
    create, send = getattr(endpoint, "create_request", None), getattr(endpoint, "_send", None)
    assert create is not None and send is not None, (
        f"botocore {botocore.__version__}: Endpoint.create_request or Endpoint._send is gone"
    )
    assert list(inspect.signature(create).parameters)[:2] == ["params", "operation_model"], (
        "Endpoint.create_request(params, operation_model) changed its signature"
    )
    assert list(inspect.signature(send).parameters) == ["request"], (
        "Endpoint._send(request) changed its signature"
    )


def test_the_request_dict_carries_the_call_s_context_to_create_request() -> None:
    client = _client()
    seen: list[Any] = []

    def keep(params: Any, model: Any, context: Any, **_: Any) -> None:
        seen.append(context)

    client.meta.events.register("before-parameter-build", keep)
    created: list[Any] = []
    create = client._endpoint.create_request
    client._endpoint.create_request = lambda params, om=None: (
        created.append(params) or create(params, om)
    )
    client.meta.events.register("before-send", Recorder())
    client.detect_sentiment(Text="x", LanguageCode="en")
    assert created and created[0]["context"] is seen[0], (
        "the request_dict given to Endpoint.create_request no longer carries the context "
        "dict that before-parameter-build handlers receive"
    )


def test_a_client_without_botocore_s_endpoint_is_refused() -> None:
    client = _client()
    client._endpoint = object()
    with pytest.raises(TypeError, match=r"Endpoint\.create_request, Endpoint\._send"):
        sc.protect(client, make_posture())
    assert "apply-posture" not in str(client.meta.events._emitter._unique_id_handlers), (
        "a client that cannot be protected whole is left as it was"
    )


def test_an_endpoint_emitting_otherwise_than_botocore_is_refused() -> None:
    client = _client()
    client._endpoint._event_emitter = client.meta.events._emitter  # no EventAliaser over it
    with pytest.raises(TypeError, match="emitting through a HierarchicalEmitter"):
        sc.protect(client, make_posture())


def test_the_endpoint_emits_before_send_through_botocore_s_emitter_classes() -> None:
    client = _client()
    events = client._endpoint._event_emitter
    assert events is client.meta.events, "Endpoint._event_emitter is not the client's emitter"
    name = events._alias_event_name("before-send.comprehend.DetectSentiment")
    emitter = events._emitter
    handler = Recorder()
    client.meta.events.register("before-send.comprehend", handler)
    assert handler in emitter._handlers.prefix_search(name), (
        "EventAliaser._emitter / HierarchicalEmitter._handlers.prefix_search changed"
    )
    client.detect_sentiment(Text="x", LanguageCode="en")
    assert name in emitter._lookup_cache, "HierarchicalEmitter._lookup_cache changed"


def test_the_emitter_finds_handlers_anew_with_prefix_search_after_a_register() -> None:
    client = _client()
    emitter = client.meta.events._emitter
    searched: list[str] = []
    search = emitter._handlers.prefix_search

    def recording(key: str) -> Any:
        searched.append(key)
        return search(key)

    emitter._handlers.prefix_search = recording
    client.meta.events.register("before-send", Recorder(b'{"Sentiment": "POSITIVE"}'))
    client.detect_sentiment(Text="x", LanguageCode="en")
    assert "before-send.comprehend.DetectSentiment" in searched, (
        "HierarchicalEmitter._emit no longer finds an event's handlers with "
        "_handlers.prefix_search after a register (its _lookup_cache is not cleared): "
        "the looks before each before-send handler are put there"
    )


def test_the_endpoint_names_before_send_by_hyphenized_service_id_and_aliases_it() -> None:
    client = _client()
    names: list[str] = []
    answer = Recorder()

    def transport(event_name: str, **kwargs: Any) -> Any:
        names.append(event_name)
        return answer(**kwargs)

    client.meta.events._event_aliases["before-send"] = "before-transmit"
    client.meta.events.register("before-send", transport)  # aliased as it registers
    client.detect_sentiment(Text="x", LanguageCode="en")
    service = client.meta.service_model.service_id.hyphenize()
    assert names == [f"before-transmit.{service}.DetectSentiment"], (
        "Endpoint._do_get_response no longer emits before-send.<service id, hyphenized>."
        "<operation>, or EventAliaser no longer aliases it through _event_aliases"
    )
    name = f"before-send.{service}.DetectSentiment"
    assert client.meta.events._alias_event_name(name) == names[0], (
        "EventAliaser._alias_event_name no longer gives the name the endpoint emits"
    )


def test_the_endpoint_s_history_recorder_and_logger_are_where_outside_code_sees_it() -> None:
    import logging

    import botocore.endpoint
    from botocore.history import HistoryRecorder

    assert botocore.endpoint.logger is logging.getLogger("botocore.endpoint"), (
        "botocore.endpoint.logger (which logs 'Sending http request') changed"
    )
    recorder = botocore.endpoint.history_recorder
    assert type(recorder) is HistoryRecorder, "botocore.endpoint.history_recorder changed"
    assert recorder._enabled is False and recorder._handlers == [], (
        "HistoryRecorder no longer keeps _enabled and _handlers (off and empty by default)"
    )
    assert not _internals._seen_before_send()


def test_client_creator_create_client_makes_every_client() -> None:
    from botocore.client import ClientCreator

    assert "service_name" in inspect.signature(ClientCreator.create_client).parameters, (
        "botocore.client.ClientCreator.create_client changed: patch() wraps it"
    )


def test_the_service_model_keeps_its_document_and_the_loader_caches_it() -> None:
    client = _client()
    document = _internals.service_document(client.meta.service_model)
    assert isinstance(document, dict) and "operations" in document, (
        "ServiceModel._service_description is no longer the model's JSON document"
    )
    assert _internals.loader_holds(client._loader, document), (
        "botocore's Loader._cache no longer holds the service model document"
    )


def test_headers_dict_keeps_its_keys_in_a_dict() -> None:
    from botocore.awsrequest import HeadersDict

    headers = HeadersDict({"X-Amz-Target": "a", "Content-Type": "text/plain"})
    headers[b"x-amz-target"] = "c"  # type: ignore[index]  # a name http.client sends as is
    found, as_read = _internals.header_items(headers)
    assert not as_read  # a name that is not a str: sent as checked, from a new object
    assert sorted(found, key=repr) == sorted(
        [
            ("X-Amz-Target", "x-amz-target", "a"),
            ("Content-Type", "content-type", "text/plain"),
            (b"x-amz-target", None, "c"),
        ],
        key=repr,
    ), "botocore.awsrequest.HeadersDict._dict (of _HeaderKey._key) changed"
    fresh = _internals.fresh_headers([entry for entry in found if entry[1] is not None])
    assert type(fresh) is HeadersDict and dict(fresh.items()) == {
        "X-Amz-Target": "a",
        "Content-Type": "text/plain",
    }, "botocore.awsrequest._HeaderKey or HeadersDict._dict changed"
    assert _internals.header_items(fresh)[1]  # botocore's own keys: sent as read
    columns = _internals.header_columns(fresh)
    assert columns == (
        ("X-Amz-Target", "Content-Type"),
        ("x-amz-target", "content-type"),
        ("a", "text/plain"),
    ), "botocore.awsrequest._HeaderKey (_key, _lower) or HeadersDict._dict changed"
    assert _internals.header_columns(headers) is None  # a bytes name: not botocore's kind
    assert _internals.header_columns(dict(fresh.items())) is None


def test_the_strict_cbor_parser_overrides_botocore_s_map_pairs() -> None:
    from botocore.parsers import RpcV2CBORParser

    assert hasattr(RpcV2CBORParser, "_parse_key_value_pair"), (
        "botocore.parsers.RpcV2CBORParser._parse_key_value_pair is gone: the strict "
        "request decoder overrides it"
    )
    role = b"\x71DataAccessRoleArn"
    with pytest.raises(ValueError, match="repeated"):  # approved, then null: last wins in botocore
        _internals.decode_cbor(b"\xa2" + role + b"\x61a" + role + b"\xf6")
    assert _internals.decode_cbor(b"\xa1" + role + b"\xf6") == {"DataAccessRoleArn": None}
    with pytest.raises(ValueError, match="not text"):
        _internals.decode_cbor(b"\xa1\x01\x02")


def test_botocore_s_cbor_parser_decodes_a_request_body() -> None:
    assert _internals.decode_cbor(b"\xa1\x61a\x01") == {"a": 1}, (
        "botocore.parsers.RpcV2CBORParser's get_peekable_stream_from_bytes/parse_data_item changed"
    )
    with pytest.raises(ValueError, match="trailing"):
        _internals.decode_cbor(b"\xa0\x00")


def test_a_client_keeps_its_loader_and_its_api_call() -> None:
    client = _client()
    assert _internals.client_loader(client) is not None, "BaseClient._loader is gone"
    assert callable(getattr(type(client), "_make_api_call", None)), (
        "BaseClient._make_api_call is gone: is_async_client cannot tell aiobotocore's clients"
    )
    assert not _internals.is_async_client(client)


def test_the_endpoint_creates_botocore_s_prepared_request() -> None:
    client = _client()
    made: list[Any] = []
    client.meta.events.register("before-send", lambda request, **_: made.append(request))
    client.meta.events.register("before-send", Recorder())
    client.detect_sentiment(Text="x", LanguageCode="en")
    assert type(made[0]) is AWSPreparedRequest, (
        "Endpoint.create_request no longer returns a botocore.awsrequest.AWSPreparedRequest"
    )


def test_botocore_s_http_send_reads_the_read_timeout_from_the_request_context() -> None:
    from botocore.httpsession import URLLib3Session

    request = AWSPreparedRequest("POST", "https://h/", {}, b"", False, context={})
    session = URLLib3Session()
    assert session._get_request_timeout(request) is None
    request.context["read_timeout"] = 7
    timeout = session._get_request_timeout(request)
    assert timeout is not None and timeout.read_timeout == 7, (
        "URLLib3Session no longer reads request.context['read_timeout']: "
        "sendable_context must follow what the HTTP send reads now"
    )
    assert _internals.sendable_context(request) is None
    request.context = {"read_timeout": "7"}
    assert _internals.sendable_context(request) == "its read_timeout is a str, not a number"
    assert request.context == {}, "the HTTP send is given a copy without it"
