"""The cold path reads the environment and TOML files itself (no pydantic-settings import);
here pydantic-settings' own sources read the same inputs, and the values must agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLE_CONFIG, GROUPS, KEYS, ROLES, SUBNETS
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from secure_comprehend.posture.env import ENV_PREFIX, read_env
from secure_comprehend.posture.loading import _read_file
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
    assert _read_file(path) == theirs


# Generated environments: wherever our reader accepts one, it reads what pydantic-settings'
# own source reads (it may refuse more: misspelt names, case twins, nulls).

LEAVES = {
    "MODE": st.sampled_from(["audit", "enforce"]),
    "VPC__SUBNETS": st.lists(st.sampled_from(SUBNETS), min_size=1, unique=True).map(json.dumps),
    "VPC__SECURITY_GROUP_IDS": st.just(json.dumps(list(GROUPS))),
    "KMS__VOLUME_KEY": st.just(KEYS["volume_key"]),
    "KMS__OUTPUT_KEY": st.just(KEYS["output_key"]),
    "KMS__ALSO_ALLOWED": st.lists(st.sampled_from(list(KEYS.values())), unique=True).map(
        json.dumps
    ),
    "IAM__DATA_ACCESS_ROLES": st.lists(st.sampled_from(ROLES), min_size=1, unique=True).map(
        json.dumps
    ),
    "S3__ALLOWED_BUCKETS": st.just(json.dumps(["corp-ml-*"])),
    "MODELS__VERIFY": st.sampled_from(["true", "false"]),
    "KMS": st.just(json.dumps({"model_key": KEYS["model_key"]})),
    "REGIONS": st.just(json.dumps({"eu-west-1": {"iam": {"data_access_roles": [ROLES[1]]}}})),
}


def _in_some_case(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda upper: "".join(
            c.upper() if u else c.lower() for c, u in zip(name, upper, strict=True)
        )
    )


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    chosen = draw(st.lists(st.sampled_from(sorted(LEAVES)), min_size=1, max_size=5, unique=True))
    return {draw(_in_some_case(ENV_PREFIX + leaf)): draw(LEAVES[leaf]) for leaf in chosen}


@settings(max_examples=60, deadline=None)
@given(environment=environments())
def test_generated_environments_read_as_pydantic_settings_reads_them(
    environment: dict[str, str],
) -> None:
    import os

    from secure_comprehend._errors import PostureError

    saved = dict(os.environ)
    try:
        os.environ.update(environment)
        theirs = EnvSettingsSource(PostureSettings)()
        try:
            ours, _ = read_env()
        except PostureError:
            return  # stricter than pydantic-settings: allowed
        assert ours == theirs
    finally:
        os.environ.clear()
        os.environ.update(saved)
