"""Fail closed on every posture: the cases that once weakened enforcement silently.

Each posture is built the way a user would (a file, the environment, code, a
copy) and each request goes through a real client on moto or through evaluate().
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import (
    GROUPS,
    KEYS,
    OTHER_SUBNET,
    REGION,
    ROLES,
    SUBNETS,
    make_posture,
)

import secure_comprehend as sc
from secure_comprehend.cli import main

IN = {"S3Uri": "s3://in/"}
OUT = {"S3Uri": "s3://out/"}
UNAPPROVED_VPC = {"Subnets": [OTHER_SUBNET], "SecurityGroupIds": list(GROUPS)}
ROLE_LINE = f'[iam]\ndata_access_roles = ["{ROLES[0]}"]\n'


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def start_job(client: Any, **extra: Any) -> Any:
    return client.start_entities_detection_job(
        InputDataConfig=IN, OutputDataConfig=OUT, LanguageCode="en", **extra
    )


# 1. A section that is present must configure something.

EMPTY_FILES = {
    "empty [kms]": "[kms]\n" + ROLE_LINE,
    "[kms] with an empty also_allowed": "[kms]\nalso_allowed = []\n" + ROLE_LINE,
    "empty [vpc]": "[vpc]\n" + ROLE_LINE,
    "empty [iam]": "[iam]\n",
    "placeholder region [kms]": (
        f'[kms]\nvolume_key = "{KEYS["volume_key"]}"\n'
        "[regions.eu-west-1.kms]\n# TODO: the EU keys\n" + ROLE_LINE
    ),
    "empty region": "[regions.eu-west-1]\n" + ROLE_LINE,
    "only a mode": 'mode = "enforce"\n',
}


@pytest.mark.parametrize("text", EMPTY_FILES.values(), ids=EMPTY_FILES.keys())
def test_an_empty_section_in_a_file_is_an_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(sc.PostureError, match=r"enforce nothing|configure|configures nothing"):
        sc.load_posture(path)


@pytest.mark.parametrize(
    ("var", "value", "field"),
    [
        ("SECURE_COMPREHEND_KMS", "{}", "kms"),
        ("SECURE_COMPREHEND_VPC", "null", "vpc"),
        ("SECURE_COMPREHEND_IAM", "{}", "iam"),
        ("SECURE_COMPREHEND_REGIONS", "{}", "regions"),
    ],
)
def test_an_empty_or_null_section_in_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str, value: str, field: str
) -> None:
    # the file configures every section: the variable must not switch one off
    path = write(
        tmp_path,
        f'[vpc]\nsubnets = ["{SUBNETS[0]}"]\nsecurity_group_ids = ["{GROUPS[0]}"]\n'
        f'[kms]\nvolume_key = "{KEYS["volume_key"]}"\n' + ROLE_LINE,
    )
    monkeypatch.setenv(var, value)
    with pytest.raises(sc.PostureError, match=rf"{var}=.* makes \[{field}\] .*enforce nothing"):
        sc.load_posture(path)


def test_an_empty_also_allowed_alone_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_KMS__ALSO_ALLOWED", "[]")
    monkeypatch.setenv("SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES", f'["{ROLES[0]}"]')
    with pytest.raises(sc.PostureError, match=r"kms .*environment variable.*enforce nothing"):
        sc.load_posture()


def test_policy_refuses_an_empty_posture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[kms]\n")
    assert main(["policy", "--config", str(path)]) == 2
    assert "Statement" not in capsys.readouterr().out


# 2. Copies of a posture never share derived state; a changed copy is validated.


@pytest.mark.usefixtures("moto")
def test_a_trial_copy_in_audit_mode_does_not_weaken_the_original() -> None:
    org = make_posture()
    trial = org.model_copy(update={"mode": "audit"})
    start_job(sc.client(region_name=REGION, posture=trial), VpcConfig=UNAPPROVED_VPC)  # sent
    with pytest.raises(sc.PostureViolation):
        start_job(sc.client(region_name=REGION, posture=org), VpcConfig=UNAPPROVED_VPC)


@pytest.mark.parametrize(
    "make_copy",
    [
        copy.copy,
        copy.deepcopy,
        lambda p: pickle.loads(pickle.dumps(p)),
        lambda p: p.model_copy(),
        lambda p: p.model_copy(deep=True),
    ],
    ids=["copy", "deepcopy", "pickle", "model_copy", "model_copy-deep"],
)
def test_copies_enforce_the_same_posture(make_copy: Any) -> None:
    org = make_posture()
    org.effective(REGION)  # derived state of the original exists before the copy
    twin = make_copy(org)
    assert twin == org
    for posture in (twin, org):
        decision = sc.evaluate("StartEntitiesDetectionJob", {}, posture, region=REGION)
        assert decision.params["VpcConfig"]["Subnets"] == list(SUBNETS)


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"mode": "enforced"}, "mode"),
        ({"vpc": {"subnets": ["subnet-nope"], "security_group_ids": list(GROUPS)}}, "vpc"),
        ({"kms": {}}, "kms"),
        ({"regions": {"eu-west1": {"iam": {"data_access_roles": [ROLES[0]]}}}}, "regions"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_copy_with_changes_is_validated(update: dict[str, Any], field: str) -> None:
    with pytest.raises(sc.PostureError, match=rf"  - {field}"):
        make_posture().model_copy(update=update)


def test_a_copy_with_a_section_as_a_dict_is_a_real_section() -> None:
    changed = make_posture().model_copy(update={"iam": {"data_access_roles": [ROLES[1]]}})
    assert isinstance(changed.iam, sc.IamSettings)
    assert (
        sc.evaluate("ImportModel", {"SourceModelArn": "x"}, changed, region=REGION).params[
            "DataAccessRoleArn"
        ]
        == ROLES[1]
    )


# 3. Region names are validated wherever they appear.


@pytest.mark.parametrize("name", ["eu-west1", "EU-WEST-1", "eu-west-1 ", "eu-wset-1"])
def test_a_misspelt_region_section_is_an_error(tmp_path: Path, name: str) -> None:
    path = write(
        tmp_path,
        f'[regions."{name}".iam]\ndata_access_roles = ["{ROLES[0]}"]\n' + ROLE_LINE,
    )
    with pytest.raises(sc.PostureError, match=r"did you mean 'eu-west-1'\?"):
        sc.load_posture(path)


@pytest.mark.parametrize("region", ["EU-WEST-1", "eu-west1", "us-east-1\n"])
def test_evaluate_refuses_an_invalid_region(region: str) -> None:
    with pytest.raises(sc.PostureError, match="did you mean"):
        sc.evaluate("StartEntitiesDetectionJob", {}, make_posture(), region=region)


@pytest.mark.usefixtures("moto")
def test_a_client_in_a_misspelt_region_has_no_posture() -> None:
    with pytest.raises(sc.PostureError, match="did you mean 'us-east-1'"):
        sc.client(region_name="US-EAST-1", posture=make_posture())
    sc.patch(make_posture())
    try:
        client = boto3.client("comprehend", region_name="US-EAST-1")
        with pytest.raises(sc.PostureViolation, match=r"\(region\).*'US-EAST-1'"):
            start_job(client)
    finally:
        sc.unpatch()


# 4. IDs and ARNs match whole and ASCII only.

FULLWIDTH = "１１１１２２２２３３３３"  # noqa: RUF001  # fullwidth digits
ARABIC_INDIC = "١١١١٢٢٢٢٣٣٣٣"
BAD_IDS = [
    ("vpc", "subnets", f"{SUBNETS[0]}\n"),
    ("vpc", "security_group_ids", f"{GROUPS[0]}\n"),
    ("kms", "volume_key", f"{KEYS['volume_key']}\n"),
    ("kms", "volume_key", KEYS["volume_key"].replace("111122223333", FULLWIDTH)),
    ("iam", "data_access_roles", f"{ROLES[0]}\n"),
    ("iam", "data_access_roles", ROLES[0].replace("111122223333", ARABIC_INDIC)),
    ("iam", "data_access_roles", ROLES[0].replace("Comprehend", "Cömprehend")),
    ("iam", "data_access_roles", f" {ROLES[0]}"),
]


@pytest.mark.parametrize(("section", "field", "value"), BAD_IDS)
def test_a_malformed_id_in_the_posture_is_an_error(section: str, field: str, value: str) -> None:
    settings: dict[str, Any] = {
        "vpc": {"subnets": list(SUBNETS), "security_group_ids": list(GROUPS)},
        "kms": {"volume_key": KEYS["volume_key"]},
        "iam": {"data_access_roles": [ROLES[0]]},
    }
    settings[section][field] = value if field == "volume_key" else [value]
    with pytest.raises(sc.PostureError, match=rf"{section}\.{field}"):
        sc.Posture(**settings)


@pytest.mark.parametrize(
    ("params", "path"),
    [
        (
            {"VpcConfig": {"Subnets": [f"{SUBNETS[0]}\n"], "SecurityGroupIds": list(GROUPS)}},
            "VpcConfig.Subnets[0]",
        ),
        (
            {"VpcConfig": {"Subnets": list(SUBNETS), "SecurityGroupIds": [f"{GROUPS[0]}\n"]}},
            "VpcConfig.SecurityGroupIds[0]",
        ),
        ({"VolumeKmsKeyId": f"{KEYS['volume_key']}\n"}, "VolumeKmsKeyId"),
        ({"DataAccessRoleArn": f"{ROLES[0]}\n"}, "DataAccessRoleArn"),
        ({"DataAccessRoleArn": ROLES[0].replace("111122223333", FULLWIDTH)}, "DataAccessRoleArn"),
    ],
)
@pytest.mark.usefixtures("moto")
def test_a_malformed_id_in_a_request_is_refused(params: dict[str, Any], path: str) -> None:
    client = sc.client(region_name=REGION, posture=make_posture())
    with pytest.raises(sc.PostureViolation) as info:
        start_job(client, **params)
    assert [v.path for v in info.value.violations] == [path]
    assert client.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"] == []


# 5. Sources never resolve ambiguity silently.


def test_an_empty_config_variable_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, ROLE_LINE, "secure_comprehend.toml")  # would be found by the lookup
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", "")
    with pytest.raises(sc.PostureError, match="SECURE_COMPREHEND_CONFIG is set but empty"):
        sc.load_posture()


def test_two_variables_differing_in_case_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES", f'["{ROLES[0]}"]')
    monkeypatch.setenv("SECURE_COMPREHEND_MODE", "enforce")
    monkeypatch.setenv("secure_comprehend_mode", "audit")
    with pytest.raises(sc.PostureError, match="SECURE_COMPREHEND_MODE and secure_comprehend_mode"):
        sc.load_posture()


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ('MODE = "audit"\nmode = "enforce"\n' + ROLE_LINE, "MODE", "mode"),
        (ROLE_LINE + f'[VPC]\nsubnets = ["{OTHER_SUBNET}"]\n', "VPC", "vpc"),
        (f'[IAM]\ndata_access_roles = ["{ROLES[0]}"]\n', "IAM", "iam"),
        (
            f'[iam]\nDATA_ACCESS_ROLES = ["{ROLES[0]}"]\n',
            "iam.DATA_ACCESS_ROLES",
            "data_access_roles",
        ),
    ],
)
def test_toml_keys_are_matched_exactly(tmp_path: Path, text: str, key: str, hint: str) -> None:
    with pytest.raises(sc.PostureError) as info:
        sc.load_posture(write(tmp_path, text))
    assert f"  - {key} = " in str(info.value)
    assert f"did you mean {hint!r}?" in str(info.value)


def test_a_directory_is_reported_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(tmp_path / "conf"))
    with pytest.raises(sc.PostureError, match="is a directory"):
        sc.load_posture()


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"# r\xe9gion\n" + ROLE_LINE.encode())
    with pytest.raises(sc.PostureError, match=rf"{path}.*not UTF-8"):
        sc.load_posture(path)


# 6. Loose API inputs get a TypeError naming the parameter, or a violation.


@pytest.mark.parametrize("bad", [{"mode": "enforce"}, "secure_comprehend.toml", 42])
def test_a_posture_of_the_wrong_type_is_named(bad: Any) -> None:
    for call in (
        lambda: sc.client(region_name=REGION, posture=bad),
        lambda: sc.protect(boto3.client("comprehend", region_name=REGION), bad),
        lambda: sc.patch(bad),
        lambda: sc.evaluate("StartEntitiesDetectionJob", {}, bad, region=REGION),
    ):
        with pytest.raises(TypeError, match=r"posture must be a secure_comprehend\.Posture"):
            call()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"params": None}, "params"), ({"region": None}, "region"), ({"operation": 3}, "operation")],
)
def test_evaluate_names_an_argument_of_the_wrong_type(kwargs: dict[str, Any], name: str) -> None:
    arguments: dict[str, Any] = {
        "operation": "StartEntitiesDetectionJob",
        "params": {},
        "posture": make_posture(),
        "region": REGION,
        **kwargs,
    }
    with pytest.raises(TypeError, match=rf"^{name} must be"):
        sc.evaluate(**arguments)


def deep(levels: int = 100_000) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("member", ["VpcConfig", "VolumeKmsKeyId", "DataAccessRoleArn"])
def test_a_deeply_nested_value_is_a_violation(member: str) -> None:
    decision = sc.evaluate(
        "StartEntitiesDetectionJob", {member: deep()}, make_posture(), region=REGION
    )
    assert [v.path for v in decision.violations] == [member]
    assert len(str(decision.violations[0])) < 400


class _Hostile(Mapping[str, Any]):
    """A mapping that names a key it then refuses to give."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("no")

    def __iter__(self) -> Iterator[str]:
        yield "Subnets"

    def __len__(self) -> int:
        return 1


def test_a_request_too_strange_to_check_is_a_violation() -> None:
    decision = sc.evaluate(
        "StartEntitiesDetectionJob", {"VpcConfig": _Hostile()}, make_posture(), region=REGION
    )
    assert [v.path for v in decision.violations] == ["(request)"]
    assert "cannot be checked" in decision.violations[0].reason


@pytest.mark.usefixtures("moto")
def test_a_deeply_nested_value_is_refused_by_the_client() -> None:
    client = sc.client(region_name=REGION, posture=make_posture())
    with pytest.raises(sc.PostureViolation, match="VpcConfig"):
        start_job(client, VpcConfig=deep())
    assert client.list_entities_detection_jobs()["EntitiesDetectionJobPropertiesList"] == []


# What a stranger tried on loading and on the value itself.


def test_a_pipe_is_not_read_as_an_empty_posture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    fifo = tmp_path / "posture.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES", f'["{ROLES[0]}"]')
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(fifo))
    with pytest.raises(sc.PostureError, match="is not a regular file"):
        sc.load_posture()


@pytest.mark.parametrize("kind", ["dangling symlink", "directory"])
def test_a_broken_default_file_is_never_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    home_file = tmp_path / "home" / ".config" / "secure_comprehend" / "config.toml"
    home_file.parent.mkdir(parents=True)
    home_file.write_text('mode = "audit"\n' + ROLE_LINE)  # would weaken an enforce posture
    here = tmp_path / "secure_comprehend.toml"
    if kind == "directory":
        here.mkdir()
    else:
        here.symlink_to(tmp_path / "missing-secret.toml")
    with pytest.raises(sc.PostureError, match=r"secure_comprehend\.toml' \(default location\) is"):
        sc.load_posture()


def test_no_home_directory_skips_that_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    monkeypatch.delenv("HOME")

    def no_entry(uid: int) -> Any:
        raise KeyError(uid)  # a container's --user 12345 has no passwd entry

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    monkeypatch.setenv("SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES", f'["{ROLES[0]}"]')
    assert sc.load_posture().iam is not None


def test_an_empty_named_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(sc.PostureError, match=r"p\.toml' is empty: it configures nothing"):
        sc.load_posture(write(tmp_path, "# nothing yet\n"))


def test_a_variable_can_never_remove_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, f'[kms]\nvolume_key = "{KEYS["volume_key"]}"\n' + ROLE_LINE)
    monkeypatch.setenv("SECURE_COMPREHEND_KMS", '{"volume_key": null}')
    with pytest.raises(sc.PostureError, match="holds null"):
        sc.load_posture(path)


@pytest.mark.parametrize(
    "var", ["SECURE_COMPRHEND_MODE", "SECURE-COMPREHEND_MODE", "SECURECOMPREHEND_MODE"]
)
def test_a_misspelt_prefix_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, "enforce")
    with pytest.raises(sc.PostureError, match=rf"{var}: did you mean SECURE_COMPREHEND_MODE\?"):
        sc.load_posture(write(tmp_path, 'mode = "audit"\n' + ROLE_LINE))


def test_a_posture_cannot_be_changed_in_place() -> None:
    posture = make_posture(regions={"eu-west-1": {"iam": {"data_access_roles": [ROLES[0]]}}})
    with pytest.raises(TypeError, match="immutable"):
        posture.regions["eu-west-2"] = posture.regions["eu-west-1"]
    with pytest.raises(TypeError, match="immutable"):
        copy.copy(posture).regions.clear()
    assert pickle.loads(pickle.dumps(posture)) == posture == copy.deepcopy(posture)
    assert list(posture.regions) == ["eu-west-1"]


def test_every_way_to_build_a_posture_validates() -> None:
    with pytest.raises(ValueError, match="enforce nothing"):
        sc.KmsSettings.model_construct()
    with pytest.raises(sc.PostureError, match=r"mode = 'enforced'"):
        sc.Posture.model_validate({"mode": "enforced", "iam": {"data_access_roles": [ROLES[0]]}})
    with pytest.raises(sc.PostureError, match="configures nothing"):
        sc.Posture.model_validate_json("{}")


def test_a_section_copied_with_changes_is_validated_too() -> None:
    posture = make_posture()
    assert posture.vpc is not None and posture.kms is not None
    with pytest.raises(ValueError, match="subnet"):
        posture.vpc.model_copy(update={"subnets": (f"{SUBNETS[0]}\n",)})
    with pytest.raises(ValueError, match="volume_key"):
        posture.kms.model_copy(update={"volume_key": "not-an-arn"})
    with pytest.raises(ValueError, match="at least 1"):
        posture.vpc.model_copy(update={"subnets": ()})


def test_a_variable_with_a_repeated_key_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SECURE_COMPREHEND_IAM", f'{{"data_access_roles": ["{ROLES[0]}"], "data_access_roles": []}}'
    )
    with pytest.raises(sc.PostureError, match="duplicate keys"):
        sc.load_posture()


def test_a_posture_file_nested_too_deeply_is_a_posture_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("mode = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(sc.PostureError, match=rf"posture file '{path}' is nested too deeply"):
        sc.load_posture(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # tomllib builds dotted keys and table headers flat: only our check sees the depth
        (ROLE_LINE + "iam" + ".x" * 1000 + " = 1\n", "is nested too deeply"),
        (ROLE_LINE + "[" + ".".join(["x"] * 1000) + "]\n", "is nested too deeply"),
        ("mode = " + "1" * 5000 + "\n", "is not valid TOML: a number too long to read"),
    ],
    ids=["dotted keys", "table header", "huge integer"],
)
def test_a_posture_file_python_cannot_hold_is_a_posture_error(
    text: str, message: str, tmp_path: Path
) -> None:
    path = tmp_path / "posture.toml"
    path.write_text(text)
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture(path)
    assert f"posture file '{path}' {message}" in str(refused.value)
    assert "set_int_max_str_digits" not in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SECURE_COMPREHEND_VPC__SUBNETS", "[" * 5000 + "]" * 5000),
        ("SECURE_COMPREHEND_REGIONS", '{"a":' * 1000 + "1" + "}" * 1000),
    ],
)
def test_an_environment_variable_nested_too_deeply_is_named(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(sc.PostureError, match=f"environment variable {variable} is nested"):
        sc.load_posture()


def test_a_key_that_is_not_a_name_is_quoted_in_the_error(tmp_path: Path) -> None:
    """A key with a newline and an escape must not forge a line of the error."""
    path = tmp_path / "posture.toml"
    path.write_text(ROLE_LINE + '"x\\nsecure-comprehend: posture OK\\u001b[2K" = 1\n')
    with pytest.raises(sc.PostureError) as refused:
        sc.load_posture(path)
    message = str(refused.value)
    assert len(message.splitlines()) == 2, message  # the header and one error
    assert "\x1b" not in message
    assert "'x\\nsecure-comprehend: posture OK\\x1b[2K'" in message


def test_a_path_too_long_is_a_posture_error(tmp_path: Path) -> None:
    path = tmp_path / ("a" * 300 + ".toml")
    with pytest.raises(sc.PostureError, match="cannot be read: File name too long"):
        sc.load_posture(path)


def test_a_home_that_cannot_be_looked_into_does_not_break_an_environment_posture(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """~/.config/... cannot be probed (a name too long, or as another user a directory we
    may not enter): like os.path.exists, the default location is absent."""
    monkeypatch.setenv("HOME", "/tmp/" + "h" * 5000)
    monkeypatch.setenv("SECURE_COMPREHEND_IAM__DATA_ACCESS_ROLES", f'["{ROLES[0]}"]')
    assert sc.load_posture().iam is not None


def test_an_empty_path_is_refused_not_read_as_the_directory() -> None:
    with pytest.raises(sc.PostureError, match=r"posture file '' .* is empty"):
        sc.load_posture("")


def test_an_empty_regions_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "posture.toml"
    path.write_text("regions = {}\n" + ROLE_LINE)
    with pytest.raises(sc.PostureError, match=r"an empty \[regions\] table configures nothing"):
        sc.load_posture(path)


def test_a_byte_order_mark_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + ROLE_LINE.encode())
    with pytest.raises(sc.PostureError, match="byte-order mark"):
        sc.load_posture(path)
