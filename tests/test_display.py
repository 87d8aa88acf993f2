"""What people see: reprs, str and notebook HTML, public names in tracebacks, log records."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest
from conftest import EXAMPLE_CONFIG, OTHER_SUBNET, REGION, make_posture

import secure_comprehend as sc

HOSTILE = "<script>alert(1)</script>"


def refused_decision() -> sc.Decision:
    return sc.evaluate(
        "StartEntitiesDetectionJob",
        {"VpcConfig": {"Subnets": [OTHER_SUBNET]}, "DataAccessRoleArn": HOSTILE},
        make_posture(),
        region=REGION,
    )


def test_decision_repr_str_and_html() -> None:
    decision = refused_decision()
    assert repr(decision) == "<Decision StartEntitiesDetectionJob: 2 violation(s), filled in 2>"
    text = str(decision)
    assert text.startswith("StartEntitiesDetectionJob: not compliant")
    assert f"VpcConfig.Subnets[0]='{OTHER_SUBNET}': not approved" in text
    page = decision._repr_html_()
    assert "<table>" in page and OTHER_SUBNET in page and "filled in" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page


def test_violation_and_posture_violation() -> None:
    violation = next(v for v in refused_decision().violations if v.path.startswith("Vpc"))
    assert repr(violation).startswith("Violation(StartEntitiesDetectionJob VpcConfig.Subnets[0]")
    assert OTHER_SUBNET in violation._repr_html_()
    error = sc.PostureViolation("StartEntitiesDetectionJob", refused_decision().violations)
    assert repr(error) == "PostureViolation('StartEntitiesDetectionJob', 2 violation(s))"
    page = error._repr_html_()
    assert "nothing was sent" in page and HOSTILE not in page and "&lt;script&gt;" in page


def test_posture_repr_str_and_html_with_sources() -> None:
    posture = sc.load_posture(EXAMPLE_CONFIG)
    assert repr(posture) == (
        "Posture(mode='enforce', vpc=2 subnet(s)/1 group(s), kms=4 default key(s)+1 also "
        "allowed, iam=1 role(s), regions=eu-west-1)"
    )
    assert len(repr(posture)) < 200
    assert str(posture).startswith("posture (top level): mode enforce (from file ")
    page = posture._repr_html_()
    assert "regions.eu-west-1.kms.volume_key" in page and f"file {EXAMPLE_CONFIG}" in page
    in_code = make_posture(
        iam={"data_access_roles": [f"arn:aws:iam::111122223333:role/{HOSTILE[1:7]}"]}
    )
    assert "not set" not in in_code._repr_html_()  # built in code: credited to the arguments
    assert "Posture() arguments" in in_code._repr_html_()


def test_preflight_report_repr_str_and_html() -> None:
    from secure_comprehend.account.report import Check

    report = sc.PreflightReport(
        "us-east-1", "111122223333", [Check("kms", HOSTILE, "FAIL", "disabled")]
    )
    assert (
        repr(report)
        == "<PreflightReport us-east-1 account 111122223333: 0 PASS, 0 WARN, 1 FAIL, 0 SKIPPED>"
    )
    assert "FAIL     kms  <script>" in str(report)
    assert "&lt;script&gt;" in report._repr_html_() and HOSTILE not in report._repr_html_()


@pytest.mark.parametrize(
    "name", ["PostureError", "PostureViolation", "SecureComprehendError", "Violation"]
)
def test_errors_show_their_public_path(name: str) -> None:
    cls: Any = getattr(sc, name)
    assert f"{cls.__module__}.{cls.__qualname__}" == f"secure_comprehend.{name}"


def run_script(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


AUDITED = """
    import os
    os.environ.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    import boto3, secure_comprehend as sc
    posture = sc.load_posture({config!r}).model_copy(update={{"mode": "audit"}})
    {setup}
    from moto import mock_aws
    with mock_aws():
        client = sc.client(region_name="us-east-1", posture=posture)
        client.start_topics_detection_job(
            InputDataConfig={{"S3Uri": "s3://i/"}}, OutputDataConfig={{"S3Uri": "s3://o/"}},
            VpcConfig={{"Subnets": ["{subnet}"], "SecurityGroupIds": ["sg-0123456789abcdef0"]}},
        )
    print("sent")
"""


def test_audit_findings_reach_stderr_with_no_logging_configured() -> None:
    result = run_script(AUDITED.format(config=str(EXAMPLE_CONFIG), setup="", subnet=OTHER_SUBNET))
    assert result.stdout.strip() == "sent", result.stderr
    assert (
        "audit mode, sent anyway: StartTopicsDetectionJob: 1 posture violation(s)" in result.stderr
    )
    assert OTHER_SUBNET in result.stderr
    assert "filled in" not in result.stderr  # INFO stays quiet


def test_info_shows_what_was_filled_in_and_what_was_rewritten() -> None:
    setup = "import logging; logging.basicConfig(level=logging.INFO)"
    code = AUDITED.format(
        config=str(EXAMPLE_CONFIG), setup=setup, subnet="subnet-0123456789abcdef0"
    )
    code = code.replace(
        'VpcConfig={"Subnets"',
        'VolumeKmsKeyId="1234abcd-12ab-34cd-56ef-1234567890ab", VpcConfig={"Subnets"',
    )
    result = run_script(code)
    assert result.stdout.strip() == "sent", result.stderr
    assert (
        "StartTopicsDetectionJob: filled in OutputDataConfig.KmsKeyId, DataAccessRoleArn;"
        in result.stderr
    )
    assert "rewrote key IDs to ARNs at VolumeKmsKeyId" in result.stderr


def test_a_posture_built_in_code_shows_its_values_and_their_origin() -> None:
    posture = sc.Posture(
        mode="audit",
        vpc={
            "subnets": ["subnet-0123456789abcdef0"],
            "security_group_ids": ["sg-0123456789abcdef0"],
        },
    )
    text = str(posture)
    assert "mode audit (from Posture() arguments)" in text
    assert "  subnets = ['subnet-0123456789abcdef0']\n      from Posture() arguments" in text
    html = posture._repr_html_()
    assert "not set" not in html and html.count("<td>Posture() arguments</td>") == 3
    bare = sc.Posture(vpc=posture.vpc)
    assert "mode enforce (from default)" in str(bare)
