"""The decision core: (operation, params, posture) -> Decision. Pure and total.

No I/O, no client, no logging: it returns the amended request and every
violation at once. The caller's objects are never mutated: containers on the
path of a change are copied, everything else is shared. Each member is judged
in ``decision.members``; the [s3] and [models] perimeter in ``decision.perimeter``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from secure_comprehend._display import short_repr
from secure_comprehend._errors import Violation
from secure_comprehend.decision.members import Draft, judge_kms, judge_role, judge_vpc
from secure_comprehend.decision.operations import default_model, operation_name
from secure_comprehend.decision.perimeter import perimeter
from secure_comprehend.decision.spec import OperationSpec
from secure_comprehend.posture.kinds import CORE_KINDS
from secure_comprehend.posture.model import EffectivePosture, Posture, require_posture
from secure_comprehend.posture.regions import check_region


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
    draft = Draft(spec, params)
    for path in spec.unknown:
        draft.refuse(
            path,
            draft.get(tuple(path.split("."))) if "[" not in path else None,
            "security-relevant member this version of secure_comprehend does not understand; "
            "the operation is refused until secure_comprehend is upgraded",
        )
    for member in spec.members:
        if member.kind == "vpc":
            judge_vpc(draft, member, posture)
        elif member.kind == "role":
            judge_role(draft, member, posture)
        elif member.kind in CORE_KINDS:
            judge_kms(draft, member, posture)
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
