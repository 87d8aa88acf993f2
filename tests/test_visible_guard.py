"""A visible guard: which posture protects a client, the library's version, its logger
from import, and a refusal shown to a person once."""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import GROUPS, IO, OTHER_SUBNET, REGION, make_posture
from fleet_support import PARAMETER, Clock, posture_toml

import secure_comprehend as sc


def test_guard_of_says_whether_and_how_a_client_is_protected() -> None:
    plain = boto3.client("comprehend", region_name=REGION)
    assert sc.guard_of(plain) is None
    assert sc.guard_of("not a client") is None and sc.guard_of(None) is None
    posture = make_posture("audit")
    guarded = sc.client(region_name=REGION, posture=posture)
    status = sc.guard_of(guarded)
    assert status is not None
    assert (status.mode, status.region, status.posture, status.origin) == (
        "audit",
        REGION,
        posture,
        None,
    )
    assert repr(status) == f"<guarded: audit mode in {REGION} built in code>"
    html = status._repr_html_()
    assert "<table" in html and "audit" in html and "built in code" in html
    sc.protect(guarded, make_posture("enforce"))  # protecting again: the new one stands
    assert sc.guard_of(guarded).mode == "enforce"  # type: ignore[union-attr]


def test_guard_of_names_a_fleet_source_and_its_version(ssm: Any, clock: Clock) -> None:
    guarded = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    status = sc.guard_of(guarded)
    assert status is not None and status.origin is not None
    assert (status.origin.source, status.origin.version) == (f"ssm:{PARAMETER}", "1")
    assert f"ssm:{PARAMETER}" in repr(status)


def test_the_version_is_the_installed_distribution_s() -> None:
    assert sc.__version__ == version("secure-comprehend")


def test_the_logger_exists_from_import_for_configuration_made_at_module_top() -> None:
    """Powertools' copy_config_to_registered_loggers() at a handler module's top copies its
    configuration to the loggers that exist then: the library's must be one of them."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    [recipe] = re.findall(
        r"<!-- readme-subprocess: powertools -->\n```python\n(.*?)```", readme, re.S
    )
    script = recipe + (  # the README's recipe, in a process of its own: it configures logging
        "import logging\n"
        "handlers = logging.getLogger('secure_comprehend').handlers\n"
        "print(type(handlers[0]).__name__, type(handlers[0].formatter).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["StreamHandler", "LambdaPowertoolsFormatter"]


REFUSED = f"""
import boto3, secure_comprehend as sc
client = sc.client(region_name="{REGION}", posture=sc.Posture(
    iam={{"data_access_roles": ["arn:aws:iam::111122223333:role/ComprehendDataAccess"]}}))
try:
    client.start_entities_detection_job(
        InputDataConfig={{"S3Uri": "s3://in/"}}, OutputDataConfig={{"S3Uri": "s3://out/"}},
        LanguageCode="en", DataAccessRoleArn="arn:aws:iam::111122223333:role/Other")
except sc.PostureViolation as exc:
    print("caught:", exc.violations[0].path)
"""


def test_a_refusal_is_shown_to_a_person_once(tmp_path: Path) -> None:
    """Raised, it is not also logged at WARNING (Python's last-resort handler would print
    it above the exception); configured handlers still get it, at INFO."""
    done = subprocess.run(
        [sys.executable, "-c", REFUSED],
        capture_output=True,
        text=True,
        env={
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
            "PATH": "",
            "HOME": str(tmp_path),
        },
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "caught: DataAccessRoleArn\n", "")


@pytest.mark.usefixtures("moto")
def test_a_refusal_reaches_configured_handlers_at_info(sc_logs: pytest.LogCaptureFixture) -> None:
    sc_logs.set_level(logging.INFO, logger="secure_comprehend")
    client = sc.client(region_name=REGION, posture=make_posture())
    outside = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
    with pytest.raises(sc.PostureViolation):
        client.start_entities_detection_job(**IO, VpcConfig=outside)
    [record] = [r for r in sc_logs.records if r.getMessage().startswith("refused")]
    assert (record.levelno, record.mode, record.violations) == (  # type: ignore[attr-defined]
        logging.INFO,
        "enforce",
        ["VpcConfig.Subnets[0]"],
    )


def test_guard_of_a_client_whose_fleet_source_is_down_still_names_it(
    ssm: Any, clock: Clock
) -> None:
    ssm.put_parameter(Name=PARAMETER, Value=posture_toml(mode="observe"), Overwrite=True)
    guarded = sc.client(posture=sc.load_posture(f"ssm:{PARAMETER}"))
    ssm.delete_parameter(Name=PARAMETER)
    clock.now += 601
    with contextlib.suppress(Exception):
        guarded.start_entities_detection_job(**IO)
    status = sc.guard_of(guarded)
    assert status is not None and status.posture is None and status.problem
    assert status.origin is not None and status.origin.source == f"ssm:{PARAMETER}"
    assert "would be refused (not in this mode)" in status._repr_html_()
