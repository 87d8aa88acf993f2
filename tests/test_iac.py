"""policy --format cloudformation|terraform (issue 22): the JSON documents, placed as they are
in one CloudFormation template or one Terraform module, linted by the real cfn-lint and
checkov (each run once for every posture here: checkov is slow), each finding kept being
the ones the notes explain."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_CONFIG, GROUPS, KEYS, OUTPUT_ALIAS, PARTNER_KEY, ROLES, SUBNETS

import secure_comprehend as sc
from secure_comprehend.cli import main
from secure_comprehend.policy.iac import Infrastructure, _literal, infrastructure, unliteral
from secure_comprehend.policy.iam import data_access_role_policies, deny_policies, key_policies
from secure_comprehend.policy.text import compact

TOP = Path(__file__).resolve().parent.parent
CONFIG = ["--config", str(EXAMPLE_CONFIG)]
FILES = {"cloudformation": "template.json", "terraform": "main.tf.json"}
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")  # the dev extra's (cfn-lint has no -m)
NO_CHECKOV = "no checkov: python -m venv .venv-checkov && .venv-checkov/bin/pip install checkov"
OTHER_ACCOUNT_ROLE = "arn:aws:iam::444455556666:role/ml/ComprehendDataAccess"


def posture(drop: tuple[str, ...] = (), **overrides: Any) -> sc.Posture:
    settings: dict[str, Any] = {
        "mode": "enforce",
        "vpc": {"subnets": list(SUBNETS), "security_group_ids": list(GROUPS)},
        "kms": {**KEYS, "also_allowed": [PARTNER_KEY, OUTPUT_ALIAS]},
        "iam": {"data_access_roles": list(ROLES)},
        **overrides,
    }
    for section in drop:
        del settings[section]
    return sc.Posture(**settings)


# name -> (posture, region)
POSTURES: dict[str, tuple[sc.Posture, str | None]] = {
    "example": (sc.load_posture(EXAMPLE_CONFIG), None),
    "example-eu-west-1": (sc.load_posture(EXAMPLE_CONFIG), "eu-west-1"),
    "every-section": (posture(), None),
    "s3": (posture(s3={"allowed_buckets": ["corp-ml-input", "corp-ml-*"]}), None),
    "no-vpc": (posture(drop=("vpc",)), None),
    "two-accounts": (posture(iam={"data_access_roles": [ROLES[0], OTHER_ACCOUNT_ROLE]}), None),
    "no-role": (posture(drop=("iam",)), None),
    "no-key": (posture(drop=("kms",)), None),
    "audit": (posture(mode="audit"), None),
}


def generate(name: str, format: str) -> Infrastructure:
    found, region = POSTURES[name]
    return infrastructure(found, format, region=region)  # type: ignore[arg-type]


# the real tools, once each for every posture


def checkov() -> str | None:
    """checkov pins boto3==1.35.49, so it has an environment of its own: .venv-checkov
    (python -m venv .venv-checkov && .venv-checkov/bin/pip install checkov), $CHECKOV or PATH."""
    for candidate in (os.environ.get("CHECKOV"), TOP / ".venv-checkov" / "bin" / "checkov"):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    return shutil.which("checkov")


@dataclass
class Linted:
    folder: Path
    outputs: dict[tuple[str, str], Infrastructure]
    cfn_lint: dict[str, set[tuple[str, str]]]  # posture -> {(rule, logical ID)}
    checkov: dict[tuple[str, str], set[tuple[str, str]]] | None  # (posture, format) -> ...
    checkov_reports: list[dict[str, Any]]
    seconds: dict[str, float]


def _tool_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SECURE_COMPREHEND_"))}
    env["HOME"] = str(home)
    return env


@pytest.fixture(scope="module")
def linted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Linted]:
    folder = tmp_path_factory.mktemp("iac")
    outputs = {}
    for name in POSTURES:
        (folder / name).mkdir()
        for format, file in FILES.items():
            outputs[name, format] = generate(name, format)
            (folder / name / file).write_text(outputs[name, format].text)
    env, seconds = _tool_env(tmp_path_factory.mktemp("home")), {}
    templates = [str(folder / name / FILES["cloudformation"]) for name in POSTURES]
    # a canary that cfn-lint must flag (W8001: an unused condition): proof that it read the files
    canary = json.loads(outputs["example", "cloudformation"].text)
    canary["Conditions"]["Unused"] = {"Fn::Equals": ["a", "b"]}
    canary_path = str(tmp_path_factory.mktemp("canary") / "template.json")  # not for checkov
    Path(canary_path).write_text(json.dumps(canary))
    started = time.perf_counter()
    ran = subprocess.run(
        [CFN_LINT, "--format", "json", "--include-checks", "I", "--", *templates, canary_path],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    seconds["cfn-lint"] = time.perf_counter() - started
    assert ran.returncode in (0, 2, 4, 6, 8, 10, 12, 14), ran.stderr  # bits: error/warning/info
    cfn_lint: dict[str, set[tuple[str, str]]] = {name: set() for name in POSTURES}
    canaries = set()
    for match in json.loads(ran.stdout):
        path = match["Location"]["Path"]
        where = path[1] if path[:1] == ["Resources"] else "/".join(map(str, path))
        if match["Filename"] == canary_path:
            canaries.add((match["Rule"]["Id"], where))
        else:
            cfn_lint[Path(match["Filename"]).parent.name].add((match["Rule"]["Id"], where))
    assert ("W8001", "Conditions/Unused") in canaries, ran.stdout
    found: dict[tuple[str, str], set[tuple[str, str]]] | None = None
    reports: list[dict[str, Any]] = []
    tool = checkov()
    if tool is not None:
        started = time.perf_counter()
        command = [tool, "-d", str(folder), "--framework", "cloudformation", "terraform_json"]
        ran = subprocess.run(
            [*command, "--skip-download", "--output", "json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        seconds["checkov"] = time.perf_counter() - started
        assert ran.returncode in (0, 1), ran.stderr  # 1: some check failed
        parsed = json.loads(ran.stdout)
        reports = parsed if isinstance(parsed, list) else [parsed]
        found = {key: set() for key in outputs}
        format_of = {"cloudformation": "cloudformation", "terraform_json": "terraform"}
        for report in reports:
            format = format_of[report["check_type"]]
            for failed in report.get("results", {}).get("failed_checks", []):
                name = Path(failed["file_path"]).parent.name
                resource = failed["resource"]
                if format == "cloudformation":  # AWS::IAM::Policy.DataAccessRolePolicy1
                    resource = resource.rsplit(".", 1)[1]
                found[name, format].add((failed["check_id"], resource))
    yield Linted(folder, outputs, cfn_lint, found, reports, seconds)
    print(f"\ntools: {', '.join(f'{k} {v:.1f} s' for k, v in seconds.items())}")


def explained(result: Infrastructure, tool: str) -> set[tuple[str, str]]:
    return {(f.check, f.resource) for f in result.findings if f.tool == tool}


def test_cfn_lint_reports_only_what_the_notes_explain(linted: Linted) -> None:
    for name in POSTURES:
        result = linted.outputs[name, "cloudformation"]
        assert linted.cfn_lint[name] == explained(result, "cfn-lint"), name


def test_checkov_reports_only_what_the_notes_explain(linted: Linted) -> None:
    if linted.checkov is None:
        pytest.skip(NO_CHECKOV)
    for key, result in linted.outputs.items():
        assert linted.checkov[key] == explained(result, "checkov"), key
        for finding in result.findings:
            assert str(finding) in result.notes
    # the one finding kept, where it is expected: a role whose permissions revoke anywhere
    example = linted.outputs["example", "cloudformation"]
    assert explained(example, "checkov") == {("CKV_AWS_109", "DataAccessRolePolicy1")}
    assert not linted.outputs["no-vpc", "cloudformation"].findings


def test_checkov_read_every_file(linted: Linted) -> None:
    if linted.checkov is None:
        pytest.skip(NO_CHECKOV)
    by_type = {r["check_type"]: r for r in linted.checkov_reports}
    assert set(by_type) == {"cloudformation", "terraform_json"}
    for report in by_type.values():
        assert report["summary"]["parsing_errors"] == 0
        results = report["results"]
        files = {
            Path(c["file_path"]).parent.name
            for c in results["passed_checks"] + results["failed_checks"]
        }
        assert files == set(POSTURES), report["check_type"]
    # the IAM content checks run on the template: the deny, role and permissions policies
    checked = {
        c["resource"].rsplit(".", 1)[1]
        for c in by_type["cloudformation"]["results"]["passed_checks"]
        if c["check_id"] == "CKV_AWS_109" and Path(c["file_path"]).parent.name == "example"
    }
    assert {"DenyPolicy1", "DenyPolicy2", "DataAccessRole1"} <= checked


# the same content as the JSON documents


def test_the_template_holds_exactly_the_json_documents() -> None:
    for name, (found, region) in POSTURES.items():
        template = generate(name, "cloudformation").document
        resources, outputs = template["Resources"], template.get("Outputs", {})
        identity = deny_policies(found, region=region).documents
        scps = deny_policies(found, scp=True, region=region).documents
        assert [r["Properties"]["PolicyDocument"] for r in of_type(resources, "ManagedPolicy")] == (
            identity
        )
        contents = [r["Properties"]["Content"] for r in of_type(resources, "Organizations")]
        assert contents == [compact(d) for d in scps]  # the text whose size was checked
        roles = {}
        for logical, role in resources.items():
            if role["Type"] == "AWS::IAM::Role":
                account = role["Condition"].removeprefix("CreateRolesInAccount")
                props = role["Properties"]
                arn = f"arn:aws:iam::{account}:role{props['Path']}{props['RoleName']}"
                policy = resources[logical.replace("Role", "RolePolicy")]
                assert policy["Condition"] == f"InAccount{account}"
                assert policy["Properties"]["PolicyName"] == "secure-comprehend"
                roles[arn] = {
                    "TrustPolicy": props["AssumeRolePolicyDocument"],
                    "PermissionsPolicy": policy["Properties"]["PolicyDocument"],
                }
        keys = {
            o["Description"].rsplit(" ", 1)[1]: json.loads(o["Value"]) for o in outputs.values()
        }
        if name == "no-role":
            assert not roles and not keys
            continue
        assert roles == data_access_role_policies(found, region=region).documents, name
        if name == "no-key":
            assert not keys
            continue
        assert keys == key_policies(found, region=region).documents, name


def test_the_module_holds_exactly_the_json_documents() -> None:
    for name, (found, region) in POSTURES.items():
        module = generate(name, "terraform").document
        resources = module["resource"]

        def read(kind: str, attribute: str, resources: dict[str, Any] = resources) -> list[str]:
            return [unliteral(r[attribute]) for r in resources.get(kind, {}).values()]

        identity = deny_policies(found, region=region).documents
        scps = deny_policies(found, scp=True, region=region).documents
        assert read("aws_iam_policy", "policy") == [compact(d) for d in identity]
        assert read("aws_organizations_policy", "content") == [compact(d) for d in scps]
        roles = {}
        for label, role in resources.get("aws_iam_role", {}).items():
            account = re.search(r'"(\d{12})"', role["count"])[1]  # type: ignore[index]
            arn = f"arn:aws:iam::{account}:role{role['path']}{role['name']}"
            policy = resources["aws_iam_role_policy"][label]
            assert policy["role"] == role["name"] and policy["name"] == "secure-comprehend"
            assert f'"{account}"' in policy["count"]
            roles[arn] = {
                "TrustPolicy": json.loads(unliteral(role["assume_role_policy"])),
                "PermissionsPolicy": json.loads(unliteral(policy["policy"])),
            }
        output = module.get("output", {}).get("key_policy_statements", {}).get("value", {})
        keys = {k: json.loads(unliteral(v)) for k, v in output.items()}
        if name == "no-role":
            assert not roles and not keys
            continue
        assert roles == data_access_role_policies(found, region=region).documents, name
        if name != "no-key":
            assert keys == key_policies(found, region=region).documents, name


def of_type(resources: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources.values() if kind in r["Type"]]


def test_the_cli_formats_hold_what_format_json_prints(capsys: pytest.CaptureFixture[str]) -> None:
    printed = {}
    for kind in ("identity", "scp", "data-access-role", "key-policy"):
        assert main(["policy", *CONFIG, "--kind", kind, "--format", "json"]) == 0
        printed[kind] = json.loads(capsys.readouterr().out)
    assert main(["policy", *CONFIG, "--format", "cloudformation"]) == 0
    template = json.loads(capsys.readouterr().out)
    resources = template["Resources"]
    assert [r["Properties"]["PolicyDocument"] for r in of_type(resources, "ManagedPolicy")] == (
        printed["identity"]
    )
    contents = [r["Properties"]["Content"] for r in of_type(resources, "Organizations")]
    assert [json.loads(c) for c in contents] == printed["scp"]
    assert [r["Properties"]["PolicyDocument"] for r in of_type(resources, "IAM::Policy")] == [
        r["PermissionsPolicy"] for r in printed["data-access-role"].values()
    ]
    values = [json.loads(o["Value"]) for o in template["Outputs"].values()]
    assert values == list(printed["key-policy"].values())
    assert main(["policy", *CONFIG, "--format", "terraform"]) == 0
    module = json.loads(capsys.readouterr().out)
    policies = module["resource"]["aws_iam_policy"].values()
    assert [json.loads(unliteral(p["policy"])) for p in policies] == printed["identity"]


# what the template and the module say about what the posture does not know


def test_what_the_posture_does_not_know_is_a_parameter_or_a_variable() -> None:
    template = generate("example", "cloudformation").document
    assert set(template["Parameters"]) == {
        "DenyPolicyRoleNames",
        "CreateServiceControlPolicies",
        "ScpTargetIds",
        "CreateDataAccessRoles",
    }
    assert all(p["Description"] for p in template["Parameters"].values())
    assert template["Parameters"]["CreateServiceControlPolicies"]["Default"] == "false"
    module = generate("example", "terraform").document
    assert set(module["variable"]) == {
        "deny_policy_role_names",
        "create_service_control_policies",
        "scp_target_ids",
        "create_data_access_roles",
    }
    assert all(v["description"] for v in module["variable"].values())
    no_role = generate("no-role", "cloudformation").document
    assert "CreateDataAccessRoles" not in no_role["Parameters"]
    assert "create_data_access_roles" not in generate("no-role", "terraform").document["variable"]


def test_a_role_is_made_only_in_the_account_its_arn_names() -> None:
    template = generate("two-accounts", "cloudformation").document
    conditions, resources = template["Conditions"], template["Resources"]
    role = next(r for r in resources.values() if r["Type"] == "AWS::IAM::Role" and "ml" in str(r))
    assert role["Condition"] == "CreateRolesInAccount444455556666"
    assert role["Properties"]["Path"] == "/ml/"
    assert conditions["InAccount444455556666"] == {
        "Fn::Equals": [{"Ref": "AWS::AccountId"}, "444455556666"]
    }
    module = generate("two-accounts", "terraform").document
    counts = [r["count"] for r in module["resource"]["aws_iam_role"].values()]
    assert counts == [
        '${var.create_data_access_roles && local.account_id == "111122223333" ? 1 : 0}',
        '${var.create_data_access_roles && local.account_id == "444455556666" ? 1 : 0}',
    ]
    notes = " ".join(generate("two-accounts", "terraform").notes)
    assert "(111122223333, 444455556666)" in notes


def test_every_terraform_reference_names_something_the_module_declares() -> None:
    """What terraform validate would catch first (no Terraform here): unknown variables,
    locals or resources, and a policy whose text Terraform would read as a template."""
    for name in POSTURES:
        module = generate(name, "terraform").document
        text = json.dumps(module)
        declared = {
            f"{kind}.{label}" for kind, items in module["resource"].items() for label in items
        }
        for reference in re.findall(r"\b(aws_[a-z_]+\.[a-z0-9_]+)", text):
            if not reference.startswith("aws_caller_identity"):
                assert reference in declared, (name, reference)
        assert set(re.findall(r"var\.([a-z_]+)", text)) <= set(module["variable"]), name
        assert set(re.findall(r"local\.([a-z_]+)", text)) <= set(module.get("locals", {})), name
        for items in module["resource"].values():
            for body in items.values():
                for key in ("policy", "content", "assume_role_policy"):
                    if key in body:  # a literal: no template sequence left unescaped
                        assert not re.search(r"(?<![$%])[$%]\{", body[key]), (name, key)


def test_terraform_strings_keep_iam_policy_variables() -> None:
    text = '{"Resource":"arn:aws:s3:::b/${aws:username}/*","x":"%{y}"}'
    assert _literal(text) == '{"Resource":"arn:aws:s3:::b/$${aws:username}/*","x":"%%{y}"}'
    assert unliteral(_literal(text)) == text


def test_the_notes_say_what_is_not_a_resource_and_where_to_deploy() -> None:
    for format, where in (("cloudformation", "KeyPolicyStatements1"), ("terraform", "key_policy")):
        notes = generate("example", format).notes
        text = " ".join(notes)
        assert f"outputs ({where}" in text
        assert "management account" in text
        assert any(n.startswith("identity, scp: ") for n in notes)  # each note once, labelled
        assert any(n.startswith("key-policy: ") for n in notes)
    terraform = " ".join(generate("example", "terraform").notes)
    assert "CKV_AWS_289 and CKV_AWS_355 are the same finding" in terraform
    assert "no role" in " ".join(generate("no-role", "cloudformation").notes)


# the command line


def test_policy_format_prints_the_template_and_the_notes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", *CONFIG, "--format", "cloudformation"]) == 0
    out, err = capsys.readouterr()
    result = infrastructure(sc.load_posture(EXAMPLE_CONFIG), "cloudformation")
    assert out == result.text
    assert err.splitlines() == [f"note: {n}" for n in result.notes]
    assert main(["policy", *CONFIG, "--format", "cloudformation", "--json"]) == 0
    assert capsys.readouterr().out == out  # --json changes nothing: it is JSON already
    assert main(["policy", *CONFIG, "--format", "terraform"]) == 0
    assert json.loads(capsys.readouterr().out)["terraform"]["required_providers"]["aws"]


def test_policy_format_json_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", *CONFIG]) == 0
    default = capsys.readouterr().out
    assert main(["policy", *CONFIG, "--format", "json"]) == 0
    assert capsys.readouterr().out == default
    assert main(["policy", *CONFIG, "--kind", "identity", "--format", "json"]) == 0
    assert capsys.readouterr().out == default


def test_policy_format_out_writes_the_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", *CONFIG, "--format", "cloudformation", "--out", "setup.json"]) == 0
    assert json.loads((tmp_path / "setup.json").read_text())["AWSTemplateFormatVersion"]
    assert "wrote the CloudFormation template: setup.json" in capsys.readouterr().err
    assert main(["policy", *CONFIG, "--format", "terraform", "--out", "setup/"]) == 0
    assert json.loads((tmp_path / "setup" / "secure-comprehend.tf.json").read_text())["resource"]
    assert main(["policy", *CONFIG, "--format", "cloudformation", "--out", "setup/"]) == 0
    assert (tmp_path / "setup" / "secure-comprehend.template.json").is_file()
    assert main(["policy", *CONFIG, "--format", "terraform", "--out", "main.tf.json"]) == 0
    assert (tmp_path / "main.tf.json").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--format", "cloudformation", "--kind", "scp"],
            "--kind scp does not go with --format cloudformation: the CloudFormation template "
            "holds every document at once",
        ),
        (
            ["--format", "terraform", "--kind", "identity"],
            "--kind identity does not go with --format terraform",
        ),
        (
            ["--format", "terraform", "--kind", "posture-reader"],
            "posture-reader is JSON only",
        ),
        (
            ["--format", "terraform", "--out", "main.json"],
            "Terraform reads only files named *.tf.json: name it main.tf.json",
        ),
    ],
)
def test_policy_format_refuses_what_means_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["policy", *CONFIG, *argv]) == 2
    out, err = capsys.readouterr()
    assert message in err and not out
    assert not list(tmp_path.iterdir())  # refused before anything is written


def test_an_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["policy", *CONFIG, "--format", "yaml"])
    assert exit_.value.code == 2
    assert "invalid choice: 'yaml'" in capsys.readouterr().err


def test_the_docs_show_the_two_step_path_for_each() -> None:
    readme = (TOP / "README.md").read_text()
    section = readme.split("## Setting up the account", 1)[1].split("\n## ", 1)[0]
    for line in (
        "secure-comprehend policy --format cloudformation --out setup.json",
        "aws cloudformation deploy --template-file setup.json",
        "secure-comprehend policy --format terraform --out setup/",
        "terraform -chdir=setup init && terraform -chdir=setup apply",
    ):
        assert line in section
    cli = (TOP / "docs" / "cli.md").read_text()
    assert "[--format json|cloudformation|terraform]" in cli
    assert "--format cloudformation" in (TOP / "docs" / "policies.md").read_text()


def test_a_template_past_cloudformation_s_quotas_says_to_split_it() -> None:
    """Many keys in many regions: more outputs than CloudFormation takes in one stack."""
    from secure_comprehend.policy.iac import OUTPUTS_LIMIT, infrastructure

    def key(region: str, n: int) -> str:
        return f"arn:aws:kms:{region}:111122223333:key/{n:08d}-1111-2222-3333-444444444444"

    regions = ["eu-west-1", "eu-west-2", "eu-central-1", "us-west-2", "ap-southeast-2"]
    posture = sc.Posture(  # a role per region: each role's policy stays under IAM's limit
        regions={
            r: {
                "kms": {"volume_key": key(r, 0), "also_allowed": [key(r, n) for n in range(1, 45)]},
                "iam": {"data_access_roles": [f"arn:aws:iam::111122223333:role/R-{r}"]},
            }
            for r in regions
        },
    )
    result = infrastructure(posture, "cloudformation")
    assert len(result.document["Outputs"]) > OUTPUTS_LIMIT
    assert any("Generate one template per region" in note for note in result.notes)
