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
