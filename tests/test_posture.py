"""Posture: sources, precedence, region overlay, and every class of bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_CONFIG, GROUPS, KEYS, REGION, ROLES, SUBNETS, make_posture

import secure_comprehend as sc

TOML = f"""
mode = "enforce"
[vpc]
subnets = {list(SUBNETS)!r}
security_group_ids = {list(GROUPS)!r}
[kms]
volume_key = "{KEYS["volume_key"]}"
[iam]
data_access_roles = ["{ROLES[0]}"]
""".replace("'", '"')


def write(path: Path, text: str = TOML) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_example_config_loads_and_overlays_eu_west_1() -> None:
    posture = sc.load_posture(EXAMPLE_CONFIG)
    assert posture.mode == "enforce"
    eu = posture.effective("eu-west-1", "aws")
    assert eu.vpc is not None and eu.vpc.subnets == ("subnet-0fedcba9876543210",)
    assert eu.iam == posture.iam  # no [regions.eu-west-1.iam]: the top level applies
    assert eu.default_key("volume_key") is not None
    assert ":eu-west-1:" in eu.default_key("volume_key")  # type: ignore[operator]


def test_file_given_as_argument(tmp_path: Path) -> None:
    posture = sc.load_posture(write(tmp_path / "p.toml"))
    assert posture.vpc is not None and posture.vpc.subnets == SUBNETS
    assert posture.kms is not None and posture.kms.volume_key == KEYS["volume_key"]


def test_config_variable_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(write(tmp_path / "x" / "p.toml")))
    assert sc.load_posture().iam is not None


@pytest.mark.parametrize(
    "relative", ["secure_comprehend.toml", "home/.config/secure_comprehend/config.toml"]
)
def test_default_file_locations(tmp_path: Path, relative: str) -> None:
    write(tmp_path / relative)  # the fixture made tmp_path the cwd and tmp_path/home HOME
    assert sc.load_posture().vpc is not None


def test_cwd_file_wins_over_home_file(tmp_path: Path) -> None:
    write(tmp_path / "secure_comprehend.toml", TOML.replace('"enforce"', '"audit"'))
    write(tmp_path / "home/.config/secure_comprehend/config.toml")
    assert sc.load_posture().mode == "audit"


def test_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SUBNETS", f'["{SUBNETS[0]}"]')
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SECURITY_GROUP_IDS", f'["{GROUPS[0]}"]')
    monkeypatch.setenv("SECURE_COMPREHEND_KMS__VOLUME_KEY", KEYS["volume_key"])
    posture = sc.load_posture()
    assert posture.mode == "audit"
    assert posture.vpc is not None and posture.vpc.subnets == (SUBNETS[0],)
    assert posture.kms is not None and posture.kms.volume_key == KEYS["volume_key"]


def test_environment_overrides_file_field_by_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SUBNETS", f'["{SUBNETS[1]}"]')
    posture = sc.load_posture(write(tmp_path / "p.toml"))
    assert posture.vpc is not None
    assert posture.vpc.subnets == (SUBNETS[1],)  # from the environment
    assert posture.vpc.security_group_ids == GROUPS  # still from the file


def test_posture_in_code_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "audit")
    assert sc.Posture(iam={"data_access_roles": [ROLES[0]]}).mode == "enforce"


def test_no_source_is_an_error() -> None:
    with pytest.raises(sc.PostureError, match="no posture found"):
        sc.load_posture()


def test_missing_named_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(sc.PostureError, match=r"nope\.toml.*does not exist"):
        sc.load_posture(tmp_path / "nope.toml")
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(sc.PostureError, match=r"gone\.toml.*SECURE_COMPREHEND_CONFIG"):
        sc.load_posture()


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(sc.PostureError, match="unreadable"):
        sc.load_posture(write(tmp_path / "p.toml", "mode = = 'enforce'"))


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('mod = "audit"', "mod"),
        ('[vpc]\nsubnet = ["subnet-01234567"]', "vpc.subnet"),
        ('[kms]\nvolumekey = "x"', "kms.volumekey"),
        ('[iam]\nrole = "x"', "iam.role"),
        ('[regions.eu-west-1.kms]\nvolume = "x"', "regions.eu-west-1.kms.volume"),
        ("[regions.eu-west-1]\nvcp = {}", "regions.eu-west-1.vcp"),
    ],
)
def test_unknown_keys_in_file_name_field_and_source(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path / "p.toml", text)
    with pytest.raises(sc.PostureError) as info:
        sc.load_posture(path)
    message = str(info.value)
    assert f"{field} = " in message
    assert "unknown key" in message
    assert str(path) in message


@pytest.mark.parametrize(
    "var", ["SECURE_COMPREHEND_MOD", "SECURE_COMPREHEND_KMS__VOLUMEKEY", "secure_comprehend_vpc__x"]
)
def test_unknown_environment_names_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, "audit")
    with pytest.raises(sc.PostureError, match=f"unknown environment variable {var}"):
        sc.load_posture(write(tmp_path / "p.toml"))


BAD_VALUES: list[tuple[dict[str, Any], str, str]] = [
    (
        {"vpc": {"subnets": ["subnet-xyz"], "security_group_ids": list(GROUPS)}},
        "vpc.subnets[0]",
        "subnet-xyz",
    ),
    (
        {"vpc": {"subnets": ["subnet-0123456"], "security_group_ids": list(GROUPS)}},
        "vpc.subnets[0]",
        "subnet-0123456",
    ),
    ({"vpc": {"subnets": [], "security_group_ids": list(GROUPS)}}, "vpc.subnets", "[]"),
    (
        {
            "vpc": {
                "subnets": [f"subnet-{i:08x}" for i in range(17)],
                "security_group_ids": list(GROUPS),
            }
        },
        "vpc.subnets",
        "must hold at most 16 items, not 17",
    ),
    (
        {"vpc": {"subnets": [SUBNETS[0], SUBNETS[0]], "security_group_ids": list(GROUPS)}},
        "vpc.subnets",
        "duplicate",
    ),
    (
        {"vpc": {"subnets": list(SUBNETS), "security_group_ids": ["sg-1"]}},
        "vpc.security_group_ids[0]",
        "sg-1",
    ),
    (
        {
            "vpc": {
                "subnets": list(SUBNETS),
                "security_group_ids": [f"sg-{i:08x}" for i in range(6)],
            }
        },
        "vpc.security_group_ids",
        "sg-00000005",
    ),
    ({"vpc": {"subnets": list(SUBNETS)}}, "vpc.security_group_ids", "missing"),
    ({"kms": {"volume_key": "1234abcd-12ab-34cd-56ef-1234567890ab"}}, "kms.volume_key", "1234abcd"),
    ({"kms": {"output_key": "alias/x"}}, "kms.output_key", "alias/x"),
    ({"kms": {"model_key": "arn:aws:kms:us-east-1:1111:key/x"}}, "kms.model_key", "1111"),
    ({"kms": {"also_allowed": ["not-a-key"]}}, "kms.also_allowed[0]", "not-a-key"),
    (
        {"iam": {"data_access_roles": ["arn:aws:iam::111122223333:user/bob"]}},
        "iam.data_access_roles[0]",
        "user/bob",
    ),
    ({"iam": {"data_access_roles": []}}, "iam.data_access_roles", "[]"),
    ({"mode": "strict"}, "mode", "strict"),
]


@pytest.mark.parametrize(("settings", "field", "value"), BAD_VALUES)
def test_malformed_values_name_field_value_and_source(
    tmp_path: Path, settings: dict[str, Any], field: str, value: str
) -> None:
    import json

    lines = []
    for section, content in settings.items():
        if isinstance(content, dict):
            lines.append(f"[{section}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in content.items()]
        else:
            lines.insert(0, f"{section} = {json.dumps(content)}")
    path = write(tmp_path / "p.toml", "\n".join(lines))
    with pytest.raises(sc.PostureError) as info:
        sc.load_posture(path)
    message = str(info.value)
    shown = f"{field} (from" if value == "missing" else f"{field} = "  # a missing key has no value
    assert shown in message
    assert value in message
    assert f"from file {path}" in message


def test_error_from_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_KMS__VOLUME_KEY", "arn:aws:kms:us-east-1:1:key/nope")
    with pytest.raises(sc.PostureError) as info:
        sc.load_posture()
    assert "kms.volume_key = 'arn:aws:kms:us-east-1:1:key/nope'" in str(info.value)
    assert "environment variable SECURE_COMPREHEND_KMS__VOLUME_KEY" in str(info.value)


def test_environment_value_that_is_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SUBNETS", "subnet-0123456789abcdef0")
    with pytest.raises(sc.PostureError) as info:
        sc.load_posture()
    assert "must be JSON" in str(info.value)
    assert "SECURE_COMPREHEND_VPC__SUBNETS='subnet-0123456789abcdef0'" in str(info.value)


@pytest.mark.parametrize(
    ("region", "key", "role"),
    [
        (
            "cn-north-1",
            "arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:iam::111122223333:role/R",
        ),
        (
            "us-gov-west-1",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef",
            "arn:aws-us-gov:iam::111122223333:role/R",
        ),
    ],
)
def test_other_partitions(region: str, key: str, role: str) -> None:
    posture = sc.Posture(kms={"volume_key": key}, iam={"data_access_roles": [role]})
    partition = key.split(":")[1]
    assert posture.effective(region, partition).default_key("volume_key") == key
    with pytest.raises(sc.PostureError, match="partition"):
        posture.effective(region, "aws")


def test_keys_in_another_region_are_refused_for_the_client_region() -> None:
    posture = make_posture()
    with pytest.raises(sc.PostureError, match=r"us-east-1.*eu-west-1"):
        posture.effective("eu-west-1", "aws")


def test_also_allowed_may_be_another_account_but_not_another_region() -> None:
    assert make_posture().effective(REGION, "aws").approved_keys["volume_key"]
    elsewhere = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    posture = make_posture(kms={**KEYS, "also_allowed": [elsewhere]})
    with pytest.raises(sc.PostureError, match="us-west-2"):
        posture.effective(REGION, "aws")


def test_region_section_replaces_top_level_section() -> None:
    eu_key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    posture = make_posture(regions={"eu-west-1": {"kms": {"volume_key": eu_key}}})
    eu = posture.effective("eu-west-1", "aws")
    assert eu.default_key("volume_key") == eu_key
    assert eu.default_key("output_key") is None  # replaced, not merged
    assert eu.subnets == frozenset(SUBNETS)


def test_region_without_any_posture_is_refused() -> None:
    posture = sc.Posture(regions={"eu-west-1": {"iam": {"data_access_roles": [ROLES[0]]}}})
    assert posture.effective("eu-west-1").roles == {ROLES[0]}
    with pytest.raises(sc.PostureError, match=r"no posture for us-east-1: .*only for eu-west-1"):
        posture.effective("us-east-1")


def test_posture_is_frozen() -> None:
    posture = make_posture()
    with pytest.raises(ValueError, match="frozen"):  # pydantic ValidationError
        posture.mode = "audit"  # type: ignore[misc]


def test_posture_in_code_with_bad_values_is_a_posture_error() -> None:
    with pytest.raises(sc.PostureError) as info:
        sc.Posture(
            vpc={"subnets": ["subnet-nope"], "security_group_ids": list(GROUPS)}, kms={"x": 1}
        )
    message = str(info.value)
    assert "vpc.subnets[0] = 'subnet-nope' (from Posture() arguments)" in message
    assert (
        "kms.x = 1 (from Posture() arguments): unknown key; allowed here: also_allowed" in message
    )


def test_environment_section_as_json_and_field_override(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    section = {"subnets": [SUBNETS[0]], "security_group_ids": list(GROUPS)}
    monkeypatch.setenv("SECURE_COMPREHEND_VPC", json.dumps(section))
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SUBNETS", json.dumps([SUBNETS[1]]))
    monkeypatch.setenv("secure_comprehend_kms__also_allowed", json.dumps([KEYS["model_key"]]))
    posture = sc.load_posture()
    assert posture.vpc is not None and posture.vpc.subnets == (SUBNETS[1],)
    assert posture.vpc.security_group_ids == GROUPS
    assert posture.kms is not None and posture.kms.also_allowed == (KEYS["model_key"],)


def test_environment_section_that_is_not_an_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_VPC", '["subnet-0123456789abcdef0"]')
    monkeypatch.setenv("SECURE_COMPREHEND_VPC__SECURITY_GROUP_IDS", f'["{GROUPS[0]}"]')
    with pytest.raises(sc.PostureError, match="SECURE_COMPREHEND_VPC must hold a JSON object"):
        sc.load_posture()


@pytest.mark.parametrize("source", ["environment", "file"])
def test_the_cold_path_imports_neither_pydantic_settings_nor_asyncio(
    source: str, tmp_path: Path
) -> None:
    """A Lambda's cold start: a posture from the environment or a TOML file, a client."""
    import subprocess
    import sys

    code = (
        "import sys, secure_comprehend as sc\n"
        "p = sc.load_posture()\n"
        "assert p.kms.volume_key, p\n"
        "c = sc.client(region_name='us-east-1', aws_access_key_id='a', aws_secret_access_key='b')\n"
        "fleet = {m for m in sys.modules if m.startswith('secure_comprehend.posture.fleet.')}\n"
        "loaded = {'pydantic_settings', 'asyncio', *fleet} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
        "toml = {'tomllib', 'tomli'} & set(sys.modules)\n"  # tomli on Python 3.10
        f"assert bool(toml) == {source == 'file'}, toml\n"
    )
    env = {"PATH": ""}
    if source == "file":
        path = tmp_path / "posture.toml"
        path.write_text(f"[kms]\nvolume_key = {KEYS['volume_key']!r}\n")
        env["SECURE_COMPREHEND_CONFIG"] = str(path)
    else:
        env["SECURE_COMPREHEND_KMS__VOLUME_KEY"] = KEYS["volume_key"]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("var", "meant"),
    [
        ("SECURE_COMPREHNED_MODE", "SECURE_COMPREHEND_MODE"),
        ("SECUR_COMPREHEND_VPC__SUBNETS", "SECURE_COMPREHEND_VPC__SUBNETS"),
        ("SECURE-COMPREHEND_IAM__DATA_ACCESS_ROLES", "SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES"),
    ],
)
def test_a_misspelt_prefix_of_one_of_our_variables_is_refused(
    monkeypatch: pytest.MonkeyPatch, var: str, meant: str
) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_VPC", '{"subnets": ["subnet-0123456789abcdef0"]}')
    monkeypatch.setenv(var, "audit")
    with pytest.raises(sc.PostureError, match=f"{var}: did you mean {meant}"):
        sc.load_posture()


def test_an_unrelated_variable_with_a_near_prefix_is_not_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECURE_COMPREHENSION_LEVEL", "3")  # another tool's
    monkeypatch.setenv(
        "SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES",
        '["arn:aws:iam::111122223333:role/ComprehendDataAccess"]',
    )
    assert sc.load_posture().iam is not None


def test_typed_sections_built_in_code_are_taken_as_given() -> None:
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    vpc = {"subnets": ["subnet-0123456789abcdef0"], "security_group_ids": ["sg-0123456789abcdef0"]}
    region = sc.RegionSettings(kms={"volume_key": key})  # vpc and iam left unset: absent
    posture = sc.Posture(vpc=vpc, regions={"eu-west-1": region})
    assert posture.effective("eu-west-1").default_key("volume_key") == key
    assert posture.effective("eu-west-1").subnets == frozenset(vpc["subnets"])
    copied = sc.Posture(vpc=vpc).model_copy(update={"regions": {"eu-west-1": region}})
    assert copied == posture
    assert sc.Posture(vpc=sc.VpcSettings(**vpc)) == sc.Posture(vpc=vpc)
    with pytest.raises(ValueError, match=r"null \[vpc\] section"):  # said, not left unset
        sc.RegionSettings(kms={"volume_key": key}, vpc=None)


def test_a_posture_file_named_json_is_read_as_json_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_posture(), SECURE_COMPREHEND_CONFIG and --config read a *.json file as JSON."""
    import json

    file = tmp_path / "posture.json"
    file.write_text(json.dumps({"mode": "audit", "iam": {"data_access_roles": [ROLES[0]]}}))
    assert sc.load_posture(file).mode == "audit"
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(file))
    assert sc.load_posture().iam.data_access_roles == (ROLES[0],)  # type: ignore[union-attr]
    file.write_text('{"mode": "audit", "MODE": "enforce"}')
    with pytest.raises(sc.PostureError, match="duplicate keys"):
        sc.load_posture(file)
    file.write_text('mode = "audit"\n')
    with pytest.raises(sc.PostureError, match="must hold a JSON object"):
        sc.load_posture(file)


@pytest.mark.parametrize(
    ("bucket", "reason"),
    [
        ("corp..data", "no two adjacent periods"),
        ("192.168.1.1", "not an IP address"),
        ("xn--corp", "reserves the prefixes"),
        ("xn--*", "reserves the prefixes"),
        ("data-s3alias", "reserves the suffixes"),
        ("data--ol-s3", "reserves the suffixes"),
    ],
)
def test_a_bucket_name_no_bucket_can_have_is_refused(bucket: str, reason: str) -> None:
    with pytest.raises(sc.PostureError, match=reason) as refused:
        make_posture(s3={"allowed_buckets": [bucket]})
    assert f"s3.allowed_buckets[0] = {bucket!r}" in str(refused.value)


def test_two_paths_to_one_role_name_in_one_account_are_refused() -> None:
    roles = ["arn:aws:iam::111122223333:role/a/R", "arn:aws:iam::111122223333:role/b/R"]
    with pytest.raises(sc.PostureError, match="name one role twice"):
        make_posture(iam={"data_access_roles": roles})
    other = ["arn:aws:iam::111122223333:role/a/R", "arn:aws:iam::444455556666:role/a/R"]
    assert make_posture(iam={"data_access_roles": other}).iam is not None
