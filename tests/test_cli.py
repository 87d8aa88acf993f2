"""The secure-comprehend command: exit codes and JSON output."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    err = capsys.readouterr().err
    assert err.startswith("secure-comprehend: error: the demo needs moto")
    assert "pip install 'moto[comprehend]>=5.1' (the 'demo' extra" in err


# Environment failures are not verdicts: exit 2, one line, no traceback.


def cli(
    *argv: str, env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """The installed command in a fresh process, as a person at a terminal runs it."""
    return subprocess.run(
        [sys.executable, "-m", "secure_comprehend", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
        **kwargs,
    )


def assert_one_error_line(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("secure-comprehend: error: ")
    assert words in lines[0]
    assert "Traceback" not in result.stderr


def test_doctor_without_credentials_exits_2_with_one_line() -> None:
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}
    env["AWS_EC2_METADATA_DISABLED"] = "true"  # no instance role lookup on this machine
    result = cli("doctor", *CONFIG, "--region", "us-east-1", env=env)
    assert_one_error_line(result, "no AWS credentials")


def test_doctor_with_an_unreachable_endpoint_exits_2_with_one_line() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = cli("doctor", *CONFIG, "--region", "us-east-1", env=env)
    assert_one_error_line(result, "cannot reach AWS")


def test_doctor_json_error_object_on_stdout() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1"}
    result = cli("doctor", *CONFIG, "--region", "us-east-1", "--json", env=env)
    assert result.returncode == 2
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "EndpointConnectionError" and "cannot reach AWS" in error["message"]


def test_an_aws_error_other_than_access_denied_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore
    from moto import mock_aws

    def fail_identity(session: Any) -> None:
        def answer(**_: Any) -> Any:
            from botocore.awsrequest import AWSResponse

            error = {"Code": "InvalidClientTokenId", "Message": "The token is invalid"}
            return AWSResponse("", 403, {}, None), {"Error": error, "ResponseMetadata": {}}

        session.register("before-call.sts.GetCallerIdentity", answer)

    botocore.register_initializer(fail_identity)
    try:
        with mock_aws():
            assert main(["doctor", *CONFIG, "--region", "us-east-1"]) == 2
    finally:
        botocore.unregister_initializer(fail_identity)
    err = capsys.readouterr().err
    assert err.startswith("secure-comprehend: error: AWS answered GetCallerIdentity with ")
    assert "InvalidClientTokenId" in err


def test_check_on_a_deeply_nested_request_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"VpcConfig": ' + "[" * 100_000 + "]" * 100_000 + "}")
    result = cli("check", "CreateEntityRecognizer", str(path), *CONFIG, "--region", "us-east-1")
    assert_one_error_line(result, "nested too deeply")


def test_a_closed_pipe_is_quiet() -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written, as with `| head -1`
    try:
        result = subprocess.run(
            [sys.executable, "-m", "secure_comprehend", "show", *CONFIG],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 141


def test_version_and_help() -> None:
    from secure_comprehend.cli import _parser

    assert cli("--version").stdout.startswith("secure-comprehend ")
    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == {
        *("show", "check", "policy", "doctor", "scan", "demo"),
        *("init", "why", "publish"),
    }
    for name, sub in commands.choices.items():
        text = sub.format_help()
        assert "example:\n  " in text and "exit codes:" in text, name
        assert sub.description and len(sub.description) > 60, name
        undocumented = [a.dest for a in sub._actions if not a.help]
        assert undocumented == [], (name, undocumented)


def test_show_without_a_region_lists_the_regions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", *CONFIG]) == 0
    text = capsys.readouterr().out
    assert text.startswith("posture (top level): mode enforce")
    assert "regions with their own sections: eu-west-1 (vpc, kms)" in text
    assert main(["show", *CONFIG, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["region"] is None and report["regions"] == {"eu-west-1": ["vpc", "kms"]}


def test_show_credits_a_region_section_and_a_section_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "SECURE_COMPREHEND_IAM", '{"data_access_roles": ["arn:aws:iam::111122223333:role/R"]}'
    )
    assert main(["show", *CONFIG, "--region", "eu-west-1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["iam"]["data_access_roles"]["source"] == "environment variable SECURE_COMPREHEND_IAM"
    )
    assert report["kms"]["volume_key"]["section"] == "regions.eu-west-1.kms"
    assert report["kms"]["also_allowed"]["source"] == "not set"  # replaced, not inherited


def test_cli_finds_the_region_as_boto3_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request = write_request(tmp_path, RECOGNIZER)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # boto3 ignores it: so does the CLI
    assert main(["check", "CreateEntityRecognizer", request, *CONFIG]) == 2
    assert "no region" in capsys.readouterr().err
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["check", "CreateEntityRecognizer", request, *CONFIG, "--json"]) == 0
    assert ":eu-west-1:" in json.loads(capsys.readouterr().out)["request"]["VolumeKmsKeyId"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        (
            {**RECOGNIZER, "VpcConfg": {"Subnets": ["subnet-0123456789abcdef0"]}},
            'Unknown parameter in input: "VpcConfg"',
        ),
        (
            {"RecognizerName": "r", "LanguageCode": "en"},
            'Missing required parameter in input: "InputDataConfig"',
        ),
    ],
)
def test_check_reports_what_botocore_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], params: dict[str, Any], error: str
) -> None:
    request = write_request(tmp_path, params)
    argv = ["check", "CreateEntityRecognizer", request, *CONFIG, "--region", "us-east-1"]
    assert main(argv) == 1
    text = capsys.readouterr().out
    assert error in text and "request (not sent):" in text
    assert main([*argv, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["allowed"] is False and report["sent"] is False
    assert any(error in line for line in report["botocore_errors"])


def test_check_refused_request_is_not_shown_as_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = write_request(tmp_path, {**RECOGNIZER, "VpcConfig": {"Subnets": [OTHER_SUBNET]}})
    argv = ["check", "CreateEntityRecognizer", request, *CONFIG, "--region", "us-east-1"]
    assert main(argv) == 1
    text = capsys.readouterr().out
    assert "request (not sent):" in text and "as it would be sent" not in text
    assert main([*argv, "--json"]) == 1
    [violation] = json.loads(capsys.readouterr().out)["violations"]
    assert set(violation) == {"path", "value", "reason", "approved"}


def test_check_json_is_always_valid_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nan.json"
    path.write_text('{"DesiredInferenceUnits": NaN}')
    assert (
        main(["check", "CreateEndpoint", str(path), *CONFIG, "--region", "us-east-1", "--json"])
        == 2
    )
    out = capsys.readouterr().out
    assert "NaN is not JSON" in json.loads(out)["error"]["message"]


def test_a_request_file_that_is_not_utf8_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"RecognizerName": "r\xe9"}')
    assert (
        main(["check", "CreateEntityRecognizer", str(path), *CONFIG, "--region", "us-east-1"]) == 2
    )
    assert f"request file {path} is not UTF-8" in capsys.readouterr().err


def test_a_missing_config_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--config", "missing.toml"]) == 2
    assert "'missing.toml' (from --config) does not exist" in capsys.readouterr().err


def test_the_module_says_what_it_is() -> None:
    import secure_comprehend.cli as module

    assert module.__doc__ is not None
    assert module.__doc__.split("\n\n")[0] == (
        "The ``secure-comprehend`` command: show, check, policy, doctor, scan, demo, init, why,\n"
        "publish."
    )


def test_check_in_audit_mode_does_not_contradict_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    request = write_request(tmp_path, {"VpcConfig": {"Subnets": [OTHER_SUBNET]}})
    assert main(["check", "CreateEntityRecognizer", request, *CONFIG, "--region", "us-east-1"]) == 1
    text = capsys.readouterr().out
    assert "botocore would refuse it: not sent" in text and "would be sent" not in text


def test_policy_out_a_directory_writes_inside_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", *CONFIG, "--out", str(tmp_path)]) == 0
    assert "wrote 2 identity document(s)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["identity-1.json", "identity-2.json"]
    assert sorted(p.name for p in tmp_path.parent.glob(f"{tmp_path.name}-*")) == []


def test_closed_stdout_is_an_error_not_silence() -> None:
    result = subprocess.run(
        f"{sys.executable} -m secure_comprehend policy --config {EXAMPLE_CONFIG} >&-",
        shell=True,
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "standard output is closed" in result.stderr


def test_a_request_file_with_a_repeated_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "twice.json"
    path.write_text('{"VpcConfig": {"Subnets": ["subnet-0123456789abcdef0"]}, "VpcConfig": {}}')
    assert (
        main(["check", "CreateEntityRecognizer", str(path), *CONFIG, "--region", "us-east-1"]) == 2
    )
    assert "duplicate keys ['VpcConfig']" in capsys.readouterr().err


def test_a_full_disk_is_a_failure_to_run() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "secure_comprehend", "show", *CONFIG],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == "secure-comprehend: error: No space left on device"


def test_json_only_where_it_means_something() -> None:
    from secure_comprehend.cli import _parser

    with pytest.raises(SystemExit):  # policy has --json: its documents are JSON already
        _parser().parse_args(["demo", "--json"])


def test_no_posture_points_at_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show"]) == 2
    assert "or pass --config FILE" in capsys.readouterr().err
