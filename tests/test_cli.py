"""The secure-comprehend command: exit codes and JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLE_CONFIG, KEYS, OTHER_SUBNET

from secure_comprehend.cli import main

CONFIG = ["--config", str(EXAMPLE_CONFIG)]


def write_request(tmp_path: Path, params: dict[str, object]) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(params))
    return str(path)


def test_check_compliant_request_exits_0_with_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = write_request(
        tmp_path,
        {
            "InputDataConfig": {"S3Uri": "s3://i/"},
            "OutputDataConfig": {"S3Uri": "s3://o/"},
            "LanguageCode": "en",
        },
    )
    code = main(
        [
            "check",
            "start_entities_detection_job",
            request,
            *CONFIG,
            "--region",
            "us-east-1",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["operation"] == "StartEntitiesDetectionJob"
    assert report["allowed"] is True
    assert set(report["injected"]) == {
        "OutputDataConfig.KmsKeyId",
        "DataAccessRoleArn",
        "VolumeKmsKeyId",
        "VpcConfig",
    }
    assert report["request"]["OutputDataConfig"]["KmsKeyId"].startswith("arn:aws:kms:us-east-1:")


def test_check_refused_request_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = write_request(tmp_path, {"VpcConfig": {"Subnets": [OTHER_SUBNET]}})
    code = main(["check", "CreateEntityRecognizer", request, *CONFIG, "--region", "us-east-1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "refused" in out and OTHER_SUBNET in out


RECOGNIZER = {
    "RecognizerName": "r",
    "LanguageCode": "en",
    "InputDataConfig": {"EntityTypes": [{"Type": "PERSON"}], "Documents": {"S3Uri": "s3://d/"}},
}


def test_check_uses_the_region_sections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    request = write_request(tmp_path, RECOGNIZER)
    assert (
        main(
            ["check", "CreateEntityRecognizer", request, *CONFIG, "--region", "eu-west-1", "--json"]
        )
        == 0
    )
    assert ":eu-west-1:" in json.loads(capsys.readouterr().out)["request"]["VolumeKmsKeyId"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["check", "NoSuchOperation", "{req}", *CONFIG, "--region", "us-east-1"],
            "unknown Comprehend operation",
        ),
        (
            [
                "check",
                "CreateEndpoint",
                "{req}",
                "--config",
                "missing.toml",
                "--region",
                "us-east-1",
            ],
            "does not exist",
        ),
        (["check", "CreateEndpoint", "{req}", *CONFIG, "--region", "ap-south-1"], "ap-south-1"),
        (["check", "CreateEndpoint", "{req}", *CONFIG], "no region"),
        (["show", "--region", "us-east-1"], "no posture found"),
    ],
)
def test_usage_and_posture_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    request = write_request(tmp_path, {})
    assert main([a.replace("{req}", request) for a in argv]) == 2
    assert message in capsys.readouterr().err


def test_check_rejects_a_request_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    path.write_text("[1]")
    assert main(["check", "CreateEndpoint", str(path), *CONFIG, "--region", "us-east-1"]) == 2
    assert "JSON object" in capsys.readouterr().err


def test_show_reports_values_and_sources(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    assert main(["show", *CONFIG, "--region", "eu-west-1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == {
        "value": "audit",
        "source": "environment variable SECURE_COMPREHEND_MODE",
    }
    assert report["vpc"]["subnets"] == {
        "value": ["subnet-0fedcba9876543210"],
        "source": f"file {EXAMPLE_CONFIG}",
        "section": "regions.eu-west-1.vpc",
    }
    assert report["iam"]["data_access_roles"]["source"] == f"file {EXAMPLE_CONFIG}"
    assert main(["show", *CONFIG, "--region", "us-east-1"]) == 0
    text = capsys.readouterr().out
    assert KEYS["volume_key"].split("/")[0] in text and "from file" in text


def test_demo_runs_as_a_module() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run(
        [sys.executable, "-m", "secure_comprehend", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "injected:     OutputDataConfig.KmsKeyId" in result.stdout
    assert "refused:" in result.stdout and "nothing reached it" in result.stdout


def test_policy_prints_documents_and_notes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", *CONFIG, "--kind", "scp"]) == 0
    captured = capsys.readouterr()
    documents = json.loads(captured.out)
    assert all(doc["Version"] == "2012-10-17" for doc in documents)
    assert f"{len(documents)} scp document(s)" in captured.err
    assert "note: AWS does not document" in captured.err


def test_policy_out_writes_one_file_per_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "policy.json"
    assert main(["policy", *CONFIG, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    written = sorted(tmp_path.glob("policy*.json"))
    assert len(written) == 2  # the example posture needs two identity documents
    assert [p.name for p in written] == ["policy-1.json", "policy-2.json"]
    assert "wrote 2 identity document(s) (the statements exceed the 6,144-character" in err
    small = tmp_path / "small.toml"
    small.write_text('[iam]\ndata_access_roles = ["arn:aws:iam::111122223333:role/R"]\n')
    assert main(["policy", "--config", str(small), "--out", str(out)]) == 0
    assert "wrote 1 identity document(s) (it fits)" in capsys.readouterr().err
    assert json.loads(out.read_text())["Statement"][0]["Action"] == "iam:PassRole"


def test_demo_without_moto_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # import moto now raises ImportError
    assert main(["demo"]) == 2
    assert "pip install 'secure-comprehend[demo]'" in capsys.readouterr().err
