"""show, doctor and the demo say where a fleet posture came from."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import REGION
from fleet_support import (
    OTHER_SUBNETS,
    PARAMETER,
    posture_toml,
)


def test_show_says_source_version_and_when(ssm: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli import main

    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(OTHER_SUBNETS), Overwrite=True)
    assert main(["show", "--config", f"ssm:{PARAMETER}", "--region", REGION, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["origin"]["source"] == f"ssm:{PARAMETER}"
    assert report["origin"]["version"] == "2"
    assert report["origin"]["region"] == REGION
    assert report["origin"]["fetched_at"].endswith("+00:00")
    assert report["vpc"]["subnets"]["source"] == f"ssm:{PARAMETER} ({REGION}, version 2)"
    assert main(["show", "--config", f"ssm:{PARAMETER}"]) == 0
    assert f"loaded from ssm:{PARAMETER} in {REGION}, version 2, read at" in capsys.readouterr().out


def test_doctor_says_where_the_posture_came_from(
    ssm: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from secure_comprehend.cli import main

    main(["doctor", "--config", f"ssm:{PARAMETER}", "--region", REGION])
    assert f"posture loaded from ssm:{PARAMETER} in {REGION}, version 1" in capsys.readouterr().out
    main(["doctor", "--config", f"ssm:{PARAMETER}", "--region", REGION, "--json"])
    assert json.loads(capsys.readouterr().out)["origin"]["version"] == "1"


def test_a_file_posture_says_its_file(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli import main

    (tmp_path / "p.toml").write_text(posture_toml())
    assert main(["show", "--config", str(tmp_path / "p.toml"), "--json"]) == 0
    origin = json.loads(capsys.readouterr().out)["origin"]
    assert origin["source"] == f"file {tmp_path / 'p.toml'}"
    assert origin["version"] is None


def test_show_with_a_misspelt_region_reads_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli import main

    assert main(["show", "--config", f"ssm:{PARAMETER}", "--region", "us-eest-1"]) == 2
    assert "--region: 'us-eest-1' is not an AWS region" in capsys.readouterr().err


def test_the_demo_takes_a_file_not_a_fleet_source(capsys: pytest.CaptureFixture[str]) -> None:
    from secure_comprehend.cli.demo import run

    assert run(f"ssm:{PARAMETER}") == 2
    assert "demo --config takes a posture file" in capsys.readouterr().err
