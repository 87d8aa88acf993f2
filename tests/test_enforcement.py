"""Enforcement on real boto3 clients: moto records what left, Stubber where moto lacks it."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from conftest import (
    GROUPS,
    KEY_IDS,
    KEYS,
    OTHER_KEY,
    OTHER_ROLE,
    OTHER_SUBNET,
    REGION,
    ROLES,
    SUBNETS,
    make_posture,
)

import secure_comprehend as sc
from secure_comprehend.decision.operations import default_model

pytestmark = pytest.mark.usefixtures("moto")

IN = {"S3Uri": "s3://in/"}
OUT = {"S3Uri": "s3://out/"}
VPC = {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)}
CLASSIFIER = f"arn:aws:comprehend:{REGION}:123456789012:document-classifier/c"
JOBS: dict[str, dict[str, Any]] = {
    "StartDocumentClassificationJob": {"DocumentClassifierArn": CLASSIFIER},
    "StartDominantLanguageDetectionJob": {},
    "StartEntitiesDetectionJob": {"LanguageCode": "en"},
    "StartEventsDetectionJob": {"LanguageCode": "en", "TargetEventTypes": ["BANKRUPTCY"]},
    "StartKeyPhrasesDetectionJob": {"LanguageCode": "en"},
    "StartPiiEntitiesDetectionJob": {"LanguageCode": "en", "Mode": "ONLY_OFFSETS"},
    "StartSentimentDetectionJob": {"LanguageCode": "en"},
    "StartTargetedSentimentDetectionJob": {"LanguageCode": "en"},
    "StartTopicsDetectionJob": {},
}


def protected(posture: sc.Posture | None = None) -> Any:
    return sc.client(region_name=REGION, posture=posture or make_posture())


def entities_jobs(client: Any) -> int:
    return len(client.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"])


def test_every_start_job_operation_of_the_model_is_exercised() -> None:
    specs = default_model()[1].specs
    starts = {n for n in specs if n.startswith("Start") and n.endswith("Job")}
    assert starts == set(JOBS)
    # the one other Start* operation: judged by the flywheel it trains (test_perimeter.py)
    assert {n for n in specs if n.startswith("Start")} - starts == {"StartFlywheelIteration"}


@pytest.mark.parametrize("op", sorted(JOBS))
def test_jobs_started_with_business_parameters_only_get_the_posture(op: str) -> None:
    client = protected()
    method = getattr(client, _snake(op))
    job_id = method(InputDataConfig=IN, OutputDataConfig=OUT, **JOBS[op])["JobId"]
    name = op.removeprefix("Start")
    props = getattr(client, _snake(f"Describe{name}"))(JobId=job_id)[f"{name}Properties"]
    spec = default_model()[1].specs[op]
    assert props["DataAccessRoleArn"] == ROLES[0]
    assert props["OutputDataConfig"] == {**OUT, "KmsKeyId": KEYS["output_key"]}
    if any(m.kind == "vpc" for m in spec.members):
        assert props["VpcConfig"] == VPC
        assert props["VolumeKmsKeyId"] == KEYS["volume_key"]


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


def test_training_and_flywheel_and_endpoint_get_the_posture() -> None:
    client = protected()
    arn = client.create_entity_recognizer(
        RecognizerName="r", LanguageCode="en", InputDataConfig={"EntityTypes": [{"Type": "X"}]}
    )["EntityRecognizerArn"]
    props = client.describe_entity_recognizer(EntityRecognizerArn=arn)["EntityRecognizerProperties"]
    assert (props["VpcConfig"], props["ModelKmsKeyId"]) == (VPC, KEYS["model_key"])
    assert props["VolumeKmsKeyId"] == KEYS["volume_key"]

    flywheel = client.create_flywheel(FlywheelName="f", DataLakeS3Uri="s3://lake/")["FlywheelArn"]
    security = client.describe_flywheel(FlywheelArn=flywheel)["FlywheelProperties"]
    assert security["DataSecurityConfig"] == {
        "ModelKmsKeyId": KEYS["model_key"],
        "VolumeKmsKeyId": KEYS["volume_key"],
        "DataLakeKmsKeyId": KEYS["data_lake_key"],
        "VpcConfig": VPC,
    }
    assert security["DataAccessRoleArn"] == ROLES[0]

    endpoint = client.create_endpoint(
        EndpointName="e", ModelArn=CLASSIFIER, DesiredInferenceUnits=1
    )["EndpointArn"]
    described = client.describe_endpoint(EndpointArn=endpoint)["EndpointProperties"]
    assert described["DataAccessRoleArn"] == ROLES[0]


def test_refused_request_never_reaches_the_service() -> None:
    client = protected()
    with pytest.raises(sc.PostureViolation) as info:
        client.start_entities_detection_job(
            InputDataConfig=IN,
            OutputDataConfig={**OUT, "KmsKeyId": OTHER_KEY},
            LanguageCode="en",
            VpcConfig={"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)},
        )
    assert entities_jobs(client) == 0
    error = info.value
    assert {v.path for v in error.violations} == {
        "OutputDataConfig.KmsKeyId",
        "VpcConfig.Subnets[0]",
    }
    assert OTHER_SUBNET in str(error) and OTHER_KEY in str(error) and SUBNETS[0] in str(error)


def test_violation_is_a_403_access_denied_client_error() -> None:
    client = protected()
    with pytest.raises(ClientError) as info:
        client.create_entity_recognizer(
            RecognizerName="r",
            LanguageCode="en",
            InputDataConfig={"EntityTypes": [{"Type": "X"}]},
            DataAccessRoleArn=f"arn:aws:iam::{'1' * 12}:role/Nope",
        )
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert info.value.operation_name == "CreateEntityRecognizer"
    assert isinstance(info.value, sc.SecureComprehendError)


def test_violation_pickles_as_itself() -> None:
    client = protected()
    with pytest.raises(sc.PostureViolation) as info:
        client.start_entities_detection_job(
            InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en", VolumeKmsKeyId=OTHER_KEY
        )
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is sc.PostureViolation
    assert copy.violations == info.value.violations
    assert str(copy) == str(info.value)
    assert copy.response["Error"]["Code"] == "AccessDeniedException"


def test_bare_key_id_is_sent_as_arn() -> None:
    client = protected()
    job = client.start_entities_detection_job(
        InputDataConfig=IN,
        OutputDataConfig=OUT,
        LanguageCode="en",
        VolumeKmsKeyId=KEY_IDS["volume_key"],
    )["JobId"]
    props = client.describe_entities_detection_job(JobId=job)["EntitiesDetectionJobProperties"]
    assert props["VolumeKmsKeyId"] == KEYS["volume_key"]


def test_audit_mode_logs_and_sends(sc_logs: pytest.LogCaptureFixture) -> None:
    client = protected(make_posture(mode="audit"))
    job = client.start_entities_detection_job(
        InputDataConfig=IN,
        OutputDataConfig=OUT,
        LanguageCode="en",
        VpcConfig={"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)},
    )["JobId"]
    props = client.describe_entities_detection_job(JobId=job)["EntitiesDetectionJobProperties"]
    assert props["VpcConfig"]["Subnets"] == [OTHER_SUBNET]
    assert props["VolumeKmsKeyId"] == KEYS["volume_key"]  # injection happens in audit mode too
    warnings = [r for r in sc_logs.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert OTHER_SUBNET in warnings[0].getMessage()
    assert warnings[0].violations == ["VpcConfig.Subnets[0]"]  # type: ignore[attr-defined]
    assert warnings[0].mode == "audit"  # type: ignore[attr-defined]


def test_injection_logged_at_info_values_only_at_debug(sc_logs: pytest.LogCaptureFixture) -> None:
    protected().start_entities_detection_job(
        InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en"
    )
    info = [
        r for r in sc_logs.records if r.levelno == logging.INFO and r.name == "secure_comprehend"
    ]
    [record] = info
    assert record.operation == "StartEntitiesDetectionJob"  # type: ignore[attr-defined]
    assert set(record.injected) == {  # type: ignore[attr-defined]
        "OutputDataConfig.KmsKeyId",
        "DataAccessRoleArn",
        "VolumeKmsKeyId",
        "VpcConfig",
    }
    assert KEYS["volume_key"] not in record.getMessage()
    debug = [
        r for r in sc_logs.records if r.levelno == logging.DEBUG and r.name == "secure_comprehend"
    ]
    assert any(KEYS["volume_key"] in r.getMessage() for r in debug)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda p: p.pop("VpcConfig"), "VpcConfig"),
        (lambda p: p["VpcConfig"].__setitem__("Subnets", [OTHER_SUBNET]), "VpcConfig.Subnets[0]"),
        (lambda p: p.__setitem__("VolumeKmsKeyId", KEY_IDS["volume_key"]), "VolumeKmsKeyId"),
        (lambda p: p.__setitem__("DataAccessRoleArn", OTHER_ROLE), "DataAccessRoleArn"),
    ],
)
def test_final_check_catches_a_later_handler(
    change: Callable[[dict[str, Any]], Any], path: str
) -> None:
    client = protected()

    # registered last on the generic name after protection: it runs after the posture
    def later(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "StartEntitiesDetectionJob":
            change(params)

    client.meta.events.register_last("before-parameter-build", later)
    with pytest.raises(sc.PostureViolation) as info:
        client.start_entities_detection_job(
            InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en"
        )
    assert [v.path for v in info.value.violations] == [path]
    assert entities_jobs(client) == 0


def test_unreadable_body_fails_closed() -> None:
    client = protected()

    def garble(request: Any, **_: Any) -> None:
        request.data = b"\xff not json"

    client.meta.events.register("request-created.comprehend.StartEntitiesDetectionJob", garble)
    with pytest.raises(sc.PostureViolation, match="cannot be checked"):
        client.start_entities_detection_job(
            InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en"
        )
    assert entities_jobs(client) == 0


def test_uncovered_operations_are_not_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    import secure_comprehend.guard.protection as enforcement

    calls: list[str] = []
    real = enforcement.decide
    monkeypatch.setattr(
        enforcement, "decide", lambda spec, *a: calls.append(spec.name) or real(spec, *a)
    )
    client = protected()
    client.detect_sentiment(Text="fine", LanguageCode="en")
    client.list_entities_detection_jobs()
    assert calls == []
    client.create_endpoint(EndpointName="e", ModelArn=CLASSIFIER, DesiredInferenceUnits=1)
    assert calls == ["CreateEndpoint"]


def test_protecting_twice_is_harmless(sc_logs: pytest.LogCaptureFixture) -> None:
    client = protected()
    assert sc.protect(client, make_posture()) is client
    client.create_endpoint(EndpointName="e", ModelArn=CLASSIFIER, DesiredInferenceUnits=1)
    assert len([r for r in sc_logs.records if r.levelno == logging.INFO]) == 1


def test_protect_again_replaces_the_posture() -> None:
    client = protected()
    sc.protect(client, make_posture(iam={"data_access_roles": [ROLES[1]]}))
    arn = client.create_endpoint(EndpointName="e", ModelArn=CLASSIFIER, DesiredInferenceUnits=1)
    described = client.describe_endpoint(EndpointArn=arn["EndpointArn"])["EndpointProperties"]
    assert described["DataAccessRoleArn"] == ROLES[1]


def test_client_in_a_region_the_posture_does_not_fit_is_refused() -> None:
    with pytest.raises(sc.PostureError, match="eu-west-1"):
        sc.client(region_name="eu-west-1", posture=make_posture())
    raw = boto3.client("comprehend", region_name="eu-west-1")
    with pytest.raises(sc.PostureError):
        sc.protect(raw, make_posture())


def test_only_comprehend_clients_are_protected() -> None:
    with pytest.raises(TypeError, match="'s3'"):
        sc.protect(boto3.client("s3", region_name=REGION), make_posture())


def test_client_is_a_real_botocore_client() -> None:
    client = protected()
    assert client.meta.service_model.service_name == "comprehend"
    assert client.can_paginate("list_entities_detection_jobs")
    assert client.get_paginator("list_entities_detection_jobs") is not None
    assert issubclass(client.exceptions.ResourceNotFoundException, ClientError)


def test_import_model_via_stubber() -> None:
    client = protected()
    source = f"arn:aws:comprehend:{REGION}:444455556666:document-classifier/shared"
    sent: list[dict[str, Any]] = []
    # the serialized request, read before Stubber answers at before-call
    client.meta.events.register_first(
        "before-call.*.*", lambda params, **_: sent.append(json.loads(params["body"]))
    )
    with Stubber(client) as stub:
        # Stubber checks params as the caller gave them (it runs before the posture)
        stub.add_response("import_model", {"ModelArn": CLASSIFIER}, {"SourceModelArn": source})
        client.import_model(SourceModelArn=source)
        stub.assert_no_pending_responses()
    assert sent == [
        {
            "SourceModelArn": source,
            "ModelKmsKeyId": KEYS["model_key"],
            "DataAccessRoleArn": ROLES[0],
        }
    ]


def test_update_flywheel_via_stubber() -> None:
    client = protected()
    flywheel = f"arn:aws:comprehend:{REGION}:123456789012:flywheel/f"
    with Stubber(client) as stub:
        stub.add_response("update_flywheel", {}, {"FlywheelArn": flywheel})  # nothing injected
        client.update_flywheel(FlywheelArn=flywheel)
        stub.add_response("update_flywheel", {})
        with pytest.raises(sc.PostureViolation, match=r"DataSecurityConfig\.VpcConfig\.Subnets"):
            client.update_flywheel(
                FlywheelArn=flywheel,
                DataSecurityConfig={
                    "VpcConfig": {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
                },
            )
        with pytest.raises(AssertionError):  # the refused call consumed no stubbed response
            stub.assert_no_pending_responses()


def test_unknown_member_refuses_the_operation(
    modified_session: Callable[[Callable[[dict[str, Any]], None]], boto3.Session],
    sc_logs: pytest.LogCaptureFixture,
) -> None:
    def add(document: dict[str, Any]) -> None:
        document["shapes"]["StartEntitiesDetectionJobRequest"]["members"]["ResultKmsKeyArn"] = {
            "shape": "KmsKeyId"
        }

    session = modified_session(add)
    client = sc.client(region_name=REGION, posture=make_posture(), session=session)
    with pytest.raises(sc.PostureViolation, match=r"ResultKmsKeyArn.*upgraded"):
        client.start_entities_detection_job(
            InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en"
        )
    assert entities_jobs(client) == 0
    audit = sc.client(region_name=REGION, posture=make_posture(mode="audit"), session=session)
    audit.start_entities_detection_job(InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en")
    assert entities_jobs(client) == 1
    assert any(
        "ResultKmsKeyArn" in r.getMessage() for r in sc_logs.records if r.levelno == logging.WARNING
    )
