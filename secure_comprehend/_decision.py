"""The decision core: (operation, params, posture) -> Decision. Pure and total.

No I/O, no client, no logging: it returns the amended request and every
violation at once. The caller's objects are never mutated: containers on the
path of a change are copied, everything else is shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_comprehend._display import short_repr
from secure_comprehend._errors import Violation
from secure_comprehend._ids import KMS_MAX_LEN, ROLE_ARN_RE, SECURITY_GROUP_RE, SUBNET_RE, parse_kms
from secure_comprehend._operations import (
    CORE_KINDS,
    Member,
    OperationSpec,
    default_model,
    operation_name,
)
from secure_comprehend._perimeter import perimeter
from secure_comprehend._posture import EffectivePosture, Posture, require_posture
from secure_comprehend._regions import check_region

ABSENT: Any = object()  # a member the request does not carry (None could be a value)
# VpcConfig members: (name, API maximum, pattern, what it must look like)
_VPC_LISTS = (
    ("Subnets", 16, SUBNET_RE, "subnet- and 8 or 17 hex digits"),
    ("SecurityGroupIds", 5, SECURITY_GROUP_RE, "sg- and 8 or 17 hex digits"),
)


@dataclass(frozen=True, repr=False)
class Decision:
    """What the posture makes of one request.

    Attributes:
        operation: the operation name.
        params: the request as it would be sent (the caller's, amended).
        injected: member paths filled in from the posture.
        rewritten: member paths whose value was normalised (a bare key ID to its ARN).
        violations: every way the request breaks the posture.
    """

    operation: str
    params: dict[str, Any]
    injected: tuple[str, ...] = ()
    rewritten: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()

    @property
    def allowed(self) -> bool:
        """No violations, whatever the mode."""
        return not self.violations

    def __repr__(self) -> str:
        verdict = "compliant" if self.allowed else f"{len(self.violations)} violation(s)"
        changed = f", filled in {len(self.injected)}" if self.injected else ""
        changed += f", rewrote {len(self.rewritten)}" if self.rewritten else ""
        return f"<Decision {self.operation}: {verdict}{changed}>"

    def __str__(self) -> str:
        lines = [f"{self.operation}: {'compliant' if self.allowed else 'not compliant'}"]
        for label, paths in (
            ("filled in", self.injected),
            ("key IDs rewritten to ARNs", self.rewritten),
        ):
            if paths:
                lines.append(f"  {label}: {', '.join(paths)}")
        lines += [f"  violation: {v}" for v in self.violations]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table

        rows: list[tuple[str, object, str, str]] = [
            (path, value_at(self.params, path), "filled in", "the posture's default")
            for path in self.injected
        ]
        rows += [
            (path, value_at(self.params, path), "rewritten", "an approved key ID, sent as its ARN")
            for path in self.rewritten
        ]
        rows += [(v.path, v.value, "not approved", v.reason) for v in self.violations]
        caption = f"{self.operation}: {'compliant' if self.allowed else 'not compliant'}"
        return html_table(caption, ("member", "value", "status", "why"), rows)


def value_at(params: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted member path; None where the path ends early."""
    node: Any = params
    for name in dotted.split("."):
        node = node.get(name) if isinstance(node, Mapping) else None
    return node


class _Draft:
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


def decide(spec: OperationSpec, params: Mapping[str, Any], posture: EffectivePosture) -> Decision:
    """Apply the posture to one request of a covered operation.

    Total: a request too deep or too strange to check (a mapping whose methods
    raise, say) is a violation, never an exception.
    """
    try:
        return _decide(spec, params, posture)
    except Exception as exc:  # RecursionError included: fail closed, name what happened
        reason = f"cannot be checked ({type(exc).__name__}: {short_repr(str(exc))})"
        return Decision(
            spec.name, _plain(params), violations=(Violation(spec.name, "(request)", None, reason),)
        )


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return dict(params)
    except Exception:  # a mapping that cannot even be copied is sent as nothing
        return {}


def _decide(spec: OperationSpec, params: Mapping[str, Any], posture: EffectivePosture) -> Decision:
    draft = _Draft(spec, params)
    for path in spec.unknown:
        draft.refuse(
            path,
            draft.get(tuple(path.split("."))) if "[" not in path else None,
            "security-relevant member this version of secure_comprehend does not understand; "
            "the operation is refused until secure_comprehend is upgraded",
        )
    for member in spec.members:
        if member.kind == "vpc":
            _vpc(draft, member, posture)
        elif member.kind == "role":
            _role(draft, member, posture)
        elif member.kind in CORE_KINDS:
            _kms(draft, member, posture)
    if posture.s3 is not None or posture.models is not None:
        params_now = draft.root if draft.root is not None else params
        draft.violations.extend(perimeter(spec, params_now, posture))
    return Decision(
        spec.name,
        draft.root if draft.root is not None else dict(params),
        tuple(draft.injected),
        tuple(draft.rewritten),
        tuple(draft.violations),
    )


def _inject(draft: _Draft, member: Member, value: Any) -> None:
    if not draft.spec.is_update and draft.can_set(member):
        draft.set(member.path, value)
        draft.injected.append(member.dotted)


def _vpc(draft: _Draft, member: Member, posture: EffectivePosture) -> None:
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


def _kms(draft: _Draft, member: Member, posture: EffectivePosture) -> None:
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


def _role(draft: _Draft, member: Member, posture: EffectivePosture) -> None:
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


def evaluate(
    operation: str,
    params: Mapping[str, Any],
    posture: Posture,
    *,
    region: str,
    partition: str | None = None,
) -> Decision:
    """Decide a request against a posture without calling AWS.

    Args:
        operation: ``CreateDocumentClassifier`` or ``create_document_classifier``.
        params: the request parameters as given to the boto3 method.
        posture: the posture to apply.
        region: the region the request would go to (selects ``[regions.*]`` sections).
        partition: the region's partition; ``None`` asks botocore. Checked against key ARNs.

    Returns:
        The decision: the request as it would be sent, what was injected, every violation.

    Raises:
        TypeError: an argument of the wrong type (a dict for ``posture``, ``None`` for
            ``region``), named.
        ValueError: ``operation`` is no Comprehend operation.
        PostureError: ``region`` is no region botocore knows, or the posture is not
            valid for it.
    """
    if not isinstance(operation, str):
        raise TypeError(
            f"operation must be an operation name (str), not {type(operation).__name__}"
        )
    if not isinstance(params, Mapping):
        raise TypeError(
            f"params must be a mapping of request parameters, not {type(params).__name__}"
        )
    if not isinstance(region, str):
        raise TypeError(f"region must be a region name (str), not {type(region).__name__}")
    checked = require_posture(posture)
    check_region(region, "region")
    name = operation_name(operation)
    spec = default_model()[1].get(name)
    if spec is None or not spec.governed(checked.s3 is not None, checked.models is not None):
        return Decision(name, _plain(params))
    effective = checked.effective(region, partition)
    return decide(spec, params, effective)
