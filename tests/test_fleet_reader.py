"""The IAM policy that lets a reader read its fleet posture, and nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import REGION
from fleet_support import (
    PARAMETER,
)

READER_CASES = [
    (
        f"ssm:{PARAMETER}",
        ["ssm:GetParameter"],
        f"arn:aws:ssm:us-east-1:*:parameter{PARAMETER}",
    ),
    (
        f"ssm:{PARAMETER}:3",  # a version selector reads the same parameter
        ["ssm:GetParameter"],
        f"arn:aws:ssm:us-east-1:*:parameter{PARAMETER}",
    ),
    (
        "ssm:arn:aws-cn:ssm:cn-north-1:123456789012:parameter/org/posture",
        ["ssm:GetParameter"],
        "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/org/posture",
    ),
    (
        "secretsmanager:comprehend/posture",
        ["secretsmanager:GetSecretValue"],
        "arn:aws:secretsmanager:us-east-1:*:secret:comprehend/posture-??????",
    ),
    (
        "appconfig:abc1234/def5678/ghi9012",
        ["appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"],
        "arn:aws:appconfig:us-east-1:*:application/abc1234"
        "/environment/def5678/configuration/ghi9012",
    ),
    (
        "s3://org-postures/comprehend.toml",
        ["s3:GetObject"],
        "arn:aws:s3:::org-postures/comprehend.toml",
    ),
    (
        "s3://org-postures/comprehend.toml?owner=444455556666",
        ["s3:GetObject"],
        "arn:aws:s3:::org-postures/comprehend.toml",
    ),
]


# the account each document must be in: a name's and a bucket's is the reader's own,
# unless the bucket's owner is named; an ARN names its account
OWNERS = {
    "s3://org-postures/comprehend.toml?owner=444455556666": "444455556666",
    "s3://org-postures/comprehend.toml": "${aws:PrincipalAccount}",
}


@pytest.mark.parametrize(("source", "actions", "resource"), READER_CASES)
def test_the_reader_policy_reads_the_one_document(
    source: str, actions: list[str], resource: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import parliament

    from secure_comprehend.cli import main

    assert main(["policy", "--kind", "posture-reader", "--config", source, "--region", REGION]) == 0
    out = capsys.readouterr()
    document = json.loads(out.out)
    read, *decrypt = document["Statement"]
    mine = ":*:" in resource and not source.startswith("appconfig")
    owner = OWNERS.get(source, "${aws:PrincipalAccount}" if mine else None)
    own = {"StringEquals": {"aws:ResourceAccount": owner}} if owner else None
    assert read.pop("Condition", None) == own
    assert read == {
        "Sid": "ReadPosture",
        "Effect": "Allow",
        "Action": actions,
        "Resource": resource,
    }
    for statement in decrypt:  # only through the store, only for this document
        assert statement["Action"] == "kms:Decrypt"
        context = {k: v for c in statement["Condition"].values() for k, v in c.items()}
        assert context["kms:ViaService"].startswith(source.split(":")[0].rstrip("/"))
        assert resource in json.dumps(context) or resource.rsplit(":", 1)[0] in json.dumps(context)
    # nothing that writes, lists or reads anything else
    assert all(s["Effect"] == "Allow" for s in document["Statement"])
    assert not [a for s in document["Statement"] for a in [s["Action"]] if "*" in str(a)]
    findings = parliament.analyze_policy_string(out.out).findings
    assert [(f.issue, f.detail) for f in findings] == []


def test_the_reader_policy_needs_a_fleet_source(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    assert main(["policy", "--kind", "posture-reader", "--config", "posture.toml"]) == 2
    assert "needs a fleet source" in capsys.readouterr().err


def test_the_reader_policy_reads_the_config_variable_without_fetching(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", "secretsmanager:posture")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # a fetch would fail
    assert main(["policy", "--kind", "posture-reader"]) == 0
    document = json.loads(capsys.readouterr().out)
    # no --region: the copy of every region, under the same name
    assert document["Statement"][0]["Resource"].startswith("arn:aws:secretsmanager:*:")
    via = document["Statement"][1]["Condition"]["StringLike"]["kms:ViaService"]
    assert via == "secretsmanager.*.amazonaws.com"


def test_the_reader_policy_reads_wildcard_characters_literally(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from secure_comprehend.cli import main

    main(["policy", "--kind", "posture-reader", "--config", "s3://org-postures/k*ey?$"])
    resource = json.loads(capsys.readouterr().out)["Statement"][0]["Resource"]
    assert resource == "arn:aws:s3:::org-postures/k${*}ey${?}${$}"
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:posture"
    main(["policy", "--kind", "posture-reader", "--config", f"secretsmanager:{arn}"])
    assert json.loads(capsys.readouterr().out)["Statement"][0]["Resource"] == f"{arn}-??????"


def test_the_reader_policy_reads_the_config_variable_in_any_case(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    monkeypatch.setenv("secure_comprehend_config", f"ssm:{PARAMETER}")  # as load_posture reads it
    assert main(["policy", "--kind", "posture-reader", "--region", REGION]) == 0
    assert PARAMETER in json.loads(capsys.readouterr().out)["Statement"][0]["Resource"]
