"""The one request path: bound to the call, judged on what is sent, before every transport.

Each test here once got a violating request out, or refused a compliant one. What
"got out" means is what an HTTP server on 127.0.0.1 received (``WireServer``).
"""

from __future__ import annotations

import contextlib
import copy
import enum
import json
import logging
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.stub import Stubber
from conftest import (
    ACCOUNT,
    GROUPS,
    IO,
    KEYS,
    OTHER_ROLE,
    OTHER_SUBNET,
    REGION,
    ROLES,
    SUBNETS,
    VPC,
    AlwaysEqual,
    Recorder,
    WireServer,
    cbor_only,
    make_posture,
)

import secure_comprehend as sc
from secure_comprehend.guard.protection import CALL

OP = "StartEntitiesDetectionJob"
BAD = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
# a job in another subnet, unencrypted, with a role the posture does not approve
ESCAPE = {**IO, "VpcConfig": BAD, "DataAccessRoleArn": OTHER_ROLE}
SENTIMENT = {"Text": "good", "LanguageCode": "en"}


def client_for(server: WireServer, session: boto3.Session | None = None) -> Any:
    session = session or boto3.Session(region_name=REGION)
    return session.client("comprehend", region_name=REGION, endpoint_url=server.url)


def serialized(session: boto3.Session, operation: str, params: dict[str, Any]) -> AWSRequest:
    """The request an unprotected client of ``session`` would send for ``operation``."""
    client = session.client("comprehend", region_name=REGION)
    sent: list[Any] = []

    def keep(request: Any, **_: Any) -> Any:
        sent.append(request)
        raise _Kept

    client.meta.events.register("before-send", keep)
    with pytest.raises(_Kept):
        getattr(client, operation)(**params)
    return sent[0]


class _Kept(Exception):
    pass


def escapes(server: WireServer) -> list[bytes]:
    """Bodies that reached the server naming the unapproved subnet or role."""
    return [b for b in server.bodies() if OTHER_SUBNET.encode() in b or OTHER_ROLE.encode() in b]


# 1. Protocol confusion: the request is judged as the operation the caller invoked.


def test_a_json_call_rewritten_to_a_cbor_job_is_refused(
    wire_server: WireServer, modified_session: Any
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())  # JSON: before the CBOR model
    cbor = serialized(modified_session(cbor_only), "start_entities_detection_job", ESCAPE)
    assert client.meta.service_model.resolved_protocol == "json"

    def smuggle(request: Any, **_: Any) -> None:  # X-Amz-Target still says DetectSentiment
        request.data = cbor.body
        request.headers["Content-Type"] = "application/cbor"

    client.meta.events.register("before-sign.comprehend.DetectSentiment", smuggle)
    with pytest.raises(sc.PostureViolation, match="DetectSentiment"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


def test_a_cbor_path_with_a_fragment_is_refused(
    wire_server: WireServer, modified_session: Any
) -> None:
    session = modified_session(cbor_only)
    cbor = serialized(session, "start_entities_detection_job", ESCAPE)
    client = sc.protect(client_for(wire_server, session), make_posture())
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"

    def smuggle(request: Any, **_: Any) -> None:  # the HTTP client drops what follows "#"
        base = request.url.rpartition("/operation/")[0]
        request.url = f"{base}/operation/{OP}#/operation/DetectSentiment"
        request.data = cbor.body

    client.meta.events.register("before-sign.comprehend.DetectSentiment", smuggle)
    with pytest.raises(sc.PostureViolation, match="fragment"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


def test_a_cbor_call_sent_as_a_json_job_is_refused(
    wire_server: WireServer, modified_session: Any
) -> None:
    session = modified_session(cbor_only)
    as_json = serialized(boto3.Session(region_name=REGION), "start_entities_detection_job", ESCAPE)
    client = sc.protect(client_for(wire_server, session), make_posture())

    def smuggle(request: Any, **_: Any) -> None:  # the path still says DetectSentiment
        request.headers["X-Amz-Target"] = f"Comprehend_20171127.{OP}"
        request.headers["Content-Type"] = "application/x-amz-json-1.1"
        del request.headers["smithy-protocol"]
        request.data = as_json.body

    client.meta.events.register("before-sign.comprehend.DetectSentiment", smuggle)
    with pytest.raises(sc.PostureViolation, match=f"sent as {OP}, built as DetectSentiment"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


def _headers_with(*pairs: tuple[str, str], keep: Any) -> HTTPHeaders:
    headers = HTTPHeaders()
    for name, value in keep.items():
        if name.lower() not in {name.lower() for name, _ in pairs}:
            headers[name] = value
    for name, value in pairs:
        headers[name] = value  # HTTPHeaders keeps each: a header sent twice
    return headers


TARGET = f"Comprehend_20171127.{OP}"
# how a request created as DetectSentiment can name a job instead, and what is said of it
SENT_AS_A_JOB: dict[str, tuple[Callable[[Any], None], str]] = {
    "target twice": (
        lambda r: setattr(
            r,
            "headers",
            _headers_with(
                ("X-Amz-Target", "Comprehend_20171127.DetectSentiment"),
                ("X-Amz-Target", TARGET),
                keep=r.headers,
            ),
        ),
        "X-Amz-Target is sent more than once",
    ),
    "mixed-case twins": (
        lambda r: setattr(r, "headers", {**dict(r.headers.items()), "x-amz-target": TARGET}),
        "x-amz-target is sent more than once",
    ),
    "path parameter": (lambda r: setattr(r, "url", r.url + f";operation={OP}"), "URL path is"),
    "escaped path": (lambda r: setattr(r, "url", r.url + f"%2Foperation%2F{OP}"), "URL path is"),
    "query": (lambda r: setattr(r, "url", r.url + f"?Action={OP}"), "query"),
    "method": (lambda r: setattr(r, "method", "PUT"), "method 'PUT'"),
    "streamed body": (lambda r: setattr(r, "body", iter([b"{}"])), "cannot be inspected"),
    "content type": (
        lambda r: r.headers.__setitem__("Content-Type", "application/cbor"),
        "Content-Type is 'application/cbor'",
    ),
    "content encoding": (
        lambda r: r.headers.__setitem__("Content-Encoding", "gzip"),
        "content or transfer encoding",
    ),
}


@pytest.mark.parametrize("change", SENT_AS_A_JOB, ids=list(SENT_AS_A_JOB))
def test_wire_signals_that_disagree_are_refused(wire_server: WireServer, change: str) -> None:
    job = serialized(boto3.Session(region_name=REGION), "start_entities_detection_job", ESCAPE)
    client = sc.protect(client_for(wire_server), make_posture())
    how, said = SENT_AS_A_JOB[change]

    def smuggle(request: Any, **_: Any) -> None:  # ahead of the re-check: a transport may follow
        request.body = job.body
        request.headers["Content-Length"] = str(len(job.body))
        how(request)

    client.meta.events.register_first("before-send.comprehend.DetectSentiment", smuggle)
    with pytest.raises(sc.PostureViolation, match=r"DetectSentiment \(request\)") as refused:
        client.detect_sentiment(**SENTIMENT)
    assert said in str(refused.value)
    assert wire_server.received == []
    client.meta.events.unregister("before-send.comprehend.DetectSentiment", smuggle)
    client.detect_sentiment(**SENTIMENT)  # untouched, the same call goes out
    assert len(wire_server.received) == 1


def test_a_target_changed_after_every_check_is_refused_at_the_send(
    wire_server: WireServer,
) -> None:
    job = serialized(boto3.Session(region_name=REGION), "start_entities_detection_job", ESCAPE)
    client = sc.protect(client_for(wire_server), make_posture())

    def retarget(request: Any, **_: Any) -> None:  # registered last: after the re-check
        request.headers["X-Amz-Target"] = TARGET
        request.body = job.body
        request.headers["Content-Length"] = str(len(job.body))

    client.meta.events.register_last("before-send", retarget)
    with pytest.raises(sc.PostureViolation, match=f"sent as {OP}, built as DetectSentiment"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


# 2. What is judged is what is sent: no memo of an object someone else can change.


def test_a_bytearray_body_edited_after_the_check_is_not_what_is_sent(
    wire_server: WireServer,
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())
    editable = bytearray()

    def to_bytearray(request: Any, **_: Any) -> None:  # before the check
        editable[:] = request.data
        request.data = editable

    def edit_in_place(request: Any, **_: Any) -> None:  # after it
        bad = editable.replace(SUBNETS[0].encode(), OTHER_SUBNET.encode())
        editable[:] = bad

    client.meta.events.register("before-sign.comprehend", to_bytearray)
    client.meta.events.register_last("before-send", edit_in_place)
    client.start_entities_detection_job(**IO)
    [body] = wire_server.bodies()
    assert json.loads(body)["VpcConfig"] == VPC  # the bytes judged are the bytes sent
    assert escapes(wire_server) == []


def test_a_body_that_claims_to_equal_the_checked_one_is_read_again(
    wire_server: WireServer,
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())

    def lie(request: Any, **_: Any) -> None:
        body = json.loads(request.body)
        request.body = AlwaysEqual(json.dumps({**body, "VpcConfig": BAD}).encode())

    client.meta.events.register_last("before-send", lie)
    with pytest.raises(sc.PostureViolation, match=r"VpcConfig\.Subnets\[0\]"):
        client.start_entities_detection_job(**IO)
    assert wire_server.received == []


def test_a_transport_after_a_rewriting_handler_never_sees_the_rewrite() -> None:
    client, transport = boto3.client("comprehend", region_name=REGION), Recorder()
    sc.protect(client, make_posture())

    def lie(request: Any, **_: Any) -> None:
        body = json.loads(request.body)
        request.body = AlwaysEqual(json.dumps({**body, "VpcConfig": BAD}).encode())

    client.meta.events.register("before-send.comprehend", lie)  # ahead of the re-check
    client.meta.events.register_last("before-send", transport)  # a transport, after it
    with pytest.raises(sc.PostureViolation, match=r"VpcConfig\.Subnets\[0\]"):
        client.start_entities_detection_job(**IO)
    assert transport.bodies == []


# 3. patch() protects what a client is, not what it was called.


def test_patch_protects_a_comprehend_client_created_under_an_alias(
    wire_server: WireServer,
) -> None:
    session = boto3.Session(region_name=REGION)
    session.events.register_first(  # ahead of botocore's own alias table
        "choose-service-name",
        lambda service_name, **_: "comprehend" if service_name == "nlp" else None,
    )
    sc.patch(make_posture())
    try:
        client = session.client("nlp", region_name=REGION, endpoint_url=wire_server.url)
        assert client.meta.service_model.service_name == "comprehend"
        with pytest.raises(sc.PostureViolation, match="VpcConfig"):
            client.start_entities_detection_job(**ESCAPE)
    finally:
        sc.unpatch()
    assert wire_server.received == []


# 4. One posture per call.


def test_a_posture_swapped_in_flight_judges_the_next_call_only(wire_server: WireServer) -> None:
    first = make_posture()
    other_subnets = ["subnet-0aaaaaaaaaaaaaaa0"]
    second = make_posture(vpc={"subnets": other_subnets, "security_group_ids": list(GROUPS)})
    client = sc.protect(client_for(wire_server), first)
    swapped: list[bool] = []

    def swap(**_: Any) -> None:  # after the parameters were built, before the send
        if not swapped:
            sc.protect(client, second)
            swapped.append(True)

    client.meta.events.register("before-call.comprehend", swap)
    client.start_entities_detection_job(**IO)  # built under the first: sent as built
    client.start_entities_detection_job(**IO)  # the next call: the second posture
    sent = [json.loads(body)["VpcConfig"]["Subnets"] for body in wire_server.bodies()]
    assert sent == [list(SUBNETS), other_subnets]


# 5. Logged where decided: once, even when something answers at before-call.


def test_audit_findings_are_logged_under_stubber(sc_logs: pytest.LogCaptureFixture) -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture("audit"))
    with Stubber(client) as stubber:
        stubber.add_response("start_entities_detection_job", {"JobId": "j"})
        client.start_entities_detection_job(**IO, VpcConfig=BAD)
    [warning] = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert warning.getMessage().startswith(f"audit mode, sent anyway: {OP}")
    assert warning.violations == ["VpcConfig.Subnets[0]"]  # type: ignore[attr-defined]


def test_an_audited_request_is_logged_once_as_sent(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    client = sc.protect(client_for(wire_server), make_posture("audit"))
    client.start_entities_detection_job(**IO, VpcConfig=BAD)
    assert len([r for r in sc_logs.records if r.levelno == logging.WARNING]) == 1
    assert len(escapes(wire_server)) == 1


def test_an_audited_request_changed_after_the_decision_is_logged_again(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    client = sc.protect(client_for(wire_server), make_posture("audit"))

    def other_role(request: Any, **_: Any) -> None:
        request.data = request.data.replace(ROLES[0].encode(), OTHER_ROLE.encode())
        request.headers["Content-Length"] = str(len(request.data))

    client.meta.events.register("before-sign.comprehend", other_role)
    client.start_entities_detection_job(**IO, VpcConfig=BAD)
    warnings = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert [w.violations for w in warnings] == [  # type: ignore[attr-defined]
        ["VpcConfig.Subnets[0]"],
        ["DataAccessRoleArn"],
    ]


# 6. [models] verify under Stubber: the describes come first, in the order queued.

CLASSIFIER = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/good"
TRAINED = {
    "DocumentClassifierArn": CLASSIFIER,
    "VpcConfig": VPC,
    "VolumeKmsKeyId": KEYS["volume_key"],
    "ModelKmsKeyId": KEYS["model_key"],
}


def test_models_verify_works_with_stubber() -> None:
    posture = make_posture(models={"verify": True})
    client = sc.protect(boto3.client("comprehend", region_name=REGION), posture)
    params = {
        "DocumentClassifierArn": CLASSIFIER,
        "InputDataConfig": {"S3Uri": "s3://in/"},
        "OutputDataConfig": {"S3Uri": "s3://out/"},
    }
    with Stubber(client) as stubber:
        stubber.add_response(
            "describe_document_classifier",
            {"DocumentClassifierProperties": TRAINED},
            {"DocumentClassifierArn": CLASSIFIER},
        )
        stubber.add_response("start_document_classification_job", {"JobId": "j"})
        assert client.start_document_classification_job(**params)["JobId"] == "j"
        stubber.assert_no_pending_responses()


def test_a_model_refused_under_stubber_is_described_once() -> None:
    posture = make_posture(models={"verify": True})
    client = sc.protect(boto3.client("comprehend", region_name=REGION), posture)
    described: list[str] = []
    client.meta.events.register(  # Stubber answers at before-call: count before it
        "provide-client-params.comprehend.DescribeDocumentClassifier",
        lambda model, **_: described.append(model.name),
    )
    with Stubber(client) as stubber:
        stubber.add_client_error("describe_document_classifier", "AccessDeniedException")
        # Stubber checks the call's order before the posture refuses it: it is queued too
        stubber.add_response("start_document_classification_job", {"JobId": "j"})
        with pytest.raises(sc.PostureViolation, match="AccessDeniedException"):
            client.start_document_classification_job(
                DocumentClassifierArn=CLASSIFIER,
                InputDataConfig={"S3Uri": "s3://in/"},
                OutputDataConfig={"S3Uri": "s3://out/"},
            )
    assert described == ["DescribeDocumentClassifier"]


# What a stranger found in the first version of this path (each got a request out).

ENDPOINT = {
    "EndpointName": "e",
    "ModelArn": f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/x",
    "DesiredInferenceUnits": 1,
}
INTRUDING_ENDPOINT = json.dumps({**ENDPOINT, "DataAccessRoleArn": OTHER_ROLE}).encode()


def _smuggle_an_endpoint_as(client: Any) -> None:
    """A DetectSentiment that carries a CreateEndpoint body and its target in another header."""

    def before_call(params: Any, **_: Any) -> None:
        params["body"] = INTRUDING_ENDPOINT
        params["headers"]["X-Foo"] = "Comprehend_20171127.CreateEndpoint"

    client.meta.events.register("before-call.comprehend.DetectSentiment", before_call)


def test_header_names_swapped_in_place_after_the_check_never_get_out(
    wire_server: WireServer,
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())
    _smuggle_an_endpoint_as(client)

    def swap(request: Any, **_: Any) -> None:  # the same key objects, renamed in place
        found = request.headers._dict
        items = list(found.items())
        for key, _ in items:
            if key._lower == "x-amz-target":
                key._key, key._lower = "X-Foo", "x-foo"
            elif key._lower == "x-foo":
                key._key, key._lower = "X-Amz-Target", "x-amz-target"
        found.clear()
        found.update(items)

    client.meta.events.register_first("before-send.comprehend.DetectSentiment", swap)
    with pytest.raises(sc.PostureViolation, match="sent as CreateEndpoint"):
        client.detect_sentiment(**SENTIMENT)
    assert escapes(wire_server) == []


def test_headers_that_read_one_way_and_copy_another_never_get_out(
    wire_server: WireServer,
) -> None:
    class Headers(dict[str, Any]):  # items() for the checker, copy() for the sender
        def copy(self) -> dict[str, Any]:
            return {**self, "X-Amz-Target": b"Comprehend_20171127.CreateEndpoint"}

    client = sc.protect(client_for(wire_server), make_posture())
    _smuggle_an_endpoint_as(client)
    client.meta.events.register_first(
        "before-send", lambda request, **_: setattr(request, "headers", Headers(request.headers))
    )
    client.detect_sentiment(**SENTIMENT)  # sent: with the headers that were checked
    [(_, headers, _)] = wire_server.received
    assert headers["X-Amz-Target"] == "Comprehend_20171127.DetectSentiment"


def _cbor_pairs(pairs: list[tuple[str, Any]]) -> bytes:
    """A CBOR map of ``pairs`` in order, repeated keys and nulls included."""

    def item(value: Any) -> bytes:
        if value is None:
            return b"\xf6"
        if isinstance(value, int):
            return bytes([value]) if value < 24 else b"\x18" + bytes([value])
        data = value.encode()
        return (
            bytes([0x60 + len(data)]) if len(data) < 24 else b"\x78" + bytes([len(data)])
        ) + data

    return bytes([0xA0 + len(pairs)]) + b"".join(item(k) + item(v) for k, v in pairs)


@pytest.mark.parametrize(
    "roles",
    [[ROLES[0], None], [OTHER_ROLE, ROLES[0]], [OTHER_ROLE, ROLES[0], None]],
    ids=["approved then null", "intruder then approved", "intruder, approved, null"],
)
def test_a_cbor_member_repeated_is_refused(
    wire_server: WireServer, modified_session: Any, roles: list[str | None]
) -> None:
    client = sc.protect(client_for(wire_server, modified_session(cbor_only)), make_posture())
    body = _cbor_pairs([*ENDPOINT.items(), *(("DataAccessRoleArn", role) for role in roles)])
    client.meta.events.register(
        "request-created.comprehend.CreateEndpoint",
        lambda request, **_: setattr(request, "data", body),
    )
    with pytest.raises(sc.PostureViolation, match="repeated"):
        client.create_endpoint(**ENDPOINT)
    assert wire_server.received == []


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({**ENDPOINT, "DataAccessRoleArn": ROLES[0], "dataAccessRoleArn": OTHER_ROLE}),
        json.dumps({**ENDPOINT, "DataAccessRoleArn": ROLES[0]}).encode("utf-16"),
    ],
    ids=["member repeated in another case", "utf-16"],
)
def test_a_json_body_read_otherwise_by_a_server_is_refused(
    wire_server: WireServer, body: str | bytes
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())
    raw = body.encode() if isinstance(body, str) else body
    client.meta.events.register(
        "request-created.comprehend.CreateEndpoint",
        lambda request, **_: setattr(request, "data", raw),
    )
    with pytest.raises(sc.PostureViolation, match="CreateEndpoint \\(body\\)"):
        client.create_endpoint(**ENDPOINT)
    assert wire_server.received == []


def test_patch_protects_comprehend_s_model_installed_under_another_name(
    wire_server: WireServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import comprehend_document

    folder = tmp_path / "copy" / "comprehend-copy" / "2017-11-27"
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(comprehend_document()))
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "copy"))
    sc.patch(make_posture())
    try:
        session = boto3.Session(region_name=REGION)
        client = session.client("comprehend-copy", endpoint_url=wire_server.url)
        with pytest.raises(sc.PostureViolation, match="DataAccessRoleArn"):
            client.create_endpoint(**ENDPOINT, DataAccessRoleArn=OTHER_ROLE)
    finally:
        sc.unpatch()
    assert wire_server.received == []


def test_comprehend_medical_is_not_comprehend() -> None:
    medical = boto3.client("comprehendmedical", region_name=REGION)
    with pytest.raises(TypeError, match="client must be a botocore comprehend client"):
        sc.protect(medical, make_posture())
    with pytest.raises(TypeError, match="not 'str'"):
        sc.protect("comprehend", make_posture())  # type: ignore[type-var]


def test_an_unreadable_body_in_audit_mode_is_logged_once(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    client = sc.protect(client_for(wire_server), make_posture("audit"))
    client.meta.events.register_first(
        "before-send", lambda request, **_: setattr(request, "body", iter([request.body]))
    )
    client.start_entities_detection_job(**IO)  # audit mode: sent anyway, whatever it is
    client.detect_sentiment(**SENTIMENT)
    warnings = [r.getMessage() for r in sc_logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2 and all("cannot be inspected" in w for w in warnings), warnings


def test_headers_that_cannot_be_read_are_a_violation_not_a_crash(
    wire_server: WireServer, sc_logs: pytest.LogCaptureFixture
) -> None:
    class Broken(dict[str, Any]):
        def items(self) -> Any:
            raise KeyError("nope")

    for mode in ("enforce", "audit"):
        client = sc.protect(client_for(wire_server), make_posture(mode))
        client.meta.events.register_first(
            "before-send", lambda request, **_: setattr(request, "headers", Broken())
        )
        if mode == "enforce":
            with pytest.raises(sc.PostureViolation, match="headers cannot be read"):
                client.detect_sentiment(**SENTIMENT)
        else:
            with contextlib.suppress(Exception):  # what the HTTP layer makes of them
                client.detect_sentiment(**SENTIMENT)
            assert any("headers cannot be read" in r.getMessage() for r in sc_logs.records)


@pytest.mark.parametrize("path", ["/prefix", "/prefix/", "/p%20q", "/p;x"])
@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_an_endpoint_url_with_a_path_of_its_own_works(
    wire_server: WireServer, modified_session: Any, path: str, protocol: str
) -> None:
    session = modified_session(cbor_only) if protocol == "cbor" else boto3.Session()
    client = session.client("comprehend", region_name=REGION, endpoint_url=wire_server.url + path)
    sc.protect(client, make_posture())
    client.detect_sentiment(**SENTIMENT)
    client.create_endpoint(**ENDPOINT)
    assert len(wire_server.received) == 2


# What a second stranger's attack found (each got a request out, or read it otherwise).


def test_a_lying_dict_under_the_headers_never_gets_a_job_out(wire_server: WireServer) -> None:
    class Lying(dict[Any, Any]):  # botocore's look-ups read __getitem__; a checker items()
        def __getitem__(self, key: Any) -> Any:
            if key._lower == "x-amz-target":
                return f"Comprehend_20171127.{OP}"
            return dict.__getitem__(self, key)

    client = sc.protect(client_for(wire_server), make_posture())
    job = serialized(boto3.Session(region_name=REGION), "start_entities_detection_job", ESCAPE)

    def swap(request: Any, **_: Any) -> None:
        request.body = job.body
        request.headers["Content-Length"] = str(len(job.body))
        request.headers._dict = Lying(request.headers._dict)

    client.meta.events.register("before-send.comprehend.DetectSentiment", swap)
    client.detect_sentiment(**SENTIMENT)  # sent with the headers read, not the lying ones
    [(_, headers, _)] = wire_server.received
    assert headers["X-Amz-Target"] == "Comprehend_20171127.DetectSentiment"


def test_a_request_whose_class_is_swapped_never_gets_out(wire_server: WireServer) -> None:
    from botocore.awsrequest import AWSPreparedRequest

    client = sc.protect(client_for(wire_server), make_posture())
    job = serialized(boto3.Session(region_name=REGION), "start_entities_detection_job", ESCAPE)

    class Evil(AWSPreparedRequest):  # type: ignore[misc]
        @property  # type: ignore[override]
        def body(self) -> Any:
            return job.body

        @body.setter
        def body(self, value: Any) -> None:
            self.__dict__["body"] = value

    def swap(request: Any, **_: Any) -> None:
        request.headers["Content-Length"] = str(len(job.body))
        request.__class__ = Evil

    client.meta.events.register("before-send.comprehend.StartEntitiesDetectionJob", swap)
    with pytest.raises(sc.PostureViolation, match="the request is a Evil"):
        client.start_entities_detection_job(**IO)
    assert wire_server.received == []


def _forge_plain(context: Any) -> None:
    from secure_comprehend.guard.protection import Call

    protection = context["secure_comprehend"].protection
    context["secure_comprehend"] = Call(protection, None, context)


def _forge_spec(context: Any) -> None:
    context["secure_comprehend"].spec = None


def _forge_protection(context: Any) -> None:
    other = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture("audit"))
    with Stubber(other) as stubber:
        stubber.add_response("start_entities_detection_job", {"JobId": "j"})
        seen: list[Any] = []
        other.meta.events.register(
            "before-parameter-build", lambda context, **_: seen.append(context["secure_comprehend"])
        )
        other.start_entities_detection_job(**IO)
    context["secure_comprehend"] = seen[0]  # another client's call, in audit mode


@pytest.mark.parametrize(
    "forge",
    [_forge_plain, _forge_spec, _forge_protection],
    ids=[
        "a call of its protection without a spec",
        "a call without its spec",
        "another client's call",
    ],
)
def test_a_call_binding_forged_in_the_context_is_not_trusted(
    wire_server: WireServer, forge: Callable[[Any], None]
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())

    def tamper(context: Any, **_: Any) -> None:
        with contextlib.suppress(AttributeError):  # a binding's fields cannot be set
            forge(context)

    client.meta.events.register(f"before-parameter-build.comprehend.{OP}", tamper)
    with pytest.raises(sc.PostureViolation, match="DataAccessRoleArn"):
        client.start_entities_detection_job(**ESCAPE)
    assert wire_server.received == []


@pytest.mark.parametrize("name", ["X-Amz-Target ", "Content-Length\t", "X\x00Target", ""])
def test_a_header_name_that_is_no_http_token_is_refused(wire_server: WireServer, name: str) -> None:
    client = sc.protect(client_for(wire_server), make_posture())

    def add(request: Any, **_: Any) -> None:
        request.headers[name] = f"Comprehend_20171127.{OP}"

    client.meta.events.register_first("before-send.comprehend.DetectSentiment", add)
    with pytest.raises(sc.PostureViolation, match="not an HTTP token"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


@pytest.mark.parametrize("twin", ["VpcConf\u0131g", "VPCCONFIG"], ids=["dotless i", "upper"])
def test_a_member_repeated_under_any_case_mapping_is_refused(
    wire_server: WireServer, twin: str
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())
    body = json.dumps({**IO, "VpcConfig": VPC, twin: BAD}).encode()
    client.meta.events.register(
        f"request-created.comprehend.{OP}", lambda request, **_: setattr(request, "data", body)
    )
    with pytest.raises(sc.PostureViolation, match="duplicate keys"):
        client.start_entities_detection_job(**IO)
    assert wire_server.received == []


# What a third stranger's attack found: code that runs inside the HTTP send, after the last
# look, and a binding kept from an earlier call (each got a violating request out).


class _ContextThatRewrites(dict[str, Any]):
    """botocore's HTTP send reads ``request.context.get("read_timeout")`` before the body."""

    def __init__(self, original: dict[str, Any], then: Callable[[], None]) -> None:
        super().__init__(original)
        self.then = then

    def get(self, key: Any, default: Any = None) -> Any:
        if key == "read_timeout":
            self.then()
        return super().get(key, default)


class _Timeout(float):  # urllib3 converts the read timeout to a number: float(it) runs this
    then: Callable[[], None] = staticmethod(lambda: None)

    def __float__(self) -> float:
        type(self).then()
        return 60.0


def _rewrite_inside_the_send(how: str, bad: bytes) -> Callable[..., None]:
    def arm(request: Any, **_: Any) -> None:
        def swap() -> None:
            request.body = bad
            request.headers["Content-Length"] = str(len(bad))

        if how == "context":
            request.context = _ContextThatRewrites(request.context, swap)
        else:
            _Timeout.then = staticmethod(swap)
            request.context["read_timeout"] = _Timeout(60)

    return arm


@pytest.mark.parametrize("how", ["context", "read_timeout"])
@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_nothing_that_runs_inside_the_http_send_rewrites_what_was_checked(
    wire_server: WireServer, modified_session: Any, how: str, protocol: str
) -> None:
    session = modified_session(cbor_only) if protocol == "cbor" else boto3.Session()
    bad = serialized(session, "start_entities_detection_job", ESCAPE).body
    client = sc.protect(client_for(wire_server, session), make_posture())
    arm = _rewrite_inside_the_send(how, bad)
    client.meta.events.register_first("before-send.comprehend", arm)
    client.start_entities_detection_job(**IO)  # the send reads a plain copy: nothing runs
    assert len(wire_server.received) == 1 and escapes(wire_server) == []


class _Lazy:
    """A header value http.client calls ``encode()`` on while it writes the headers."""

    def encode(self, *_: Any) -> bytes:
        return b"x"


def test_a_header_value_that_is_not_text_is_refused(wire_server: WireServer) -> None:
    client = sc.protect(client_for(wire_server), make_posture())
    client.meta.events.register_first(
        "before-send.comprehend.DetectSentiment",
        lambda request, **_: request.headers.__setitem__("X-Lazy", _Lazy()),
    )
    with pytest.raises(sc.PostureViolation, match="X-Lazy is a _Lazy, not str, bytes or int"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


def test_a_binding_kept_from_an_earlier_audit_call_is_not_this_call_s(
    wire_server: WireServer,
) -> None:
    client = sc.protect(client_for(wire_server), make_posture("audit"))
    kept: list[Any] = []
    event = f"before-parameter-build.comprehend.{OP}"
    client.meta.events.register(event, lambda context, **_: kept.append(context[CALL]))
    client.start_entities_detection_job(**IO)  # compliant, in audit mode: its binding kept
    sc.protect(client, make_posture())  # enforce from now on
    client.meta.events.register(
        event, lambda context, **_: context.__setitem__(CALL, kept[0]), unique_id="reuse"
    )
    with pytest.raises(sc.PostureViolation, match="VpcConfig"):
        client.start_entities_detection_job(**ESCAPE)
    assert escapes(wire_server) == []


def test_a_request_sent_to_another_host_is_refused(wire_server: WireServer) -> None:
    client = sc.protect(client_for(wire_server), make_posture())

    def elsewhere(request: Any, **_: Any) -> None:
        request.url = request.url.replace("127.0.0.1", "localhost")

    client.meta.events.register_first("before-send.comprehend.DetectSentiment", elsewhere)
    with pytest.raises(sc.PostureViolation, match="not to the client's endpoint"):
        client.detect_sentiment(**SENTIMENT)
    assert wire_server.received == []


class _CollidesWithReadTimeout:
    """A context key that hashes like "read_timeout": looking that up compares with it."""

    def __init__(self, then: Callable[[], None]) -> None:
        self.then = then

    def __hash__(self) -> int:
        return hash("read_timeout")

    def __eq__(self, other: object) -> bool:
        self.then()
        return False


def test_a_context_key_that_runs_code_when_read_timeout_is_looked_up_never_runs(
    wire_server: WireServer,
) -> None:
    bad = serialized(boto3.Session(), "start_entities_detection_job", ESCAPE).body
    client = sc.protect(client_for(wire_server), make_posture())

    def arm(request: Any, **_: Any) -> None:
        def swap() -> None:
            request.body = bad
            request.headers["Content-Length"] = str(len(bad))

        request.context[_CollidesWithReadTimeout(swap)] = None

    client.meta.events.register("before-send.comprehend", arm)
    client.start_entities_detection_job(**IO)  # the send reads a plain copy: nothing runs
    assert len(wire_server.received) == 1 and escapes(wire_server) == []


def test_a_context_only_the_http_send_reads_is_not_judged_ahead_of_a_transport() -> None:
    import decimal

    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    transport = Recorder(b'{"Sentiment": "POSITIVE"}')
    client.meta.events.register("before-send", transport)  # answers: no HTTP send
    client.meta.events.register(
        "before-call.comprehend.DetectSentiment",
        lambda context, **_: context.__setitem__("read_timeout", decimal.Decimal(5)),
    )
    assert client.detect_sentiment(**SENTIMENT)["Sentiment"] == "POSITIVE"  # as plain boto3
    assert len(transport.bodies) == 1


@pytest.mark.parametrize("second_mode", ["audit", "enforce"])
@pytest.mark.parametrize("event", ["before-call", "before-parameter-build"])
def test_a_call_whose_binding_is_removed_after_a_re_protection_is_judged_by_both(
    wire_server: WireServer, second_mode: str, event: str
) -> None:
    first = make_posture()  # enforce: OTHER_SUBNET is not approved
    looser = {"subnets": [OTHER_SUBNET], "security_group_ids": list(GROUPS)}
    second = make_posture(second_mode, vpc=looser)
    client = sc.protect(client_for(wire_server), first)

    def swap_and_drop(params: Any, context: Any, **_: Any) -> None:
        sc.protect(client, second)  # in the middle of the call
        if event == "before-call":  # after the parameters were judged: the body is changed
            body = json.loads(params["body"])
            body["VpcConfig"]["Subnets"] = [OTHER_SUBNET]
            params["body"] = json.dumps(body).encode()
        else:
            params["VpcConfig"] = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
        del context[CALL]

    client.meta.events.register(f"{event}.comprehend.{OP}", swap_and_drop)
    with pytest.raises(sc.PostureViolation, match=r"VpcConfig\.Subnets\[0\]"):
        client.start_entities_detection_job(**IO)
    assert escapes(wire_server) == []


# What a third stranger's attack found, on the endpoint's before-send emission.


def _target(request: Any) -> str:
    value = request.headers["X-Amz-Target"]
    return value.decode() if isinstance(value, bytes) else str(value)


def _edit(request: Any, **changes: Any) -> None:
    request.body = json.dumps({**json.loads(request.body), **changes}).encode()
    request.headers["Content-Length"] = str(len(request.body))


def test_a_model_described_inside_a_look_cannot_change_what_the_look_passed() -> None:
    """[models] verify describes a model swapped in on before-send with the client itself,
    inside the look: the describe's own handlers ran, so the look reads the request again."""
    from botocore.awsrequest import AWSResponse
    from conftest import _Raw

    classifier = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/"
    trained = {
        "VpcConfig": VPC,
        "VolumeKmsKeyId": KEYS["volume_key"],
        "ModelKmsKeyId": KEYS["model_key"],
    }
    started: list[bytes] = []

    def transport(request: Any, **_: Any) -> Any:
        if _target(request).endswith("DescribeDocumentClassifier"):
            answer = {"DocumentClassifierProperties": trained}
        else:
            started.append(request.body)
            answer = {"JobId": "j"}
        return AWSResponse(request.url, 200, {}, _Raw(json.dumps(answer).encode()))

    outer: list[Any] = []

    def attacker(request: Any, **_: Any) -> None:
        if _target(request).endswith("StartDocumentClassificationJob") and not outer:
            outer.append(request)  # a model not described yet: the next look describes it
            _edit(request, DocumentClassifierArn=classifier + "other")
        elif _target(request).endswith("DescribeDocumentClassifier") and outer:
            _edit(outer[0], VpcConfig=BAD)  # inside that look, after it read the body

    client = sc.protect(
        boto3.client("comprehend", region_name=REGION), make_posture(models={"verify": True})
    )
    client.meta.events.register_last("before-send", transport)
    client.meta.events.register_first("before-send", attacker)
    with pytest.raises(sc.PostureViolation, match=r"VpcConfig\.Subnets\[0\]"):
        client.start_document_classification_job(
            DocumentClassifierArn=classifier + "good",
            InputDataConfig=IO["InputDataConfig"],
            OutputDataConfig=IO["OutputDataConfig"],
        )
    assert all(OTHER_SUBNET.encode() not in body for body in started)


def test_an_event_aliased_to_before_send_gets_its_looks_too() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    transport = Recorder(b'{"JobId": "j"}')
    client.meta.events.register_last("before-send", transport)
    client.meta.events.register(
        f"before-call.comprehend.{OP}",
        lambda params, **_: params.__setitem__("body", json.dumps({**IO, "VpcConfig": BAD})),
    )
    client.meta.events._event_aliases["request-created"] = "before-send"  # botocore's table
    with pytest.raises(sc.PostureViolation):
        client.start_entities_detection_job(**IO)
    assert all(OTHER_SUBNET.encode() not in body for body in transport.bodies)


def test_botocore_still_logs_each_before_send_handler_it_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    client.meta.events.register("before-send", Recorder(b'{"Sentiment": "POSITIVE"}'))
    caplog.set_level(logging.DEBUG, logger="botocore.hooks")
    client.detect_sentiment(**SENTIMENT)
    called = "Event before-send.comprehend.DetectSentiment: calling handler"
    assert any(record.getMessage().startswith(called) for record in caplog.records)


def test_code_that_wraps_the_client_s_emit_sees_before_send_as_on_plain_boto3() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    events, seen = client.meta.events, []
    emit = events.emit

    def recording(event_name: str, **kwargs: Any) -> Any:
        seen.append(event_name)
        return emit(event_name, **kwargs)

    events.emit = recording  # what tracing libraries do to an emitter
    events.register("before-send", Recorder(b'{"Sentiment": "POSITIVE"}'))
    client.detect_sentiment(**SENTIMENT)
    assert "before-send.comprehend.DetectSentiment" in seen


def _replace_endpoint_emitter(client: Any) -> Any:
    events = client._endpoint._event_emitter = copy.copy(client.meta.events)
    events._emitter = copy.copy(events._emitter)  # every handler, found by a trie of its own
    return events


def _replace_inner_emitter(client: Any) -> Any:
    events = client.meta.events
    events._emitter = copy.copy(events._emitter)
    return events


def _replace_handler_trie(client: Any) -> Any:
    emitter = client.meta.events._emitter
    emitter._handlers = copy.copy(emitter._handlers)
    emitter._lookup_cache = {}
    return client.meta.events


def _escape_at_before_call(params: Any, **_: Any) -> None:
    """A before-call handler: the serialized body becomes a violating job."""
    params["body"] = json.dumps(ESCAPE).encode()


def _rewrite_request(request: Any, **_: Any) -> None:
    request.body = json.dumps(ESCAPE).encode()
    request.headers["Content-Length"] = str(len(request.body))


@pytest.mark.parametrize("where", ["before-call", "before-send, ahead of the transport"])
@pytest.mark.parametrize(
    "replace", [_replace_endpoint_emitter, _replace_inner_emitter, _replace_handler_trie]
)
def test_a_transport_behind_a_replaced_emitter_never_sees_a_violation(
    replace: Callable[[Any], Any], where: str
) -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    events = replace(client)  # code that swaps the objects the endpoint emits through
    transport = Recorder(b'{"JobId": "j"}')
    events.register_last(f"before-send.comprehend.{OP}", transport)
    if where == "before-call":
        client.meta.events.register(f"before-call.comprehend.{OP}", _escape_at_before_call)
    else:
        events.register_first(f"before-send.comprehend.{OP}", _rewrite_request)
    with pytest.raises(sc.PostureViolation):
        client.start_entities_detection_job(**IO)
    assert transport.bodies == []


def test_a_copy_of_the_emitter_that_emits_first_leaves_the_client_s_looks_in_place() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    transport = Recorder(b'{"JobId": "j"}')
    client.meta.events.register_last("before-send", transport)
    client.meta.events.register(f"before-call.comprehend.{OP}", _escape_at_before_call)
    mirror = copy.copy(client.meta.events)  # botocore's copies share their lookup cache
    mirror.emit(f"before-send.comprehend.{OP}", request=AWSRequest("POST", "https://x/").prepare())
    transport.bodies.clear()
    with pytest.raises(sc.PostureViolation):
        client.start_entities_detection_job(**IO)
    assert transport.bodies == []


def test_a_copy_of_the_emitter_made_after_a_call_calls_its_handlers_without_looks() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    transport = Recorder(b'{"Sentiment": "POSITIVE"}')
    client.meta.events.register_last("before-send", transport)
    client.detect_sentiment(**SENTIMENT)  # the client's lists, with looks, are cached
    mirror = copy.copy(client.meta.events)
    request = AWSRequest("POST", "https://x/", data=b"{}").prepare()  # not the client's
    answered = mirror.emit("before-send.comprehend.DetectSentiment", request=request)
    called = [handler for handler, _ in answered]  # no look refused the copy's own request
    assert called[-1] is transport and len(transport.bodies) == 2


@pytest.mark.parametrize("table", ["the client's", "botocore's, under patch()"])
def test_an_alias_that_renames_before_send_keeps_its_looks(
    table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.utils

    if table == "the client's":
        client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
        client.meta.events._event_aliases["before-send"] = "before-transmit"
    else:
        monkeypatch.setitem(botocore.utils.EVENT_ALIASES, "before-send", "before-transmit")
        sc.patch(make_posture())
        try:
            client = boto3.client("comprehend", region_name=REGION)
        finally:
            sc.unpatch()
    transport = Recorder(b'{"JobId": "j"}')
    client.meta.events.register_last("before-send", transport)  # aliased as it registers
    client.meta.events.register(f"before-call.comprehend.{OP}", _escape_at_before_call)
    with pytest.raises(sc.PostureViolation):
        client.start_entities_detection_job(**IO)
    assert transport.bodies == []
    assert client.detect_sentiment(**SENTIMENT) is not None  # compliant: answered


def test_botocore_s_history_recorder_never_records_a_violation() -> None:
    from botocore.history import BaseHistoryHandler, get_global_history_recorder

    class Sink(BaseHistoryHandler):  # type: ignore[misc]
        def __init__(self) -> None:
            self.bodies: list[bytes] = []

        def emit(self, event_type: str, payload: Any, source: str) -> None:
            if event_type == "HTTP_REQUEST":
                self.bodies.append(payload["body"])

    recorder, sink = get_global_history_recorder(), Sink()
    recorder.add_handler(sink)
    recorder.enable()
    try:
        client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
        client.meta.events.register_last("before-send", Recorder(b'{"JobId": "j"}'))
        client.meta.events.register(f"before-call.comprehend.{OP}", _escape_at_before_call)
        with pytest.raises(sc.PostureViolation):
            client.start_entities_detection_job(**IO)
        client.meta.events.unregister(f"before-call.comprehend.{OP}", _escape_at_before_call)
        client.start_entities_detection_job(**IO)  # compliant: recorded
    finally:
        recorder.disable()
        recorder._handlers.remove(sink)
    assert len(sink.bodies) == 1 and OTHER_SUBNET.encode() not in sink.bodies[0]


def test_a_copy_of_a_protected_client_s_emitter_calls_its_own_handlers() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    copied = copy.copy(client.meta.events)
    copied._emitter = copy.copy(copied._emitter)
    handler = Recorder(b"{}")
    copied.register("before-send", handler)
    request = AWSRequest("POST", "https://x/", data=b"{}").prepare()
    copied.emit("before-send.comprehend.DetectSentiment", request=request)
    assert handler.bodies == [b"{}"], "a copy finds and calls its own handlers, as botocore's"


def test_an_endpoint_made_to_emit_otherwise_after_protect_fails_its_calls() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    emitter = client.meta.events._emitter
    emitter.register("before-send", Recorder(b'{"Sentiment": "POSITIVE"}'))
    client._endpoint._event_emitter = emitter  # no EventAliaser over it: not looked through
    with pytest.raises(TypeError, match="now emitting through a HierarchicalEmitter"):
        client.detect_sentiment(**SENTIMENT)


def _swap_the_emitter(client: Any, transport: Recorder) -> None:
    spare = copy.copy(client.meta.events)  # botocore's own classes: no looks
    spare.register("before-send", transport)
    client._endpoint._event_emitter = spare


def _rename_the_event(client: Any, transport: Recorder) -> None:
    client.meta.events._alias_name_cache[f"before-send.comprehend.{OP}"] = f"tap.comprehend.{OP}"
    client.meta.events.register(f"tap.comprehend.{OP}", transport)


@pytest.mark.parametrize("change", [_swap_the_emitter, _rename_the_event])
def test_a_logging_handler_that_reroutes_before_send_never_gets_a_violation_out(
    change: Callable[[Any, Recorder], None],
) -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    client.meta.events.register(f"before-call.comprehend.{OP}", _escape_at_before_call)
    transport = Recorder(b'{"JobId": "j"}')

    class Reroute(logging.Handler):  # runs between the request's creation and before-send
        def emit(self, record: logging.LogRecord) -> None:
            if str(record.msg).startswith("Sending http request"):
                change(client, transport)

    log = logging.getLogger("botocore.endpoint")
    handler, level = Reroute(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        with pytest.raises(sc.PostureViolation):
            client.start_entities_detection_job(**IO)
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
    assert transport.bodies == []


def test_a_client_made_to_share_a_protected_client_s_emitter_is_not_protected_over_it() -> None:
    first = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    second = boto3.client("comprehend", region_name=REGION)
    second._endpoint._event_emitter = first._endpoint._event_emitter
    with pytest.raises(TypeError, match="another protected client's emitter"):
        sc.protect(second, make_posture("audit"))
    transport = Recorder(b'{"JobId": "j"}')
    first.meta.events.register_last("before-send", transport)
    assert first.start_entities_detection_job(**IO)["JobId"] == "j"  # its own looks, intact
    first.meta.events.register(f"before-call.comprehend.{OP}", _escape_at_before_call)
    with pytest.raises(sc.PostureViolation):
        first.start_entities_detection_job(**IO)
    assert len(transport.bodies) == 1


def test_the_endpoint_creates_a_request_without_an_operation_model_as_botocore_does() -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    params = {
        "url_path": "/",
        "query_string": "",
        "method": "POST",
        "headers": {},
        "body": b"{}",
        "url": client.meta.endpoint_url,
        "context": {},
    }
    request = client._endpoint.create_request(params)  # botocore's default: no model
    assert request.body == b"{}" and request.method == "POST"


def _answer_positive(self: Any, request: Any) -> Any:
    return Recorder(b'{"Sentiment": "POSITIVE"}')(request)


def test_a_class_level_mock_of_the_http_send_made_after_protect_answers(
    wire_server: WireServer,
) -> None:
    from unittest import mock

    import botocore.endpoint

    client = sc.protect(client_for(wire_server), make_posture())
    with mock.patch.object(botocore.endpoint.Endpoint, "_send", _answer_positive):
        assert client.detect_sentiment(**SENTIMENT)["Sentiment"] == "POSITIVE"
    assert wire_server.received == [], "the mock answered, as it does for plain boto3"


def test_a_class_level_mock_active_at_protect_ends_with_its_block(
    wire_server: WireServer,
) -> None:
    from unittest import mock

    import botocore.endpoint

    with mock.patch.object(botocore.endpoint.Endpoint, "_send", _answer_positive):
        client = sc.protect(client_for(wire_server), make_posture())
        assert client.detect_sentiment(**SENTIMENT)["Sentiment"] == "POSITIVE"
    client.detect_sentiment(**SENTIMENT)
    assert len(wire_server.received) == 1, "after the block, the real send sends"


def test_a_class_level_spy_on_create_request_sees_a_protected_client_s_calls() -> None:
    from unittest import mock

    import botocore.endpoint

    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    client.meta.events.register("before-send", Recorder(b'{"Sentiment": "POSITIVE"}'))
    create = botocore.endpoint.Endpoint.create_request
    with mock.patch.object(
        botocore.endpoint.Endpoint, "create_request", autospec=True, side_effect=create
    ) as spy:
        client.detect_sentiment(**SENTIMENT)
    assert spy.call_count == 1


@pytest.mark.parametrize("with_request", [True, False])
def test_code_that_emits_before_send_itself_reaches_its_handlers(with_request: bool) -> None:
    client = sc.protect(boto3.client("comprehend", region_name=REGION), make_posture())
    client.meta.events.register_first("before-send", lambda **kwargs: "answered")
    kwargs = {"request": AWSRequest("POST", "https://x/", data=b"{}").prepare()}
    answered = client.meta.events.emit_until_response(
        "before-send.comprehend.DetectSentiment", **(kwargs if with_request else {})
    )
    assert answered[1] == "answered", "as plain boto3: the request is not the client's own"


def test_a_client_whose_emitter_dispatches_otherwise_is_refused() -> None:
    import botocore.hooks
    import botocore.session

    class Counting(botocore.hooks.HierarchicalEmitter):  # type: ignore[misc]
        def _emit(self, event_name: str, kwargs: Any, stop_on_response: bool = False) -> Any:
            return super()._emit(event_name, kwargs, stop_on_response)

    session = botocore.session.Session(event_hooks=Counting())
    client = session.create_client("comprehend", region_name=REGION)
    with pytest.raises(TypeError, match="emitting through a EventAliaser"):
        sc.protect(client, make_posture())


# What plain boto3 sends, a protected client sends too (a stranger's hunt for wrong refusals).


class _Seconds(float):  # numpy's float64 is a float subclass too
    pass


class _Tenant(str, enum.Enum):
    BLUE = "blue"


class _Priority(enum.IntEnum):
    HIGH = 1


COMPLIANT_JOB = {
    **IO,
    "DataAccessRoleArn": ROLES[0],
    "VpcConfig": VPC,
    "VolumeKmsKeyId": KEYS["volume_key"],
    "OutputDataConfig": {"S3Uri": "s3://out/", "KmsKeyId": KEYS["output_key"]},
}


def _set_in_context(key: Any, value: Any) -> Callable[..., None]:
    return lambda context, **_: context.__setitem__(key, value)


def _set_header(name: str, value: Any) -> Callable[..., None]:
    return lambda request, **_: request.headers.__setitem__(name, value)


@pytest.mark.parametrize(
    ("event", "handler"),
    [
        ("before-call", _set_in_context("read_timeout", _Seconds(5))),
        ("before-call", _set_in_context(("myapp", "span"), "span-1")),
        ("before-call", _set_in_context(_Tenant.BLUE, "span-1")),
        (
            "before-send",
            lambda request, **_: request.headers.__setitem__("Content-Length", len(request.body)),
        ),
        ("before-send", _set_header("X-Tenant", _Tenant.BLUE)),
        ("before-send", _set_header("X-Priority", _Priority.HIGH)),
        ("before-send", _set_header("X-Tenant", bytearray(b"blue"))),
    ],
    ids=[
        "read_timeout a float subclass",
        "a tuple key in the context",
        "an enum key in the context",
        "Content-Length an int",
        "a header value a str enum",
        "a header value an int enum",
        "a header value a bytearray",
    ],
)
def test_what_plain_boto3_sends_is_sent(
    wire_server: WireServer, event: str, handler: Callable[..., None]
) -> None:
    client = sc.protect(client_for(wire_server), make_posture())
    client.meta.events.register(event, handler)
    client.detect_sentiment(**SENTIMENT)
    client.start_entities_detection_job(**COMPLIANT_JOB)
    assert len(wire_server.received) == 2


def test_dualstack_in_a_partition_whose_rules_name_another_host() -> None:
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from conftest import _Raw

    client = boto3.Session().client(
        "comprehend", region_name="us-iso-east-1", config=Config(use_dualstack_endpoint=True)
    )
    role = "arn:aws-iso:iam::111122223333:role/ComprehendDataAccess"
    sc.protect(
        client,
        sc.Posture(
            vpc={"subnets": SUBNETS, "security_group_ids": GROUPS},
            iam={"data_access_roles": [role]},
        ),
    )
    answer = _Raw(b'{"Sentiment": "NEUTRAL"}')
    client.meta.events.register(
        "before-send", lambda request, **_: AWSResponse(request.url, 200, {}, answer)
    )
    assert client.detect_sentiment(**SENTIMENT)["Sentiment"] == "NEUTRAL"
