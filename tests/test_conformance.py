"""The cold path reads the environment and TOML files itself (no pydantic-settings import);
here pydantic-settings' own sources read the same inputs, and the values must agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLE_CONFIG, GROUPS, KEYS, ROLES, SUBNETS
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from secure_comprehend.posture.env import ENV_PREFIX, read_env
from secure_comprehend.posture.loading import _read_toml
from secure_comprehend.posture.model import Posture


class PostureSettings(BaseSettings, Posture):
    """Posture's fields, as pydantic-settings' sources see them."""

    model_config = SettingsConfigDict(
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        case_sensitive=False,
    )


ENVIRONMENTS: dict[str, dict[str, str]] = {
    "leaves": {
        "SECURE_COMPREHEND_MODE": "audit",
        "SECURE_COMPREHEND_VPC__SUBNETS": json.dumps(list(SUBNETS)),
        "SECURE_COMPREHEND_VPC__SECURITY_GROUP_IDS": json.dumps(list(GROUPS)),
        "SECURE_COMPREHEND_KMS__VOLUME_KEY": KEYS["volume_key"],
        "SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES": json.dumps([ROLES[0]]),
    },
    "sections as JSON, names in lower case": {
        "secure_comprehend_kms": json.dumps({"output_key": KEYS["output_key"]}),
        "secure_comprehend_s3": json.dumps({"allowed_buckets": ["corp-*"]}),
        "Secure_Comprehend_Models__Verify": "true",
    },
    "a region section": {
        "SECURE_COMPREHEND_REGIONS": json.dumps(
            {"eu-west-1": {"iam": {"data_access_roles": [ROLES[0]]}}}
        ),
    },
}


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_environment_reads_as_pydantic_settings_reads_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ENVIRONMENTS[name]:
        monkeypatch.setenv(var, ENVIRONMENTS[name][var])
    theirs = EnvSettingsSource(PostureSettings)()
    ours, _ = read_env()
    assert ours == theirs


@pytest.mark.parametrize(
    "text",
    [
        EXAMPLE_CONFIG.read_text(),
        'mode = "audit"\n[kms]\nalso_allowed = ["alias/a", "alias/b"]\n',
        "",
        '[regions."eu-west-1".vpc]\nsubnets = []\n',
    ],
    ids=["example", "lists", "empty", "quoted region"],
)
def test_a_file_reads_as_pydantic_settings_reads_it(text: str, tmp_path: Path) -> None:
    path = tmp_path / "posture.toml"
    path.write_text(text)
    theirs = TomlConfigSettingsSource(PostureSettings, toml_file=path)()
    assert _read_toml(path) == theirs
