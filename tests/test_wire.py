"""Reading back serialized bodies: JSON, CBOR (forced through a modified model), garbage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from conftest import GROUPS, KEYS, SUBNETS, Recorder, make_posture, recorded_client

import secure_comprehend as sc
from secure_comprehend.guard.wire import UnreadableBody, frozen_body, read_body

IN = {"S3Uri": "s3://in/"}
OUT = {"S3Uri": "s3://out/"}
VPC = {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)}


def test_json_body() -> None:
    assert read_body("json", b'{"A": {"B": [1]}}') == {"A": {"B": [1]}}
    assert read_body("json", frozen_body('{"A": 1}')) == {"A": 1}


@pytest.mark.parametrize(
    ("protocol", "body", "reason"),
    [
        ("json", b"[1, 2]", "not a structure"),
        ("json", b"{nope", "does not decode"),
        ("smithy-rpc-v2-cbor", b"\xa0\x00", "trailing"),
        ("smithy-rpc-v2-cbor", b"\x1c", "does not decode"),
        ("rest-xml", b"<a/>", "not understood"),
    ],
)
def test_unreadable_bodies_raise(protocol: str, body: Any, reason: str) -> None:
    with pytest.raises(UnreadableBody, match=reason):
        read_body(protocol, body)


def test_a_streamed_body_cannot_be_frozen() -> None:
    with pytest.raises(UnreadableBody, match="cannot be inspected"):
        frozen_body(iter([b"{}"]))


def test_final_check_reads_cbor(
    modified_session: Callable[[Callable[[dict[str, Any]], None]], boto3.Session],
) -> None:
    def cbor_only(document: dict[str, Any]) -> None:
        document["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
        document["metadata"]["protocol"] = "smithy-rpc-v2-cbor"

    from secure_comprehend.guard.wire import read_body

    session = modified_session(cbor_only)
    recorder = Recorder(response=b"\xa0", headers={"smithy-protocol": "rpc-v2-cbor"})
    client = recorded_client(make_posture(), recorder, session)
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    client.start_entities_detection_job(InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en")
    [body] = recorder.bodies
    assert body[:1] != b"{"  # CBOR, not JSON
    sent = read_body("smithy-rpc-v2-cbor", body)
    assert sent["VpcConfig"] == VPC and sent["VolumeKmsKeyId"] == KEYS["volume_key"]

    client.meta.events.register_last(  # after the posture was applied
        "before-parameter-build", lambda params, **_: params.pop("VolumeKmsKeyId")
    )
    with pytest.raises(sc.PostureViolation, match="VolumeKmsKeyId"):
        client.start_entities_detection_job(
            InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en"
        )
    assert len(recorder.bodies) == 1


# The fast path of a look (Wire.agrees) only ever says yes where the slow one does.


class _Str(str):
    __slots__ = ()


class _Bytes(bytes):
    __slots__ = ()


class _ClaimsToBeStr(type):
    """A metaclass whose classes compare equal to any class (``str`` included)."""

    def __eq__(cls, other: object) -> bool:
        return True

    __hash__ = type.__hash__


class _Pretender(str, metaclass=_ClaimsToBeStr):
    __slots__ = ()


def _key_named(headers: Any, lower: str) -> Any:
    """The key of header ``lower``; "operation": X-Amz-Target (JSON) or smithy-protocol (CBOR)."""
    wanted = ("x-amz-target", "smithy-protocol") if lower == "operation" else (lower,)
    return next(key for key in headers._dict if key._lower in wanted)


def _rename(lower: str, name: str, new_lower: str | None = None) -> Callable[[Any], None]:
    def change(headers: Any) -> None:
        key = _key_named(headers, lower)
        key._key = name
        key._lower = name.lower() if new_lower is None else new_lower

    return change


def _set(name: Any, value: Any) -> Callable[[Any], None]:
    return lambda headers: headers.__setitem__(name, value)


def _subclassed_key(headers: Any) -> None:
    from botocore.awsrequest import _HeaderKey

    class Key(_HeaderKey):  # type: ignore[misc]
        pass

    found = headers._dict
    key = _key_named(headers, "operation")
    found[Key(key._key)] = found.pop(key)


def _subclassed_value(lower: str, kind: type) -> Callable[[Any], None]:
    def change(headers: Any) -> None:
        key = _key_named(headers, lower)
        headers._dict[key] = kind(headers._dict[key])

    return change


HEADER_CHANGES: dict[str, Callable[[Any], None]] = {
    "none": lambda headers: None,
    "target: another operation": _set("X-Amz-Target", b"Comprehend_20171127.CreateEndpoint"),
    "target: as str": _set("X-Amz-Target", "Comprehend_20171127.DetectSentiment"),
    "operation header: removed": lambda headers: headers._dict.pop(
        _key_named(headers, "operation")
    ),
    "operation header: a bytes subclass": _subclassed_value("operation", _Bytes),
    "name: renamed to the target in place": _rename("user-agent", "X-Amz-Target"),
    "name: trailing space": _rename("user-agent", "X-Amz-Target "),
    "name: lower case disagrees": _rename("user-agent", "User-Agent", "x-amz-target"),
    "name: a str subclass": _rename("user-agent", _Str("User-Agent")),
    "name: its class claims to be str": _rename("user-agent", _Pretender("User-Agent")),
    "value: its class claims to be bytes": _subclassed_value("user-agent", _Pretender),
    "name: bytes": _set(b"X-Extra", b"1"),
    "name: empty": _set("", b"1"),
    "key: a _HeaderKey subclass": _subclassed_key,
    "content-type: other": _set("Content-Type", b"application/json"),
    "content-type: a str subclass": _subclassed_value("content-type", _Str),
    "content-type: removed": lambda headers: headers.__delitem__("Content-Type"),
    "content-length: wrong": _set("Content-Length", "1"),
    "content-length: bytes": _set("Content-Length", b"999"),
    "smithy-protocol: added": _set("smithy-protocol", "rpc-v2-cbor"),
    "content-encoding: added": _set("Content-Encoding", "gzip"),
    "transfer-encoding: added": _set("Transfer-Encoding", "chunked"),
}


def _requests(protocol: str, session: boto3.Session) -> list[Any]:
    made: list[Any] = []
    client = session.client("comprehend", region_name="us-east-1")
    client.meta.events.register("before-send", lambda request, **_: made.append(request))
    answer = b"\xa0" if protocol == "cbor" else b"{}"
    client.meta.events.register(
        "before-send", Recorder(answer, headers={"smithy-protocol": "rpc-v2-cbor"})
    )
    client.detect_sentiment(Text="x", LanguageCode="en")
    client.create_endpoint(EndpointName="e", ModelArn="arn", DesiredInferenceUnits=1)
    return made


@pytest.mark.parametrize("protocol", ["json", "cbor"])
@pytest.mark.parametrize("change", list(HEADER_CHANGES))
def test_the_fast_look_never_says_yes_where_the_slow_one_says_no(
    protocol: str,
    change: str,
    modified_session: Callable[[Callable[[dict[str, Any]], None]], boto3.Session],
) -> None:
    from conftest import cbor_only

    from secure_comprehend._botocore import header_columns, header_items
    from secure_comprehend.guard.wire import Wire

    session = modified_session(cbor_only) if protocol == "cbor" else boto3.Session()
    model = session.client("comprehend", region_name="us-east-1").meta.service_model
    wire = Wire(model, "https://comprehend.us-east-1.amazonaws.com")
    operations = ["DetectSentiment", "CreateEndpoint"]
    for request, operation in zip(_requests(protocol, session), operations, strict=True):
        HEADER_CHANGES[change](request.headers)
        columns = header_columns(request.headers)
        body = request.body
        pairs, as_read = header_items(request.headers)
        slow = wire.problem(request.method, request.url, pairs, body, operation, sniff=False)
        fast = wire.agrees(request.method, request.url, columns, body, operation)
        assert fast == (slow is None and as_read), (change, slow, as_read)
        assert fast or change != "none"  # botocore's own requests take the fast path
        for method, url in [
            ("GET", request.url),
            (_Str("POST"), request.url),
            (request.method, request.url + "#/operation/CreateEndpoint"),
            (request.method, _Str(request.url)),
        ]:
            assert not wire.agrees(method, url, columns, body, operation), (change, method, url)
