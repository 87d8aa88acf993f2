"""The account set-up as infrastructure as code: one CloudFormation template or one Terraform
``.tf.json`` module with every document ``policy`` prints as JSON.

The documents are those of ``deny_policies`` (identity and SCP), ``data_access_role_policies``
and ``key_policies``, placed as they are: nothing here writes a statement, so the template and
the module hold exactly the JSON documents (the tests compare them). What the posture does not
know becomes a CloudFormation parameter or a Terraform variable: whether to make the
data-access roles or only add their permissions to existing ones, which roles the deny policies
are attached to, whether this is the organization's management account (the SCPs), and which
roots, OUs or accounts the SCPs are attached to.

Key policies are outputs, not resources: a key's policy holds statements the posture does not
know (its administrators, other users), and a template cannot own the policy of a key it did
not make; each key's statements are merged into its policy by hand. A role and its permissions
policy are made only in the account the role's ARN names, so the same template or module serves
every account (a StackSet).

``cfn-lint`` and ``checkov`` are run on both by the tests: each finding they keep reporting is
a ``Finding`` with its reason, printed among the notes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from secure_comprehend.policy.provisioning import REVOKE_ACTION
from secure_comprehend.policy.statements import listed
from secure_comprehend.policy.text import compact
from secure_comprehend.posture.ids import ROLE_ARN_RE
from secure_comprehend.posture.model import require_posture

if TYPE_CHECKING:
    from secure_comprehend.posture.model import Posture

Format = Literal["cloudformation", "terraform"]
FORMATS: tuple[Format, ...] = ("cloudformation", "terraform")
INLINE_POLICY_NAME = "secure-comprehend"  # the role's permissions, named as in docs/policies.md
SCP_NAME = "secure-comprehend"
TEMPLATE_BODY_LIMIT = 51_200  # bytes of a template passed inline (--template-body); 1 MB from S3
TEMPLATE_S3_LIMIT = 1_048_576  # a template from S3 (CloudFormation's quotas)
OUTPUTS_LIMIT = 200  # outputs per template


@dataclass(frozen=True)
class Finding:
    """A finding of a linter or scanner that the output keeps, and why.

    Attributes:
        tool: ``checkov`` or ``cfn-lint``.
        check: the tool's ID of the check (``CKV_AWS_109``, ``W3005``).
        resource: what it is reported on: a CloudFormation logical ID, or a Terraform
            ``TYPE.NAME`` address.
        why: why the output stays as it is.
    """

    tool: str
    check: str
    resource: str
    why: str

    def __str__(self) -> str:
        return f"{self.tool} {self.check} on {self.resource}: {self.why}"


@dataclass(frozen=True)
class Infrastructure:
    """A CloudFormation template or a Terraform module, and what whoever deploys it needs
    to know.

    Attributes:
        format: ``cloudformation`` or ``terraform``.
        document: the template or the module.
        text: the document as written (indented JSON).
        notes: what the documents cannot express, what to do with the output, and each
            finding kept (last).
        findings: what cfn-lint and checkov report on ``text``, each with its reason.
    """

    format: Format
    document: dict[str, Any]
    text: str
    notes: tuple[str, ...]
    findings: tuple[Finding, ...]


def infrastructure(
    posture: Posture, format: Format, *, region: str | None = None
) -> Infrastructure:
    """Every document of the posture as one CloudFormation template or one Terraform module:
    the identity deny policies and the SCPs, each data-access role with its permissions
    policy, and each key's key-policy statements as outputs.

    Args:
        posture: the posture.
        format: ``cloudformation`` (a JSON template) or ``terraform`` (a ``.tf.json`` module).
        region: only this region's effective posture; ``None``: every region it names.

    Returns:
        The template or module, its notes and the findings it keeps.

    Raises:
        PostureError: as ``deny_policies``, ``data_access_role_policies`` or ``key_policies``.
        TypeError: ``posture`` is not a Posture.
        ValueError: an unknown format.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, not {format!r}")
    sources, notes = _sources(require_posture(posture), region)
    build = _cloudformation if format == "cloudformation" else _terraform
    document, more, findings = build(sources)
    text = json.dumps(document, indent=2) + "\n"
    size, outputs = len(text.encode()), len(document.get("Outputs", {}))
    if format == "cloudformation" and (size > TEMPLATE_S3_LIMIT or outputs > OUTPUTS_LIMIT):
        more.append(
            f"The template is {size:,} bytes with {outputs} outputs: CloudFormation takes at most "
            f"{TEMPLATE_S3_LIMIT:,} bytes (from S3) and {OUTPUTS_LIMIT} outputs. Generate one "
            "template per region (--region R), each deployed in its own stack."
        )
    elif format == "cloudformation" and size > TEMPLATE_BODY_LIMIT:
        more.append(
            f"The template is {len(text.encode()):,} bytes, over the {TEMPLATE_BODY_LIMIT:,} "
            "CloudFormation takes inline: deploy it from S3 (aws cloudformation deploy "
            "--s3-bucket BUCKET)."
        )
    notes = [*notes, *more, *map(str, findings)]
    return Infrastructure(format, document, text, tuple(notes), tuple(findings))


def _sources(posture: Posture, region: str | None) -> tuple[dict[str, Any], list[str]]:
    """The documents of each kind, from the public functions, and their notes (each once,
    labelled with the kinds that gave it)."""
    from secure_comprehend.policy.iam import (
        data_access_role_policies,
        deny_policies,
        key_policies,
    )
    from secure_comprehend.policy.provisioning import _roles, key_arns

    results: dict[str, Any] = {
        "identity": deny_policies(posture, region=region),
        "scp": deny_policies(posture, scp=True, region=region),
    }
    missing: list[str] = []
    if _roles(posture, region):
        results["data-access-role"] = data_access_role_policies(posture, region=region)
        if key_arns(posture, region):
            results["key-policy"] = key_policies(posture, region=region)
        else:
            missing.append("The posture names no KMS key ARN: there are no key-policy outputs.")
    else:
        missing.append(
            "The posture names no data-access role ([iam] data_access_roles): there is no "
            "role, no permissions policy and no key-policy output."
        )
    labels: dict[str, list[str]] = {}
    for kind, result in results.items():
        for note in result.notes:
            labels.setdefault(note, []).append(kind)
    notes = [f"{', '.join(kinds)}: {note}" for note, kinds in labels.items()]
    return {kind: result.documents for kind, result in results.items()}, [*notes, *missing]


@dataclass(frozen=True)
class _Role:
    arn: str
    account: str
    name: str
    path: str
    trust: dict[str, Any]
    permissions: dict[str, Any]


def _roles_of(sources: dict[str, Any]) -> list[_Role]:
    roles = []
    for arn, documents in sources.get("data-access-role", {}).items():
        match = ROLE_ARN_RE.fullmatch(arn)
        assert match is not None  # validated by the posture
        *path, name = arn.split(":role/", 1)[1].split("/")
        roles.append(
            _Role(
                arn,
                match["account"],
                name,
                "/" + "".join(f"{part}/" for part in path),
                documents["TrustPolicy"],
                documents["PermissionsPolicy"],
            )
        )
    return roles


# What checkov's IAM checks (cloudsplaining) report on the permissions policy, and why it stays
_REVOKE_WHY = (
    f'{REVOKE_ACTION} is granted on "*" on purpose: its network-interface resource is '
    'optional in the IAM reference, so a request may be authorized against "*" alone and a '
    "scoped grant would deny Comprehend's clean-up of a VPC job; it only takes a permission "
    "away (the other EC2 writes are scoped to the posture's subnets, security groups and "
    "interfaces)."
)


def _revokes_anywhere(permissions: dict[str, Any]) -> bool:
    """The permissions policy grants REVOKE_ACTION on "*" (when [vpc] applies to the role)."""
    return any(
        s["Effect"] == "Allow" and s.get("Resource") == "*" and REVOKE_ACTION in listed(s["Action"])
        for s in permissions["Statement"]
    )


def _deploy_notes(what: str, roles: list[_Role], scp_switch: str, how: str) -> list[str]:
    notes = []
    if roles:
        accounts = ", ".join(sorted({r.account for r in roles}))
        notes.append(
            f"Deploy the {what} in the account of each data-access role ({accounts}): a role "
            "and its permissions policy are made only in the account its ARN names, so the "
            f"same {what} serves every account ({how})."
        )
    notes.append(
        f"The SCPs are made only where the {what} is deployed with {scp_switch}: the "
        "organization's management account, or a delegated administrator for Organizations "
        "policies."
    )
    return notes


def _key_note(what: str, where: str) -> str:
    return (
        f"The key-policy statements are outputs ({where}), not resources: a key's policy "
        f"holds statements the posture does not know, and a {what} cannot own the policy of "
        "a key it did not make. Merge them into each key's policy as the key-policy note "
        "says, then run doctor."
    )


# CloudFormation


def _cloudformation(sources: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[Finding]]:
    roles = _roles_of(sources)
    parameters: dict[str, Any] = {
        "DenyPolicyRoleNames": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Names of the roles the identity deny policies are attached to (the "
            "callers: notebooks, training, Lambda); empty: attach them yourself",
        },
        "CreateServiceControlPolicies": {
            "Type": "String",
            "AllowedValues": ["true", "false"],
            "Default": "false",
            "Description": "true only in the organization's management account (or a delegated "
            "administrator for Organizations policies): make the service control policies",
        },
        "ScpTargetIds": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Root, OU or account IDs the service control policies are attached "
            "to; empty: made, not attached",
        },
    }
    conditions: dict[str, Any] = {
        "AttachDenyPolicies": _not_empty("DenyPolicyRoleNames"),
        "CreateScps": {"Fn::Equals": [{"Ref": "CreateServiceControlPolicies"}, "true"]},
        "AttachScps": {"Fn::And": [{"Condition": "CreateScps"}, _not_empty("ScpTargetIds")]},
    }
    resources: dict[str, Any] = {}
    identity, scps = sources["identity"], sources["scp"]
    for i, document in enumerate(identity, 1):
        resources[f"DenyPolicy{i}"] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Description": "secure_comprehend: Comprehend calls outside the posture are "
                f"denied ({i} of {len(identity)})",
                "PolicyDocument": document,
                "Roles": _if("AttachDenyPolicies", {"Ref": "DenyPolicyRoleNames"}),
            },
        }
    for i, document in enumerate(scps, 1):
        resources[f"ServiceControlPolicy{i}"] = {
            "Type": "AWS::Organizations::Policy",
            "Condition": "CreateScps",
            "Properties": {
                "Name": SCP_NAME if len(scps) == 1 else f"{SCP_NAME}-{i}",
                "Description": "secure_comprehend: Comprehend calls outside the posture are "
                f"denied ({i} of {len(scps)})",
                "Type": "SERVICE_CONTROL_POLICY",
                # the compact text whose size was checked: Organizations counts every character
                "Content": compact(document),
                "TargetIds": _if("AttachScps", {"Ref": "ScpTargetIds"}),
            },
        }
    if roles:
        parameters["CreateDataAccessRoles"] = {
            "Type": "String",
            "AllowedValues": ["true", "false"],
            "Default": "true",
            "Description": "true: make each data-access role the posture names (in the account "
            "its ARN names); false: the roles exist, only their permissions policy is added",
        }
        conditions["CreateRoles"] = {"Fn::Equals": [{"Ref": "CreateDataAccessRoles"}, "true"]}
    for account in sorted({r.account for r in roles}):
        conditions[f"InAccount{account}"] = {"Fn::Equals": [{"Ref": "AWS::AccountId"}, account]}
        conditions[f"CreateRolesInAccount{account}"] = {
            "Fn::And": [{"Condition": "CreateRoles"}, {"Condition": f"InAccount{account}"}]
        }
    findings = []
    for i, role in enumerate(roles, 1):
        resources[f"DataAccessRole{i}"] = {
            "Type": "AWS::IAM::Role",
            "Condition": f"CreateRolesInAccount{role.account}",
            "Properties": {
                "RoleName": role.name,
                "Path": role.path,
                "Description": "secure_comprehend: the data-access role Comprehend assumes",
                "AssumeRolePolicyDocument": role.trust,
            },
        }
        if not role.permissions["Statement"]:  # it needs no more (a note says so)
            continue
        # AWS::IAM::Policy: the inline policy put-role-policy writes (docs/policies.md)
        resources[f"DataAccessRolePolicy{i}"] = {
            "Type": "AWS::IAM::Policy",
            "Condition": f"InAccount{role.account}",
            "Properties": {
                "PolicyName": INLINE_POLICY_NAME,
                "Roles": [
                    {
                        "Fn::If": [
                            f"CreateRolesInAccount{role.account}",
                            {"Ref": f"DataAccessRole{i}"},
                            role.name,
                        ]
                    }
                ],
                "PolicyDocument": role.permissions,
            },
        }
        if _revokes_anywhere(role.permissions):
            findings.append(
                Finding("checkov", "CKV_AWS_109", f"DataAccessRolePolicy{i}", _REVOKE_WHY)
            )
    keys = sources.get("key-policy", {})
    outputs = {
        f"KeyPolicyStatements{i}": {
            "Description": f"The statements to merge into the key policy of {key}",
            "Value": _compact(statements),
        }
        for i, (key, statements) in enumerate(keys.items(), 1)
    }
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "secure_comprehend: the account set-up the Comprehend posture needs "
        "(deny policies, SCPs, data-access roles; key-policy statements as outputs)",
        "Parameters": parameters,
        "Conditions": conditions,
        "Resources": resources,
    }
    if outputs:
        template["Outputs"] = outputs
    notes = _deploy_notes(
        "template", roles, "CreateServiceControlPolicies=true", "a StackSet, or one stack each"
    )
    notes.append(
        "An SCP's Content is the compact JSON text whose 5,120-character limit was checked "
        "(Organizations counts every character; CloudFormation would reserialize an object), "
        "so drift detection does not compare it."
    )
    if outputs:
        notes.append(_key_note("template", "KeyPolicyStatements1, ..., each naming its key"))
    return template, notes, findings


def _not_empty(parameter: str) -> dict[str, Any]:
    return {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": parameter}]}, ""]}]}


def _if(condition: str, value: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, value, {"Ref": "AWS::NoValue"}]}


# Terraform


def _literal(text: str) -> str:
    """``text`` as a Terraform JSON string that reads as ``text``: ``${`` and ``%{`` start
    Terraform's templates (and IAM policy variables are written ``${aws:username}``)."""
    return text.replace("${", "$${").replace("%{", "%%{")


def unliteral(text: str) -> str:
    """What Terraform reads in a string written by ``_literal``."""
    return text.replace("$${", "${").replace("%%{", "%{")


def _terraform(sources: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[Finding]]:
    roles = _roles_of(sources)
    variables: dict[str, Any] = {
        "deny_policy_role_names": {
            "type": "list(string)",
            "default": [],
            "description": "Names of the roles the identity deny policies are attached to (the "
            "callers: notebooks, training, Lambda); empty: attach them yourself",
        },
        "create_service_control_policies": {
            "type": "bool",
            "default": False,
            "description": "true only in the organization's management account (or a delegated "
            "administrator for Organizations policies): make the service control policies",
        },
        "scp_target_ids": {
            "type": "list(string)",
            "default": [],
            "description": "Root, OU or account IDs the service control policies are attached "
            "to; empty: made, not attached",
        },
    }
    resources: dict[str, dict[str, Any]] = {}

    def add(kind: str, name: str, body: dict[str, Any]) -> None:
        resources.setdefault(kind, {})[name] = body

    identity, scps = sources["identity"], sources["scp"]
    for i, document in enumerate(identity, 1):
        add(
            "aws_iam_policy",
            f"deny_{i}",
            {
                "name_prefix": f"secure-comprehend-deny-{i}-",
                "description": "secure_comprehend: Comprehend calls outside the posture are "
                f"denied ({i} of {len(identity)})",
                "policy": _literal(compact(document)),
            },
        )
        add(
            "aws_iam_role_policy_attachment",
            f"deny_{i}",
            {
                "for_each": "${toset(var.deny_policy_role_names)}",
                "role": "${each.value}",
                "policy_arn": f"${{aws_iam_policy.deny_{i}.arn}}",
            },
        )
    for i, document in enumerate(scps, 1):
        add(
            "aws_organizations_policy",
            f"scp_{i}",
            {
                "count": "${var.create_service_control_policies ? 1 : 0}",
                "name": SCP_NAME if len(scps) == 1 else f"{SCP_NAME}-{i}",
                "description": "secure_comprehend: Comprehend calls outside the posture are "
                f"denied ({i} of {len(scps)})",
                "type": "SERVICE_CONTROL_POLICY",
                "content": _literal(compact(document)),  # the text whose size was checked
            },
        )
        add(
            "aws_organizations_policy_attachment",
            f"scp_{i}",
            {
                "for_each": "${var.create_service_control_policies ? "
                "toset(var.scp_target_ids) : toset([])}",
                "policy_id": f"${{aws_organizations_policy.scp_{i}[0].id}}",
                "target_id": "${each.value}",
            },
        )
    module: dict[str, Any] = {
        "//": "secure_comprehend: the account set-up the Comprehend posture needs (deny "
        "policies, SCPs, data-access roles; key-policy statements as an output). Made by "
        "secure-comprehend policy --format terraform: make it again rather than edit it.",
        "terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}},
        "variable": variables,
    }
    if roles:
        variables["create_data_access_roles"] = {
            "type": "bool",
            "default": True,
            "description": "true: make each data-access role the posture names (in the account "
            "its ARN names); false: the roles exist, only their permissions policy is added",
        }
        module["data"] = {"aws_caller_identity": {"current": {}}}
        module["locals"] = {"account_id": "${data.aws_caller_identity.current.account_id}"}
    revoking = []
    for i, role in enumerate(roles, 1):
        here = f'local.account_id == "{role.account}"'
        add(
            "aws_iam_role",
            f"data_access_{i}",
            {
                "count": f"${{var.create_data_access_roles && {here} ? 1 : 0}}",
                "name": role.name,
                "path": role.path,
                "description": "secure_comprehend: the data-access role Comprehend assumes",
                "assume_role_policy": _literal(compact(role.trust)),
            },
        )
        if not role.permissions["Statement"]:
            continue
        add(
            "aws_iam_role_policy",
            f"data_access_{i}",
            {
                "count": f"${{{here} ? 1 : 0}}",
                "name": INLINE_POLICY_NAME,
                "role": role.name,  # the role made above, or the existing one
                "policy": _literal(compact(role.permissions)),
                "depends_on": [f"aws_iam_role.data_access_{i}"],
            },
        )
        if _revokes_anywhere(role.permissions):
            revoking.append(f"aws_iam_role_policy.data_access_{i}")
    module["resource"] = resources
    keys = sources.get("key-policy", {})
    if keys:
        module["output"] = {
            "key_policy_statements": {
                "description": "Per key ARN: the statements to merge into its key policy (JSON)",
                "value": {key: _literal(_compact(s)) for key, s in keys.items()},
            }
        }
    notes = _deploy_notes(
        "module",
        roles,
        "create_service_control_policies = true",
        "applied once per account, with that account's credentials",
    )
    if keys:
        notes.append(_key_note("module", "key_policy_statements: key ARN to JSON statements"))
    notes.append(
        "checkov's Terraform JSON runner does not read policy text: its IAM content checks "
        "(CKV_AWS_286 to CKV_AWS_290, CKV_AWS_355) report nothing on this module. The same "
        "documents are checked in the CloudFormation template (--format cloudformation)"
        + (
            f", where CKV_AWS_109 is kept on each role's permissions policy; on "
            f"{', '.join(revoking)} CKV_AWS_289 and CKV_AWS_355 are the same finding: "
            + _REVOKE_WHY
            if revoking
            else "."
        )
    )
    return module, notes, []


def _compact(value: Any) -> str:
    """Compact JSON of any value (``compact`` takes a document)."""
    return json.dumps(value, separators=(",", ":"))
