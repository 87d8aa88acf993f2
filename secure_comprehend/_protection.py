"""What one protected client's handlers do: apply the posture, check what is sent.

``_enforcement`` installs these on a client's events and swaps them when the
posture changes; this module holds the per-request work and its log records.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from secure_comprehend._decision import Decision, decide
from secure_comprehend._display import short_repr
from secure_comprehend._errors import PostureViolation, Violation
from secure_comprehend._final_check import final_check
from secure_comprehend._wire import UnreadableBody, read_body

if TYPE_CHECKING:
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.model import OperationModel

    from secure_comprehend._operation_spec import OperationSpec
    from secure_comprehend._posture import EffectivePosture
    from secure_comprehend._provenance import ModelVerifier

logger = logging.getLogger("secure_comprehend")  # no handler: Python's last resort shows WARNINGs

_CHECKED = "_secure_comprehend_checked"  # on a request: (body, operation) as checked


class Protection:
    """The posture of one client: what its covered operations get."""

    __slots__ = (
        "about",
        "enforce",
        "posture",
        "problem",
        "protocol",
        "specs",
        "verifiable",
        "verifier",
    )

    def __init__(
        self,
        specs: dict[str, OperationSpec],
        posture: EffectivePosture | None,
        problem: str | None,
        mode: str,
        protocol: str,
        verifier: ModelVerifier | None = None,
        about: str = "(region)",
    ) -> None:
        self.specs = specs
        self.verifier = verifier  # [models] verify: describes the models requests name
        self.posture = posture
        self.problem = problem  # why there is no posture: the region's, or none to be had
        self.about = about  # what the problem is about, as a violation's member path
        self.verifiable = True  # False: [models] verify cannot run here (audit, async)
        self.protocol = protocol
        self.enforce = mode != "audit"  # anything unexpected enforces

    def _no_posture(self, spec: OperationSpec) -> tuple[Violation, ...]:
        return (Violation(spec.name, self.about, None, str(self.problem)),)

    def apply(self, params: MutableMapping[str, Any], model: OperationModel, **_: Any) -> None:
        """before-parameter-build: fill in the posture, refuse in enforce mode."""
        spec = self.specs.get(model.name)
        if spec is None:
            return
        if self.posture is None:
            decision = Decision(spec.name, dict(params), violations=self._no_posture(spec))
        else:
            decision = decide(spec, params, self.posture)
        if decision.violations and self.enforce:
            _refuse(spec.name, decision.violations)
        provenance = self._provenance(spec, decision)  # describes: only once the rest holds
        if provenance:  # refused, or in audit mode logged (the final check does not describe)
            self._report(spec.name, provenance)
        if self.posture is None:  # audit mode: say now why nothing is filled in
            self._report(spec.name, decision.violations)
            return
        # audit mode: what is missing is still filled in; violations are logged once,
        # for the request as sent, by check_sent
        if decision.injected or decision.rewritten:
            params.update(decision.params)  # decide() copied every container it changed
            _log_amended(decision)
            if logger.isEnabledFor(logging.DEBUG):  # the repr costs more than the decision
                logger.debug("%s: request with the posture: %s", spec.name, short_repr(params))

    def _provenance(self, spec: OperationSpec, decision: Decision) -> tuple[Violation, ...]:
        posture, verifier = self.posture, self.verifier
        if posture is None or verifier is None or not self.verifiable:
            return ()
        if not (posture.models and posture.models.verify):
            return ()
        return tuple(verifier.violations(spec, decision.params, posture))

    def check_sent(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        """before-send: the serialized request must need no amending."""
        built = event_name.rpartition(".")[2]
        sent = sent_operation(request, self.protocol)
        spec = self.specs.get(sent or built)
        violations: tuple[Violation, ...] = ()
        if sent != built:  # a handler re-targeted the request after it was built
            name = spec.name if spec else (sent or built)
            reason = f"the request is sent as {sent or 'an unknown operation'}, built as {built}"
            violations = (Violation(name, "(operation)", None, reason),)
        if spec is not None:
            violations += self._check_body(spec, request)
        if violations:
            self._report(spec.name if spec else built, violations)
        setattr(request, _CHECKED, (request.body, sent))

    def check_wire(self, request: AWSPreparedRequest) -> None:
        """At botocore's HTTP send: whatever ran after the last check, check what goes out."""
        checked = getattr(request, _CHECKED, None)
        sent = sent_operation(request, self.protocol)
        if checked == (request.body, sent):
            return
        built = checked[1] if checked else sent  # what the request was checked as
        self.check_sent(request, f"before-send.comprehend.{built or ''}")

    def recheck(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        """before-send, last: check again if the body or operation changed since."""
        checked = getattr(request, _CHECKED, None)
        if checked != (request.body, sent_operation(request, self.protocol)):
            self.check_sent(request, event_name)

    def _check_body(
        self, spec: OperationSpec, request: AWSPreparedRequest
    ) -> tuple[Violation, ...]:
        if self.posture is None:  # in audit mode, apply() logged it already
            return self._no_posture(spec) if self.enforce else ()
        try:
            sent = read_body(self.protocol, request.body)
        except UnreadableBody as exc:
            return (Violation(spec.name, "(body)", None, f"cannot be checked: {exc}"),)
        found = final_check(spec, sent, self.posture)
        if not found and self.enforce:  # a model swapped in after build: judged too (cached)
            found = self._provenance(spec, Decision(spec.name, sent))
        return found

    def _report(self, operation: str, violations: tuple[Violation, ...]) -> None:
        if self.enforce:
            _refuse(operation, violations)
        logger.warning(
            "audit mode, sent anyway: %s: %d posture violation(s)\n%s",
            operation,
            len(violations),
            _lines(violations),
            extra=_extra(operation, violations, "audit"),
        )


def _refuse(operation: str, violations: tuple[Violation, ...]) -> None:
    logger.warning(
        "refused %s: %d posture violation(s); nothing was sent\n%s",
        operation,
        len(violations),
        _lines(violations),
        extra=_extra(operation, violations, "enforce"),
    )
    raise PostureViolation(operation, violations)


def sent_operation(request: AWSPreparedRequest, protocol: str) -> str | None:
    """The operation a serialized request names: X-Amz-Target (JSON) or the CBOR path."""
    if protocol == "smithy-rpc-v2-cbor":
        path = str(request.url).split("?", 1)[0]
        _, found, name = path.rpartition("/operation/")
        return name if found and name else None
    target = request.headers.get("X-Amz-Target")
    if isinstance(target, bytes):
        target = target.decode("ascii", "replace")
    if not isinstance(target, str) or "." not in target:
        return None
    return target.rpartition(".")[2]


def _lines(violations: tuple[Violation, ...]) -> str:
    return "\n".join(f"  - {v}" for v in violations)


def _extra(operation: str, violations: tuple[Violation, ...], mode: str) -> dict[str, Any]:
    return {"operation": operation, "mode": mode, "violations": [v.path for v in violations]}


def _log_amended(decision: Decision) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    parts = []
    if decision.injected:
        parts.append(f"filled in {', '.join(decision.injected)}")
    if decision.rewritten:
        parts.append(f"rewrote key IDs to ARNs at {', '.join(decision.rewritten)}")
    logger.info(
        "%s: %s",
        decision.operation,
        "; ".join(parts),
        extra={
            "operation": decision.operation,
            "injected": list(decision.injected),
            "rewritten": list(decision.rewritten),
        },
    )
