"""How each security member of a request is judged: VpcConfig, KMS keys, roles.

On a copy-on-write ``Draft`` of the request: a member the request lacks is
injected from the posture, an approved one is kept (a bare key ID or alias name of
an approved key is rewritten to its ARN), anything else is a violation. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secure_comprehend._errors import Violation
from secure_comprehend.decision.spec import Member, OperationSpec
from secure_comprehend.posture.ids import (
    KMS_MAX_LEN,
    ROLE_ARN_RE,
    SECURITY_GROUP_RE,
    SUBNET_RE,
    parse_kms,
)
from secure_comprehend.posture.model import EffectivePosture

ABSENT: Any = object()  # a member the request does not carry (None could be a value)
MAX_SUBNETS, MAX_SECURITY_GROUPS = 16, 5  # the API's limits for one VpcConfig
# VpcConfig members: (name, API maximum, pattern, what it must look like)
_VPC_LISTS = (
    ("Subnets", MAX_SUBNETS, SUBNET_RE, "subnet- and 8 or 17 hex digits"),
    ("SecurityGroupIds", MAX_SECURITY_GROUPS, SECURITY_GROUP_RE, "sg- and 8 or 17 hex digits"),
)


class Draft:
    """A copy-on-write view of a request while a decision is made."""

    __slots__ = ("copied", "injected", "params", "rewritten", "root", "spec", "violations")

    def __init__(self, spec: OperationSpec, params: Mapping[str, Any]) -> None:
        self.spec = spec
        self.params = params
        self.root: dict[str, Any] | None = None
        self.copied: set[tuple[str, ...]] = set()
        self.injected: list[str] = []
        self.rewritten: list[str] = []
        self.violations: list[Violation] = []

    def get(self, path: tuple[str, ...]) -> Any:
        node: Any = self.root if self.root is not None else self.params
        for name in path:
            if type(node) is not dict and not isinstance(node, Mapping):
                return ABSENT
            node = node.get(name, ABSENT)
            if node is ABSENT:
                return ABSENT
        return node

    def can_set(self, member: Member) -> bool:
        """Whether every container on the path exists as a mapping or may be built."""
        for depth in range(1, len(member.path)):
            node = self.get(member.path[:depth])
            if node is ABSENT:
                return member.buildable
            if type(node) is not dict and not isinstance(node, Mapping):
                self.refuse(".".join(member.path[:depth]), node, "must be a structure")
                return False
        return True

    def set(self, path: tuple[str, ...], value: Any) -> None:
        if self.root is None:
            self.root = dict(self.params)
        node = self.root
        for depth, name in enumerate(path[:-1], start=1):
            prefix = path[:depth]
            child = node.get(name, ABSENT)
            if prefix not in self.copied:
                child = {} if child is ABSENT else dict(child)
                node[name] = child
                self.copied.add(prefix)
            node = child
        node[path[-1]] = value

    def refuse(self, path: str, value: Any, reason: str, allowed: tuple[str, ...] = ()) -> None:
        self.violations.append(Violation(self.spec.name, path, value, reason, allowed))


def _inject(draft: Draft, member: Member, value: Any) -> None:
    if not draft.spec.is_update and draft.can_set(member):
        draft.set(member.path, value)
        draft.injected.append(member.dotted)


def judge_vpc(draft: Draft, member: Member, posture: EffectivePosture) -> None:
    vpc = posture.vpc
    if vpc is None:
        return
    value = draft.get(member.path)
    if value is ABSENT:
        _inject(
            draft,
            member,
            {"Subnets": list(vpc.subnets), "SecurityGroupIds": list(vpc.security_group_ids)},
        )
        return
    if type(value) is not dict and not isinstance(value, Mapping):
        draft.refuse(member.dotted, value, "must be a structure with Subnets and SecurityGroupIds")
        return
    completed = dict(value)
    approved_by_part = {
        "Subnets": (posture.subnets, vpc.subnets),
        "SecurityGroupIds": (posture.security_groups, vpc.security_group_ids),
    }
    for part, limit, pattern, form in _VPC_LISTS:
        approved, defaults = approved_by_part[part]
        path = f"{member.dotted}.{part}"
        items = completed.get(part, ABSENT)
        if items is ABSENT:
            completed[part] = list(defaults)
            draft.injected.append(path)
            continue
        if not isinstance(items, (list, tuple)) or not 1 <= len(items) <= limit:
            draft.refuse(path, items, f"must be a list of 1 to {limit} IDs")
            continue
        for i, item in enumerate(items):
            if isinstance(item, str) and item in approved:  # approved IDs are well-formed
                continue
            if not isinstance(item, str) or not pattern.fullmatch(item):
                draft.refuse(f"{path}[{i}]", item, f"malformed ID: must be {form}")
            else:
                draft.refuse(f"{path}[{i}]", item, "not approved", tuple(defaults))
    if len(completed) != len(value):
        draft.set(member.path, completed)


def judge_kms(draft: Draft, member: Member, posture: EffectivePosture) -> None:
    approved = posture.approved_keys.get(member.kind)
    if approved is None:
        return
    value = draft.get(member.path)
    if value is ABSENT:
        default = posture.default_key(member.kind)
        if default is not None:
            _inject(draft, member, default)
        return
    if (
        isinstance(value, str)
        and value in approved
        and (member.accepts_alias or "alias/" not in value)
    ):
        return  # the common case: an approved key ARN
    if not isinstance(value, str) or not value.isascii() or not 1 <= len(value) <= KMS_MAX_LEN:
        draft.refuse(member.dotted, value, f"malformed: must be ASCII text of 1 to {KMS_MAX_LEN}")
        return
    ref = parse_kms(value)
    if ref is None:
        draft.refuse(
            member.dotted, value, "malformed: not a KMS key ID, key ARN, alias name or alias ARN"
        )
        return
    if ref.form in ("alias_arn", "alias_name") and not member.accepts_alias:
        draft.refuse(member.dotted, value, "this member takes a key ID or key ARN, not an alias")
        return
    if ref.form == "key_id":
        full = posture.key_arn_by_id.get(value)
    elif ref.form == "alias_name":
        full = posture.alias_arn_by_name.get(value)
    else:
        full = None
    if full is not None and full in approved:
        draft.set(member.path, full)
        draft.rewritten.append(member.dotted)
        return
    allowed = tuple(sorted(k for k in approved if member.accepts_alias or "alias/" not in k))
    draft.refuse(member.dotted, value, "KMS key not approved", allowed)


def judge_role(draft: Draft, member: Member, posture: EffectivePosture) -> None:
    iam = posture.iam
    if iam is None:
        return
    value = draft.get(member.path)
    if value is ABSENT:
        _inject(draft, member, iam.data_access_roles[0])
        return
    if isinstance(value, str) and value in posture.roles:
        return
    if not isinstance(value, str) or not ROLE_ARN_RE.fullmatch(value):
        draft.refuse(member.dotted, value, "malformed: not an IAM role ARN")
    else:
        draft.refuse(member.dotted, value, "role not approved", iam.data_access_roles)
