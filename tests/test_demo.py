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
