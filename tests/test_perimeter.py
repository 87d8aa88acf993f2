"""What a call points at: the S3 data perimeter and model provenance, on moto."""

from __future__ import annotations

import logging
import threading
from typing import Any

import boto3
import pytest
from conftest import (
    GROUPS,
    KEYS,
    OTHER_KEY,
    OTHER_SUBNET,
    REGION,
    ROLES,
    SUBNETS,
    make_posture,
)

import secure_comprehend as sc
from secure_comprehend.decision.operations import default_model
from secure_comprehend.decision.perimeter import values_at

TABLE = default_model()[1]
ACCOUNT = "123456789012"  # moto's
S3 = {"allowed_buckets": ["corp-ml-data", "corp-ml-*"]}
IN, OUT = {"S3Uri": "s3://corp-ml-data/in/"}, {"S3Uri": "s3://corp-ml-out/out/"}


def s3_posture(**overrides: Any) -> sc.Posture:
    return make_posture(s3=S3, **overrides)


# The S3 data perimeter, over every S3 member of every covered operation.

S3_MEMBERS = [(n, m) for n, s in sorted(TABLE.specs.items()) for m in s.members if m.kind == "s3"]


def put(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    node: Any = params
    for name in path[:-1]:
        child: Any = [{}] if name.endswith("[]") else {}
        node[name.removesuffix("[]")] = child
        node = child[0] if isinstance(child, list) else child
    node[path[-1]] = value
    return params


def test_the_walk_finds_every_s3_member() -> None:
    assert len(S3_MEMBERS) >= 40
    assert {"CreateDataset", "CreateFlywheel", "StartTopicsDetectionJob"} <= {
        n for n, _ in S3_MEMBERS
    }
    assert any("AugmentedManifests[]" in m.dotted for _, m in S3_MEMBERS)  # inside lists


@pytest.mark.parametrize(
    ("op", "member"), S3_MEMBERS, ids=[f"{n}.{m.dotted}" for n, m in S3_MEMBERS]
)
def test_every_s3_member_is_inside_the_perimeter(op: str, member: Any) -> None:
    posture = s3_posture()

    def violations(uri: Any) -> list[str]:
        decision = sc.evaluate(op, put(member.path, uri), posture, region=REGION)
        return [
            v.reason for v in decision.violations if v.path.replace("[0]", "[]") == member.dotted
        ]

    assert violations("s3://corp-ml-data/key") == []
    assert violations("s3://corp-ml-anything/key") == []  # a prefix*
    assert violations("s3://corp-ml-data") == []
    assert violations("s3://elsewhere/key") == ["bucket elsewhere is outside the data perimeter"]
    assert violations("s3://corp-ml-data\n/key") == ["malformed S3 URI"]
    assert violations("https://corp-ml-data.s3.amazonaws.com/k") == ["malformed S3 URI"]


def test_without_s3_section_uris_are_not_judged() -> None:
    decision = sc.evaluate(
        "CreateDataset",
        put(("InputDataConfig", "AugmentedManifests[]", "S3Uri"), "s3://x/y"),
        make_posture(),
        region=REGION,
    )
    assert decision.allowed


def test_values_at_expands_lists_with_indexes() -> None:
    params = {"A": {"L": [{"U": "s3://a/1"}, {"U": "s3://b/2"}]}}
    assert list(values_at(params, ("A", "L[]", "U"))) == [
        ("A.L[0].U", "s3://a/1"),
        ("A.L[1].U", "s3://b/2"),
    ]


@pytest.mark.usefixtures("moto")
def test_a_job_outside_the_perimeter_is_refused_and_nothing_is_sent() -> None:
    client = sc.client(region_name=REGION, posture=s3_posture())
    client.start_topics_detection_job(InputDataConfig=IN, OutputDataConfig=OUT)
    with pytest.raises(
        sc.PostureViolation, match=r"InputDataConfig.S3Uri='s3://leak/': bucket leak"
    ):
        client.start_topics_detection_job(
            InputDataConfig={"S3Uri": "s3://leak/"}, OutputDataConfig=OUT
        )
    assert len(client.list_topics_detection_jobs()["TopicsDetectionJobPropertiesList"]) == 1


# Model provenance, against models moto trained through an unprotected client.


def train(name: str, **security: Any) -> str:
    """A classifier trained through an unprotected client; its ARN as AWS writes it."""
    plain = boto3.client("comprehend", region_name=REGION)
    arn = plain.create_document_classifier(
        DocumentClassifierName=name,
        LanguageCode="en",
        DataAccessRoleArn=ROLES[0],
        InputDataConfig={"S3Uri": "s3://corp-ml-data/train.csv"},
        **security,
    )["DocumentClassifierArn"]
    return str(arn).removesuffix("/None")  # moto 5.2.5 appends the version name "None"


def moto_arns(client: Any) -> Any:
    """moto 5.2.5 keys an unversioned classifier by ``NAME/None``: describe it by that."""

    def to_moto(params: dict[str, Any], **_: Any) -> None:
        arn = params["DocumentClassifierArn"]
        if arn.count("/") == 1:
            params["DocumentClassifierArn"] = f"{arn}/None"

    client.meta.events.register(
        "before-parameter-build.comprehend.DescribeDocumentClassifier", to_moto
    )
    return client


COMPLIANT = {
    "VpcConfig": {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)},
    "VolumeKmsKeyId": KEYS["volume_key"],
    "ModelKmsKeyId": KEYS["model_key"],
}


def models_posture(mode: str = "enforce", **models: Any) -> sc.Posture:
    return make_posture(
        mode=mode,
        iam={"data_access_roles": [f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess"]},
        models={"verify": True, **models},
    )


def classify(client: Any, arn: str) -> Any:
    return client.start_document_classification_job(
        DocumentClassifierArn=arn, InputDataConfig=IN, OutputDataConfig=OUT
    )


@pytest.mark.usefixtures("moto")
@pytest.mark.parametrize(
    ("security", "reason"),
    [
        (
            {
                **COMPLIANT,
                "VpcConfig": {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)},
            },
            "VpcConfig.Subnets",
        ),
        ({k: v for k, v in COMPLIANT.items() if k != "VpcConfig"}, "VpcConfig: not recorded"),
        (
            {k: v for k, v in COMPLIANT.items() if k != "ModelKmsKeyId"},
            "ModelKmsKeyId: not recorded",
        ),
        ({**COMPLIANT, "VolumeKmsKeyId": OTHER_KEY}, "VolumeKmsKeyId"),
    ],
    ids=["other subnet", "no vpc", "no model key", "other volume key"],
)
def test_a_model_trained_outside_the_posture_is_refused(
    security: dict[str, Any], reason: str
) -> None:
    good, bad = train("good", **COMPLIANT), train("bad", **security)
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture()))
    classify(client, good)
    with pytest.raises(sc.PostureViolation, match=reason):
        classify(client, bad)
    jobs = client.list_document_classification_jobs()["DocumentClassificationJobPropertiesList"]
    assert len(jobs) == 1


@pytest.mark.usefixtures("moto")
def test_each_model_is_described_once_across_calls_and_threads() -> None:
    good = train("good", **COMPLIANT)
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture()))
    described: list[str] = []
    client.meta.events.register(
        "before-call.comprehend.DescribeDocumentClassifier",
        lambda params, **_: described.append(params["body"]),
    )
    workers = [
        threading.Thread(target=lambda: [classify(client, good) for _ in range(5)])
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(described) == 1
    assert (
        len(client.list_document_classification_jobs()["DocumentClassificationJobPropertiesList"])
        == 20
    )


@pytest.mark.usefixtures("moto")
def test_a_model_that_cannot_be_described_fails_closed(sc_logs: pytest.LogCaptureFixture) -> None:
    ghost = f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/ghost"
    client = sc.client(region_name=REGION, posture=models_posture())
    with pytest.raises(
        sc.PostureViolation, match="cannot verify how the model was trained: ResourceNotFound"
    ):
        classify(client, ghost)
    audited = sc.client(region_name=REGION, posture=models_posture(mode="audit"))
    classify(audited, ghost)  # audit mode: a warning, and sent
    assert any(
        "cannot verify" in r.getMessage() for r in sc_logs.records if r.levelno == logging.WARNING
    )


def test_a_model_of_another_account_is_refused_unless_listed() -> None:
    foreign = f"arn:aws:comprehend:{REGION}:444455556666:document-classifier/shared"
    params = {"EndpointName": "e", "ModelArn": foreign, "DesiredInferenceUnits": 1}
    decision = sc.evaluate("CreateEndpoint", params, models_posture(), region=REGION)
    assert [v.path for v in decision.violations] == ["ModelArn"]
    assert "account 444455556666" in decision.violations[0].reason
    listed = models_posture(allowed_accounts=["444455556666"])
    assert sc.evaluate("CreateEndpoint", params, listed, region=REGION).allowed
    imported = sc.evaluate(
        "ImportModel", {"SourceModelArn": foreign}, models_posture(), region=REGION
    )
    assert [v.path for v in imported.violations] == ["SourceModelArn"]


def test_cross_account_policies_are_refused_by_default() -> None:
    policy = '{"Statement": []}'
    decision = sc.evaluate(
        "PutResourcePolicy",
        {
            "ResourceArn": f"arn:aws:comprehend:{REGION}:{ACCOUNT}:document-classifier/x",
            "ResourcePolicy": policy,
        },
        models_posture(),
        region=REGION,
    )
    assert [v.path for v in decision.violations] == ["ResourcePolicy"]
    trained = sc.evaluate(
        "CreateDocumentClassifier", {"ModelPolicy": policy}, models_posture(), region=REGION
    )
    assert "ModelPolicy" in [v.path for v in trained.violations]
    allowed = models_posture(allow_cross_account_policies=True)
    assert "ModelPolicy" not in [
        v.path
        for v in sc.evaluate(
            "CreateDocumentClassifier", {"ModelPolicy": policy}, allowed, region=REGION
        ).violations
    ]


def test_an_empty_models_section_is_an_error() -> None:
    with pytest.raises(sc.PostureError, match=r"\[models\]"):
        make_posture(models={})


# The server-side side of [s3] and [models].


def test_the_data_access_role_reads_and_writes_exactly_the_approved_buckets() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess"
    posture = sc.Posture(iam={"data_access_roles": [role]}, s3=S3)
    statements = sc.iam_policy(posture, kind="data-access-role")[role]["PermissionsPolicy"][
        "Statement"
    ]
    resources = {s["Sid"]: s["Resource"] for s in statements}
    assert resources == {
        "ComprehendReadsAndWritesTheApprovedBuckets": [
            "arn:aws:s3:::corp-ml-*/*",
            "arn:aws:s3:::corp-ml-data/*",
        ],
        "ComprehendListsTheApprovedBuckets": [
            "arn:aws:s3:::corp-ml-*",
            "arn:aws:s3:::corp-ml-data",
        ],
    }


def test_policies_deny_sharing_models_and_say_what_iam_cannot() -> None:
    from secure_comprehend.policy.iam import deny_policies

    result = deny_policies(models_posture().model_copy(update={"s3": S3}))
    sids = [s["Sid"] for d in result.documents for s in d["Statement"]]
    assert "DenySharingModelsAcrossAccounts" in sids
    assert any("no condition key for S3 URIs" in n for n in result.notes)
    shared = deny_policies(models_posture(allow_cross_account_policies=True))
    assert "DenySharingModelsAcrossAccounts" not in [
        s["Sid"] for d in shared.documents for s in d["Statement"]
    ]


def test_show_covers_the_new_sections(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    from secure_comprehend.cli import main

    path = tmp_path / "p.toml"
    path.write_text(
        '[s3]\nallowed_buckets = ["corp-ml-*"]\n[models]\nverify = true\n'
        f'[iam]\ndata_access_roles = ["{ROLES[0]}"]\n'
    )
    assert main(["show", "--config", str(path), "--region", REGION]) == 0
    text = capsys.readouterr().out
    assert "[s3]" in text and "allowed_buckets = ['corp-ml-*']" in text and "verify = True" in text


# What a third stranger found.


@pytest.mark.usefixtures("moto")
def test_a_job_on_a_flywheel_is_judged_by_its_active_model() -> None:
    bad = train("bad")  # no VPC, no keys
    plain = boto3.client("comprehend", region_name=REGION)
    flywheel = plain.create_flywheel(
        FlywheelName="fw",
        ActiveModelArn=bad,
        DataAccessRoleArn=ROLES[0],
        DataLakeS3Uri="s3://corp-ml-data/lake/",
    )["FlywheelArn"]
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture()))
    with pytest.raises(sc.PostureViolation, match="the flywheel's active model"):
        client.start_document_classification_job(
            FlywheelArn=flywheel, InputDataConfig=IN, OutputDataConfig=OUT
        )
    foreign = flywheel.replace(ACCOUNT, "444455556666")
    with pytest.raises(sc.PostureViolation, match="account 444455556666"):
        client.create_endpoint(EndpointName="e", FlywheelArn=foreign, DesiredInferenceUnits=1)


@pytest.mark.usefixtures("moto")
def test_a_model_swapped_in_after_build_is_judged_at_the_final_check() -> None:
    import json as _json

    good, bad = train("good", **COMPLIANT), train("bad")
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture()))

    def swap(params: dict[str, Any], **_: Any) -> None:
        body = _json.loads(params["body"])
        params["body"] = _json.dumps({**body, "DocumentClassifierArn": bad}).encode()

    client.meta.events.register("before-call.comprehend.StartDocumentClassificationJob", swap)
    with pytest.raises(sc.PostureViolation, match="VpcConfig: not recorded"):
        classify(client, good)
    assert (
        client.list_document_classification_jobs()["DocumentClassificationJobPropertiesList"] == []
    )


@pytest.mark.usefixtures("moto")
def test_a_model_swapped_in_after_build_is_logged_in_audit_mode(
    sc_logs: pytest.LogCaptureFixture,
) -> None:
    import json as _json

    good, bad = train("good", **COMPLIANT), train("bad")
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture("audit")))

    def swap(params: dict[str, Any], **_: Any) -> None:
        body = _json.loads(params["body"])
        params["body"] = _json.dumps({**body, "DocumentClassifierArn": bad}).encode()

    client.meta.events.register("before-call.comprehend.StartDocumentClassificationJob", swap)
    classify(client, good)
    assert any(
        r.levelno == logging.WARNING and "VpcConfig: not recorded" in r.getMessage()
        for r in sc_logs.records
    )


@pytest.mark.usefixtures("moto")
def test_a_model_trained_again_under_its_arn_is_seen_after_the_ttl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from secure_comprehend.guard import provenance as _provenance

    good = train("again", **COMPLIANT)
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture()))
    classify(client, good)
    plain = boto3.client("comprehend", region_name=REGION)
    plain.delete_document_classifier(DocumentClassifierArn=f"{good}/None")
    assert train("again") == good  # the same ARN, trained outside the posture
    classify(client, good)  # within the TTL: the cached answer holds
    later = _provenance.time.monotonic() + 301
    monkeypatch.setattr(_provenance.time, "monotonic", lambda: later)
    with pytest.raises(sc.PostureViolation, match="not recorded"):
        classify(client, good)


def test_members_the_walk_cannot_follow_are_refused(
    modified_session: Any,
) -> None:
    def grow(document: dict[str, Any]) -> None:
        shapes = document["shapes"]
        shapes["S3UriList"] = {"type": "list", "member": {"shape": "S3Uri"}}
        shapes["ConfigMap"] = {
            "type": "map",
            "key": {"shape": "String"},
            "value": {"shape": "InputDataConfig"},
        }
        shapes["Nested"] = {
            "type": "structure",
            "members": {"ModelArn": {"shape": "ComprehendModelArn"}},
        }
        members = shapes["StartTopicsDetectionJobRequest"]["members"]
        members["ExtraInputs"] = {"shape": "S3UriList"}
        members["MoreInputs"] = {"shape": "ConfigMap"}
        members["Base"] = {"shape": "Nested"}

    session = modified_session(grow)
    from secure_comprehend.decision.operations import operations_for

    loader = session._session.get_component("data_loader")
    spec = operations_for(session._session.get_service_model("comprehend"), loader).specs[
        "StartTopicsDetectionJob"
    ]
    assert "ExtraInputs[]" in [m.dotted for m in spec.members if m.kind == "s3"]
    assert "MoreInputs{}.S3Uri" in spec.unknown_s3
    recorder = __import__("conftest").Recorder()
    client = __import__("conftest").recorded_client(make_posture(s3=S3), recorder, session)
    with pytest.raises(sc.PostureViolation) as info:
        client.start_topics_detection_job(
            InputDataConfig=IN, OutputDataConfig=OUT, ExtraInputs=["s3://evil/x"]
        )
    paths = [v.path for v in info.value.violations]
    assert "ExtraInputs[0]" in paths and "MoreInputs{}.S3Uri" in paths
    assert recorder.bodies == []


def test_the_role_s_s3_access_is_limited_to_its_own_account() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess"
    posture = sc.Posture(iam={"data_access_roles": [role]}, s3=S3)
    statements = sc.iam_policy(posture, kind="data-access-role")[role]["PermissionsPolicy"][
        "Statement"
    ]
    s3 = [s for s in statements if str(s["Action"]).startswith(("s3:", "['s3:"))]
    assert len(s3) == 2
    assert all(s["Condition"] == {"StringEquals": {"s3:ResourceAccount": ACCOUNT}} for s in s3)


def test_an_endpoint_or_imported_model_is_judged_by_what_it_points_at() -> None:
    from secure_comprehend.account.scan import _listings
    from secure_comprehend.decision.judge import judge_resource

    made = {listing.area: listing.made_by for listing in _listings()}
    assert made["endpoints"] == ("CreateEndpoint", "UpdateEndpoint")
    assert "ImportModel" in made["document classifiers"]
    effective = models_posture().effective(REGION)
    foreign = f"arn:aws:comprehend:{REGION}:999999999999:document-classifier/x"
    assert judge_resource("UpdateEndpoint", {"DesiredModelArn": foreign}, effective)
    assert judge_resource("ImportModel", {"SourceModelArn": foreign}, effective)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_posture_of_only_s3_enforces_it_in_every_region(region: str) -> None:
    posture = sc.Posture(s3={"allowed_buckets": ["corp-ml-*"]})
    params = {"InputDataConfig": {"S3Uri": "s3://elsewhere/in/"}}
    decision = sc.evaluate("StartEntitiesDetectionJob", params, posture, region=region)
    assert [v.path for v in decision.violations] == ["InputDataConfig.S3Uri"]
    client = sc.client(region_name=region, posture=posture)  # enforce mode: not refused
    with pytest.raises(sc.PostureViolation, match=r"InputDataConfig\.S3Uri"):
        client.start_entities_detection_job(
            InputDataConfig={"S3Uri": "s3://elsewhere/in/"},
            OutputDataConfig={"S3Uri": "s3://corp-ml-out/"},
            DataAccessRoleArn="arn:aws:iam::111122223333:role/R",
            LanguageCode="en",
        )


def test_a_posture_of_only_models_enforces_it_in_every_region() -> None:
    posture = sc.Posture(models={"allowed_accounts": ["111122223333"]})
    foreign = "arn:aws:comprehend:eu-west-1:444455556666:document-classifier/x"
    params = {"EndpointName": "e", "ModelArn": foreign, "DesiredInferenceUnits": 1}
    decision = sc.evaluate("CreateEndpoint", params, posture, region="eu-west-1")
    assert [v.path for v in decision.violations] == ["ModelArn"]


def _flywheel(plain: Any, name: str, **extra: Any) -> str:
    return str(
        plain.create_flywheel(
            FlywheelName=name,
            DataAccessRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ComprehendDataAccess",
            DataLakeS3Uri="s3://corp-ml-data/lake/",
            **extra,
        )["FlywheelArn"]
    )


@pytest.mark.usefixtures("moto")
def test_a_flywheel_iteration_is_judged_by_the_flywheel_s_account() -> None:
    """Without verify: the flywheel named must be of an allowed account."""
    posture = models_posture(verify=False)
    foreign = f"arn:aws:comprehend:{REGION}:444455556666:flywheel/fw"
    decision = sc.evaluate(
        "StartFlywheelIteration", {"FlywheelArn": foreign}, posture, region=REGION
    )
    assert [(v.path, v.value) for v in decision.violations] == [("FlywheelArn", foreign)]
    client = sc.client(region_name=REGION, posture=posture)
    with pytest.raises(sc.PostureViolation, match="account 444455556666"):
        client.start_flywheel_iteration(FlywheelArn=foreign)


@pytest.mark.usefixtures("moto")
def test_a_flywheel_iteration_is_judged_by_the_flywheel_s_security_and_active_model() -> None:
    """With verify: the iteration trains under the flywheel's own data security
    configuration and role, and from its active model: each is judged."""
    plain = boto3.client("comprehend", region_name=REGION)
    secure = {
        "DataSecurityConfig": {
            "ModelKmsKeyId": KEYS["model_key"],
            "VolumeKmsKeyId": KEYS["volume_key"],
            "DataLakeKmsKeyId": KEYS["data_lake_key"],
            "VpcConfig": {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)},
        },
        "TaskConfig": {
            "LanguageCode": "en",
            "DocumentClassificationConfig": {"Mode": "MULTI_CLASS"},
        },
    }
    first = _flywheel(plain, "first", **secure)  # no active model yet: its first iteration
    open_network = {**secure, "DataSecurityConfig": {"VolumeKmsKeyId": OTHER_KEY}}
    unsafe = _flywheel(plain, "unsafe", **open_network)
    untrusted_model = _flywheel(plain, "model", ActiveModelArn=train("bad"), **secure)
    client = moto_arns(sc.client(region_name=REGION, posture=models_posture()))
    assert client.start_flywheel_iteration(FlywheelArn=first)["FlywheelIterationId"]
    with pytest.raises(sc.PostureViolation) as refused:
        client.start_flywheel_iteration(FlywheelArn=unsafe)
    assert "DataSecurityConfig.VolumeKmsKeyId" in str(refused.value)
    assert "DataSecurityConfig.VpcConfig: not recorded" in str(refused.value)
    with pytest.raises(sc.PostureViolation, match="the flywheel's active model"):
        client.start_flywheel_iteration(FlywheelArn=untrusted_model)


@pytest.mark.usefixtures("moto")
def test_a_flywheel_is_described_at_every_iteration_and_named_in_full() -> None:
    """A flywheel changes in place (UpdateFlywheel; here deleted and made again under its
    ARN): the next iteration sees it, and the refusal names the value and what is approved."""
    plain = boto3.client("comprehend", region_name=REGION)
    security = {
        "ModelKmsKeyId": KEYS["model_key"],
        "VolumeKmsKeyId": KEYS["volume_key"],
        "DataLakeKmsKeyId": KEYS["data_lake_key"],
        "VpcConfig": {"Subnets": list(SUBNETS), "SecurityGroupIds": list(GROUPS)},
    }
    task = {"LanguageCode": "en", "DocumentClassificationConfig": {"Mode": "MULTI_CLASS"}}
    arn = _flywheel(plain, "fw", DataSecurityConfig=security, TaskConfig=task)
    client = sc.client(region_name=REGION, posture=models_posture())
    client.start_flywheel_iteration(FlywheelArn=arn)
    plain.delete_flywheel(FlywheelArn=arn)
    again = _flywheel(
        plain, "fw", DataSecurityConfig={**security, "VolumeKmsKeyId": OTHER_KEY}, TaskConfig=task
    )
    assert again == arn
    with pytest.raises(sc.PostureViolation) as refused:
        client.start_flywheel_iteration(FlywheelArn=arn)
    assert f"DataSecurityConfig.VolumeKmsKeyId '{OTHER_KEY}': KMS key not approved" in str(
        refused.value
    )
    assert f"approved: {KEYS['volume_key']}" in str(refused.value)
