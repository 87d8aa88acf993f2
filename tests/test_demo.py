"""The demo works with any valid posture: each section alone, all of them, audit mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE_CONFIG, GROUPS, KEYS, ROLES, SUBNETS

from secure_comprehend.cli import main

SECTIONS = {
    "vpc": f"[vpc]\nsubnets = {list(SUBNETS)!r}\nsecurity_group_ids = {list(GROUPS)!r}\n",
    "kms": f'[kms]\nvolume_key = "{KEYS["volume_key"]}"\noutput_key = "{KEYS["output_key"]}"\n',
    "iam": f'[iam]\ndata_access_roles = ["{ROLES[0]}"]\n',
}


@pytest.mark.parametrize(
    ("sections", "member"),
    [(["vpc"], "VpcConfig"), (["kms"], "VolumeKmsKeyId"), (["iam"], "DataAccessRoleArn")],
)
def test_the_demo_runs_with_a_posture_of_one_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sections: list[str], member: str
) -> None:
    path = tmp_path / "posture.toml"
    path.write_text("".join(SECTIONS[s] for s in sections).replace("'", '"'))
    assert main(["demo", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"with an unapproved {member}" in out
    assert "refused:" in out and "nothing reached it" in out


def test_the_demo_with_the_example_posture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"posture: {EXAMPLE_CONFIG} (mode: enforce, from file {EXAMPLE_CONFIG})" in out
    assert "injected:     OutputDataConfig.KmsKeyId" in out


def test_the_demo_in_audit_mode_says_so(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    assert main(["demo", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "(mode: audit, from environment variable SECURE_COMPREHEND_MODE)" in out
    assert "audit mode: sent anyway and logged at WARNING" in out
    assert "WARNING audit mode, sent anyway: StartEntitiesDetectionJob" in out
    assert "NOT refused" not in out and "does not cover" not in out


def test_the_demo_ignores_the_machine_s_aws_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LocalStack's endpoint or a profile that does not exist never reach the demo."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_COMPREHEND", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    assert main(["demo", "--config", str(EXAMPLE_CONFIG)]) == 0
    assert "nothing reached it" in capsys.readouterr().out
    import os

    assert os.environ["AWS_PROFILE"] == "no-such-profile"  # restored


def test_the_demo_in_observe_mode_sends_as_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "observe")
    assert main(["demo", "--config", str(EXAMPLE_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "would inject: OutputDataConfig.KmsKeyId" in out
    assert "observe mode: sent anyway and logged at WARNING" in out
