"""What the account needs for the posture: the data-access role and the key policies.

The Deny-only documents of ``policy.iam`` keep requests inside the posture; these are
the Allow side, so that jobs inside the posture succeed: the trust and
permissions policies of each data-access role, and the statement each KMS key's
policy needs so those roles can use it. Nothing beyond what the posture names:
no wildcard resource for KMS, EC2 network-interface actions only when [vpc] is
configured, no S3 access (it depends on your buckets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import PostureError
from secure_comprehend.policy.statements import COMPREHEND_PRINCIPAL
from secure_comprehend.policy.text import VERSION, compact, document
from secure_comprehend.posture.ids import ROLE_ARN_RE, parse_kms

if TYPE_CHECKING:
    from secure_comprehend.posture.model import Posture

# What the data-access role needs for VPC jobs and for KMS encryption (Comprehend's guide).
# The ones that act on an existing interface, which the IAM reference requires it for: it
# gives each the ec2:Subnet key (the ARN of the interface's subnet), so they are granted for
# interfaces in the posture's subnets only. CreateNetworkInterface has no such key on the
# interface; it is limited by its subnet and security-group resources.
ENI_IN_SUBNET_ACTIONS = ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface")
# Its network-interface resource is optional in the IAM reference: a request may be
# authorized against "*" alone, which a scoped grant would deny, failing the job's clean-up.
# It only takes a permission away.
REVOKE_ACTION = "ec2:DeleteNetworkInterfacePermission"
ENI_ACTIONS = ("ec2:CreateNetworkInterface", *ENI_IN_SUBNET_ACTIONS, REVOKE_ACTION)
DESCRIBE_ACTIONS = (  # no resource-level permissions: Resource "*"
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
VPC_ACTIONS = ENI_ACTIONS + DESCRIBE_ACTIONS


def network_interfaces(partition: str) -> str:
    """Any network interface: the ones a job creates do not exist when the policy is written."""
    return f"arn:{partition}:ec2:*:*:network-interface/*"


def subnet_arns(partition: str, subnets: list[str]) -> list[str]:
    """The posture's subnets (any region and account: the IDs are unique and name their own)."""
    return [f"arn:{partition}:ec2:*:*:subnet/{s}" for s in subnets]


def network_resources(partition: str, subnets: list[str], groups: list[str]) -> list[str]:
    """What CreateNetworkInterface acts on: the new interface, and only the posture's subnets
    and security groups (any region and account: the IDs are unique and name their own)."""
    return [
        network_interfaces(partition),
        *subnet_arns(partition, subnets),
        *(f"arn:{partition}:ec2:*:*:security-group/{g}" for g in groups),
    ]


KMS_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey", "kms:RetireGrant")
# IAM: managed policy 6,144 characters, trust policy 2,048 (default quota); KMS key policy 32 KiB.
_LIMITS = {"permissions": 6144, "trust": 2048, "key policy": 32768}


@dataclass(frozen=True)
class _Scope:
    """The sections that hold together somewhere: the top level, or a region's overlay."""

    vpc: Any
    kms: Any
    iam: Any

    def roles(self) -> frozenset[str]:
        return frozenset(self.iam.data_access_roles) if self.iam is not None else frozenset()

    def key_arns(self) -> frozenset[str]:
        kms = self.kms
        if kms is None:
            return frozenset()
        texts = [
            kms.volume_key,
            kms.output_key,
            kms.model_key,
            kms.data_lake_key,
            *kms.also_allowed,
        ]
        refs = (parse_kms(t) for t in texts if t)
        return frozenset(r.text for r in refs if r is not None and r.form == "key_arn")


def _scopes(posture: Posture, region: str | None) -> list[_Scope]:
    """The top level and each region's overlay (a region's section replaces the top's)."""

    def overlay(name: str) -> _Scope:
        return _Scope(*(posture.section_in(s, name)[0] for s in ("vpc", "kms", "iam")))

    if region is not None:
        posture.effective(region)  # the same checks as a client there
        return [overlay(region)]
    return [_Scope(posture.vpc, posture.kms, posture.iam), *map(overlay, sorted(posture.regions))]


def key_arns(posture: Posture, region: str | None = None) -> list[str]:
    """Every KMS key ARN the posture names (defaults and also_allowed), sorted."""
    return sorted({k for scope in _scopes(posture, region) for k in scope.key_arns()})


def _roles(posture: Posture, region: str | None) -> list[str]:
    return sorted({r for scope in _scopes(posture, region) for r in scope.roles()})


def data_access_role(
    posture: Posture, region: str | None = None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per data-access role: its trust policy and the permissions policy the posture needs.

    Returns:
        (role ARN -> {"TrustPolicy": ..., "PermissionsPolicy": ...}, notes)

    Raises:
        PostureError: the posture names no data-access role, or a document is over its limit.
    """
    roles = _roles(posture, region)
    if not roles:
        raise PostureError("the posture names no data-access role: add [iam] data_access_roles")
    scopes = _scopes(posture, region)
    notes = []
    if posture.s3 is None:
        notes.append(
            "S3 access depends on your buckets and is left out (add [s3] allowed_buckets to have "
            "it generated): grant s3:GetObject and s3:ListBucket on the input, s3:PutObject on "
            "the output."
        )
    aliases = sorted(
        {
            a
            for s in scopes
            if s.kms is not None
            for a in s.kms.also_allowed
            if (ref := parse_kms(a)) is not None and ref.form != "key_arn"
        }
    )
    if aliases:
        notes.append(f"Aliases {', '.join(aliases)}: add the ARN of the key each names.")
    if posture.s3 is not None:
        notes.append(
            "S3 access is granted on the approved buckets of the role's own account only "
            "(s3:ResourceAccount): add the account of a bucket that lives elsewhere."
        )
    if len(scopes) > 1:
        notes.append(
            "Each role is granted the subnets, security groups and keys of the regions that "
            "approve it, and nothing of the others."
        )
    documents: dict[str, dict[str, Any]] = {}
    for role in roles:
        match = ROLE_ARN_RE.fullmatch(role)
        assert match is not None  # validated by the posture
        account, partition = match["account"], match["partition"]
        trust = {
            "Version": VERSION,
            "Statement": [
                {
                    "Sid": "ComprehendAssumesThisRole",
                    "Effect": "Allow",
                    "Principal": {"Service": COMPREHEND_PRINCIPAL},
                    "Action": "sts:AssumeRole",
                    # against the confused deputy: only Comprehend acting for this account
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:{partition}:comprehend:*:{account}:*"},
                    },
                }
            ],
        }
        mine = [scope for scope in scopes if role in scope.roles()]
        statements = _permissions(posture, mine, partition, account)
        permissions = document(statements)
        _check_size("trust", role, trust)
        _check_size("permissions", role, permissions)
        documents[role] = {"TrustPolicy": trust, "PermissionsPolicy": permissions}
        if not statements:
            notes.append(f"{role}: no [vpc], KMS key or [s3] applies to it: it needs no more.")
    return documents, notes


def _permissions(
    posture: Posture, scopes: list[_Scope], partition: str, account: str
) -> list[dict[str, Any]]:
    """The Allow statements a role needs in these scopes: ENIs, keys, buckets."""
    statements: list[dict[str, Any]] = []
    vpcs = [s.vpc for s in scopes if s.vpc is not None]
    if vpcs:
        subnets = sorted({n for v in vpcs for n in v.subnets})
        groups = sorted({g for v in vpcs for g in v.security_group_ids})
        statements.append(
            {
                "Sid": "ComprehendJobNetworkInterfaces",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": network_resources(partition, subnets, groups),
            }
        )
        if subnets:  # never an empty condition: [vpc] names at least one subnet
            statements.append(
                {
                    "Sid": "ComprehendJobNetworkInterfacesInThePostureSubnets",
                    "Effect": "Allow",
                    "Action": list(ENI_IN_SUBNET_ACTIONS),
                    "Resource": network_interfaces(partition),
                    "Condition": {"ArnLike": {"ec2:Subnet": subnet_arns(partition, subnets)}},
                }
            )
        statements.append(
            {
                "Sid": "ComprehendDescribesTheNetwork",
                "Effect": "Allow",
                "Action": [*DESCRIBE_ACTIONS, REVOKE_ACTION],
                "Resource": "*",
            }
        )
    keys = sorted({k for s in scopes for k in s.key_arns()})
    if keys:
        statements.append(
            {
                "Sid": "ComprehendUsesThePostureKeys",
                "Effect": "Allow",
                "Action": list(KMS_ACTIONS),
                "Resource": keys,
            }
        )
    if posture.s3 is not None:
        buckets = sorted(posture.s3.allowed_buckets)
        # bucket names are global: a prefix (corp-ml-*) matches anyone's bucket, so the
        # grant holds only for buckets of the role's own account
        owned = {"StringEquals": {"s3:ResourceAccount": account}}
        statements.append(
            {
                "Sid": "ComprehendReadsAndWritesTheApprovedBuckets",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:{partition}:s3:::{b}/*" for b in buckets],
                "Condition": owned,
            }
        )
        statements.append(
            {
                "Sid": "ComprehendListsTheApprovedBuckets",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [f"arn:{partition}:s3:::{b}" for b in buckets],
                "Condition": owned,
            }
        )
    return statements


def key_policy(
    posture: Posture, region: str | None = None
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Per KMS key ARN: the statement its key policy needs for the data-access roles.

    Raises:
        PostureError: the posture names no key ARN or no data-access role.
    """
    scopes = _scopes(posture, region)
    keys, roles = key_arns(posture, region), _roles(posture, region)
    if not keys or not roles:
        raise PostureError("a key policy needs [kms] key ARNs and [iam] data_access_roles")
    notes = [
        "Add each statement to the key policy of its key (aws kms put-key-policy replaces the "
        "whole policy: merge with the current one from aws kms get-key-policy).",
    ]
    documents: dict[str, list[dict[str, Any]]] = {}
    for key in keys:
        users = sorted({r for scope in scopes if key in scope.key_arns() for r in scope.roles()})
        if not users:
            notes.append(f"{key}: no data-access role applies where this key does: no statement.")
            continue
        statement = {
            "Sid": "AllowComprehendDataAccessRoles",
            "Effect": "Allow",
            "Principal": {"AWS": users},
            "Action": list(KMS_ACTIONS),
            "Resource": "*",  # in a key policy, "*" is the key itself
        }
        _check_size("key policy", key, document([statement]))
        documents[key] = [statement]
    return documents, notes


def _check_size(what: str, subject: str, document: dict[str, Any]) -> None:
    size = len(compact(document))
    if size > _LIMITS[what]:
        raise PostureError(
            f"the {what} for {subject} is {size} characters, over the {_LIMITS[what]:,} limit: "
            "give each region's [regions.R.iam] section a role of its own (a role is granted "
            "the subnets and keys of the regions that approve it), or approve fewer subnets"
        )
