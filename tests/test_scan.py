"""scan(): what already exists, on moto, judged by the rules a request meets."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from conftest import GROUPS, KEYS, OTHER_SUBNET, REGION, ROLES, SUBNETS, make_posture

import secure_comprehend as sc
from secure_comprehend.cli import main

pytestmark = pytest.mark.usefixtures("moto")
IO = {"InputDataConfig": {"S3Uri": "s3://in/"}, "OutputDataConfig": {"S3Uri": "s3://out/"}}
VPC = {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)}


def scan_posture() -> sc.Posture:
    # no output key: moto 5.2.5 drops a classifier's OutputDataConfig from List*/Describe*,
    # so an output key could not be seen on a compliant model
    return make_posture(kms={"volume_key": KEYS["volume_key"], "model_key": KEYS["model_key"]})


def created() -> dict[str, str]:
    """Resources made with plain boto3 before the guardrail: two compliant, three not."""
    plain = boto3.client("comprehend", region_name=REGION)
    sc.client(region_name=REGION, posture=make_posture()).start_topics_detection_job(**IO)
    made = {
        "good-job": plain.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"][0][
            "JobArn"
        ],
        "bad-job": plain.start_entities_detection_job(
            **IO, LanguageCode="en", DataAccessRoleArn=ROLES[0]
        )["JobArn"],
        "bad-subnet-job": plain.start_key_phrases_detection_job(
            **IO,
            LanguageCode="en",
            DataAccessRoleArn=ROLES[0],
            VpcConfig={"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)},
            VolumeKmsKeyId=KEYS["volume_key"],
        )["JobArn"],
        "good-model": plain.create_document_classifier(
            DocumentClassifierName="good",
            LanguageCode="en",
            DataAccessRoleArn=ROLES[0],
            InputDataConfig={"S3Uri": "s3://train/"},
            OutputDataConfig={"S3Uri": "s3://o/", "KmsKeyId": KEYS["output_key"]},
            VpcConfig=VPC,
            VolumeKmsKeyId=KEYS["volume_key"],
            ModelKmsKeyId=KEYS["model_key"],
        )["DocumentClassifierArn"],
        "bad-model": plain.create_entity_recognizer(
            RecognizerName="bad",
            LanguageCode="en",
            DataAccessRoleArn=ROLES[0],
            InputDataConfig={"EntityTypes": [{"Type": "X"}], "Documents": {"S3Uri": "s3://d/"}},
        )["EntityRecognizerArn"],
    }
    return made


def test_scan_reports_exactly_the_non_compliant_resources() -> None:
    made = created()
    report = sc.scan(scan_posture(), session=boto3.Session(region_name=REGION), region_name=REGION)
    bad = {r.arn for r in report.resources if not r.compliant}
    assert bad == {made["bad-job"], made["bad-subnet-job"], made["bad-model"]}
    good = {r.arn for r in report.resources if r.compliant}
    assert {made["good-job"], made["good-model"]} <= good
    [subnet_job] = [r for r in report.resources if r.arn == made["bad-subnet-job"]]
    assert [v.path for v in subnet_job.violations] == ["VpcConfig.Subnets[0]"]
    assert report.skipped == [] and not report.ok
    areas = {r.area for r in report.resources}
    assert {"topics detection jobs", "entities detection jobs", "entity recognizers"} <= areas


@pytest.mark.parametrize("code", ["AccessDeniedException", "UnauthorizedAccess"])
def test_scan_survives_an_access_denied_list_and_says_so(code: str) -> None:
    created()
    session = boto3.Session(region_name=REGION)
    client = session.client("comprehend", region_name=REGION)
    stub = Stubber(client)
    stub.add_client_error(
        "list_document_classifiers", service_error_code=code, http_status_code=403
    )
    real_client = session.client

    def client_with_denied_listing(service: str, **kwargs: Any) -> Any:
        # every other call goes to moto; the classifier listing is denied (Stubber)
        if service != "comprehend":
            return real_client(service, **kwargs)
        wrapped = real_client(service, **kwargs)
        original = wrapped.get_paginator

        def paginator(name: str) -> Any:
            return (
                client.get_paginator(name)
                if name == "list_document_classifiers"
                else original(name)
            )

        wrapped.get_paginator = paginator
        return wrapped

    session.client = client_with_denied_listing  # type: ignore[method-assign]
    with stub:
        report = sc.scan(make_posture(), session=session, region_name=REGION)
    assert report.skipped == [
        ("document classifiers", f"not allowed ({code}): needs comprehend:ListDocumentClassifiers")
    ]
    assert any(r.area == "entity recognizers" for r in report.resources)


def test_scan_command_exit_codes_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    from conftest import EXAMPLE_CONFIG

    assert main(["scan", "--config", str(EXAMPLE_CONFIG), "--region", REGION]) == 0  # nothing yet
    assert "0 resource(s), 0 not compliant" in capsys.readouterr().out
    created()
    assert main(["scan", "--config", str(EXAMPLE_CONFIG), "--region", REGION, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and any(not r["compliant"] for r in report["resources"])
    page = sc.scan(
        make_posture(), session=boto3.Session(region_name=REGION), region_name=REGION
    )._repr_html_()
    assert "NOT compliant" in page


def _denied_session(denied: set[str], code: str = "AccessDeniedException") -> boto3.Session:
    """A session whose comprehend calls named in ``denied`` fail; moto answers the rest."""
    import botocore.session
    from botocore.awsrequest import AWSResponse

    session = botocore.session.get_session()

    def fail(model: Any, **_: Any) -> Any:
        if model.name in denied:
            error = {"Code": code, "Message": "no"}
            return AWSResponse("", 400, {}, None), {
                "Error": error,
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    session.register("before-call.comprehend", fail)
    return boto3.Session(botocore_session=session, region_name=REGION)


def test_an_area_that_cannot_be_listed_means_not_ok() -> None:
    created()
    report = sc.scan(
        scan_posture(), session=_denied_session({"ListDocumentClassifiers"}), region_name=REGION
    )
    assert report.skipped == [
        (
            "document classifiers",
            "not allowed (AccessDeniedException): needs comprehend:ListDocumentClassifiers",
        )
    ]
    assert not report.ok  # what was not listed was not judged


def test_a_denied_describe_names_that_call_and_other_errors_skip_the_area() -> None:
    boto3.client("comprehend", region_name=REGION).create_flywheel(
        FlywheelName="fw",
        ActiveModelArn=f"arn:aws:comprehend:{REGION}:123456789012:document-classifier/x",
        DataAccessRoleArn=ROLES[0],
        DataLakeS3Uri="s3://lake/",
    )
    report = sc.scan(
        scan_posture(), session=_denied_session({"DescribeFlywheel"}), region_name=REGION
    )
    assert (
        "flywheels",
        "not allowed (AccessDeniedException): needs comprehend:DescribeFlywheel",
    ) in report.skipped
    odd = sc.scan(
        scan_posture(),
        session=_denied_session({"ListEndpoints"}, "UnsupportedOperation"),
        region_name=REGION,
    )
    assert (
        "endpoints",
        "comprehend:ListEndpoints failed (UnsupportedOperation); the area was not judged",
    ) in odd.skipped


def test_scan_exits_2_when_nothing_could_be_listed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import EXAMPLE_CONFIG

    from secure_comprehend.account.scan import _listings

    every = {listing.operation for listing in _listings()}
    denied = _denied_session(every)
    monkeypatch.setattr(boto3, "Session", lambda **_: denied)
    assert main(["scan", "--config", str(EXAMPLE_CONFIG), "--region", REGION]) == 2
    assert "no area could be listed" in capsys.readouterr().err


def test_what_runs_a_model_is_judged_by_that_model() -> None:
    """With [models]: an endpoint, a job and a flywheel are only as compliant as the model
    they run, and the report names that model."""
    from test_perimeter import train

    plain = boto3.client("comprehend", region_name=REGION)
    secure = {"VpcConfig": VPC, "VolumeKmsKeyId": KEYS["volume_key"]}
    good = train("good", **secure, ModelKmsKeyId=KEYS["model_key"])
    bad = train("bad", **secure)  # no model key
    runs = {
        "endpoint": plain.create_endpoint(
            EndpointName="e", ModelArn=bad, DesiredInferenceUnits=1, DataAccessRoleArn=ROLES[0]
        )["EndpointArn"],
        "good endpoint": plain.create_endpoint(
            EndpointName="g", ModelArn=good, DesiredInferenceUnits=1, DataAccessRoleArn=ROLES[0]
        )["EndpointArn"],
        "job": plain.start_document_classification_job(
            **IO, DocumentClassifierArn=bad, DataAccessRoleArn=ROLES[0], **secure
        )["JobArn"],
        "flywheel": plain.create_flywheel(
            FlywheelName="f",
            ActiveModelArn=bad,
            DataAccessRoleArn=ROLES[0],
            DataLakeS3Uri="s3://lake/",
            DataSecurityConfig={**secure, "ModelKmsKeyId": KEYS["model_key"]},
        )["FlywheelArn"],
    }
    session = boto3.Session(region_name=REGION)
    session.events.register(  # moto 5.2.5 keys an unversioned classifier by NAME/None
        "before-parameter-build.comprehend.DescribeDocumentClassifier",
        lambda params, **_: params.update(
            DocumentClassifierArn=f"{params['DocumentClassifierArn']}/None"
        ),
    )
    posture = make_posture(
        kms={"volume_key": KEYS["volume_key"], "model_key": KEYS["model_key"]},
        models={"allowed_accounts": ["123456789012"]},  # moto's account, the models'
    )
    report = sc.scan(posture, session=session, region_name=REGION)
    judged = {r.arn: r for r in report.resources}
    assert judged[runs["good endpoint"]].compliant
    for what in ("endpoint", "job", "flywheel"):
        found = judged[runs[what]]
        assert not found.compliant, what
        assert any(bad in v.reason and "ModelKmsKeyId" in v.reason for v in found.violations), (
            what,
            found.violations,
        )


def test_a_model_scan_may_not_describe_names_the_permission() -> None:
    plain = boto3.client("comprehend", region_name=REGION)
    model = plain.create_document_classifier(
        DocumentClassifierName="m",
        LanguageCode="en",
        DataAccessRoleArn=ROLES[0],
        InputDataConfig={"S3Uri": "s3://train/"},
    )["DocumentClassifierArn"]
    model = str(model).removesuffix("/None")
    plain.create_endpoint(
        EndpointName="e", ModelArn=model, DesiredInferenceUnits=1, DataAccessRoleArn=ROLES[0]
    )
    session = _denied_session({"DescribeDocumentClassifier"})
    posture = make_posture(models={"allowed_accounts": ["123456789012"]})
    report = sc.scan(posture, session=session, region_name=REGION)
    [endpoint] = [r for r in report.resources if r.area == "endpoints"]
    assert any(
        "AccessDeniedException (needs comprehend:DescribeDocumentClassifier)" in v.reason
        for v in endpoint.violations
    ), endpoint.violations
