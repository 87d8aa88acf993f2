"""Enforcement: botocore event handlers that inject, refuse and check once more.

For every covered operation of a client, two handlers on the client's own
event emitter, registered first and under fixed unique IDs (protecting twice
replaces, never doubles):

- ``provide-client-params.comprehend.<Op>``: inject the posture's values and,
  in enforce mode, refuse a violating request before anything is built.
- ``before-send.comprehend.<Op>``: read back the body botocore serialized and
  check it again, so a handler that changed the request after injection cannot
  get a violating request out. botocore runs this event ahead of generic
  ``before-send`` transports (moto's, say). In audit mode this is where
  violations are logged, once, for the request as sent.

Operations with nothing to enforce get no handler at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from secure_comprehend._decision import decide
from secure_comprehend._errors import PostureError, PostureViolation, Violation
from secure_comprehend._final_check import final_check
from secure_comprehend._operations import OperationSpec, operations_for
from secure_comprehend._wire import UnreadableBody, read_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from botocore.awsrequest import AWSPreparedRequest
    from botocore.client import BaseClient

    from secure_comprehend._posture import EffectivePosture, Posture

logger = logging.getLogger("secure_comprehend")
logger.addHandler(logging.NullHandler())

_ID = "secure_comprehend"


class _Guard:
    """The two handlers of one operation on one client."""

    __slots__ = ("enforce", "posture", "protocol", "spec")

    def __init__(self, spec: OperationSpec, posture: EffectivePosture, protocol: str) -> None:
        self.spec = spec
        self.posture = posture
        self.protocol = protocol
        self.enforce = posture.mode != "audit"  # anything unexpected enforces

    def inject(self, params: Mapping[str, Any], **_: Any) -> dict[str, Any] | None:
        decision = decide(self.spec, params, self.posture)
        if decision.violations and self.enforce:
            self._refuse(decision.violations)
        changed = decision.injected + decision.rewritten
        if not changed:
            return None
        if logger.isEnabledFor(logging.INFO):
            extra = {"operation": self.spec.name, "members": list(changed)}
            logger.info("%s: filled in %s", self.spec.name, ", ".join(changed), extra=extra)
            logger.debug("%s: request after injection %r", self.spec.name, decision.params)
        return decision.params

    def check_sent(self, request: AWSPreparedRequest, **_: Any) -> None:
        try:
            sent = read_body(self.protocol, request.body)
        except UnreadableBody as exc:
            violations: tuple[Violation, ...] = (
                Violation(self.spec.name, "(body)", None, f"cannot be checked: {exc}"),
            )
        else:
            violations = final_check(self.spec, sent, self.posture)
        if not violations:
            return
        if self.enforce:
            self._refuse(violations)
        for violation in violations:
            logger.warning(
                "audit mode, sent anyway: %s",
                violation,
                extra={"operation": self.spec.name, "member": violation.path, "mode": "audit"},
            )

    def _refuse(self, violations: tuple[Violation, ...]) -> None:
        for violation in violations:
            logger.warning(
                "refused: %s",
                violation,
                extra={"operation": self.spec.name, "member": violation.path, "mode": "enforce"},
            )
        raise PostureViolation(self.spec.name, violations)


def protect(client: BaseClient, posture: Posture | None = None) -> BaseClient:
    """Protect an existing Comprehend client in place.

    Args:
        client: a botocore/boto3 ``comprehend`` client.
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.

    Returns:
        The same client. Protecting again replaces the earlier protection.

    Raises:
        PostureError: the posture is missing or invalid, or not valid for the
            client's region; the client is left as it was.
        TypeError: the client is not a Comprehend client.
    """
    model = client.meta.service_model
    if model.service_name != "comprehend":
        raise TypeError(
            f"secure_comprehend protects comprehend clients, not {model.service_name!r}"
        )
    if posture is None:
        from secure_comprehend._loading import load_posture

        posture = load_posture()
    region = client.meta.region_name
    if not region:
        raise PostureError("the client has no region; the posture is regional")
    effective = posture.effective(region, client.meta.partition)
    protocol = getattr(model, "resolved_protocol", None) or model.protocol
    service_id = model.service_id.hyphenize()
    events = client.meta.events
    for name, spec in operations_for(model).specs.items():
        guard = _Guard(spec, effective, protocol)
        for event, handler, role in (
            (f"provide-client-params.{service_id}.{name}", guard.inject, "inject"),
            (f"before-send.{service_id}.{name}", guard.check_sent, "final-check"),
        ):
            unique_id = f"{_ID}.{role}.{name}"
            events.unregister(event, unique_id=unique_id)
            # botocore's stubs type handlers as returning None; provide-client-params
            # handlers return the replacement params, as botocore documents.
            events.register_first(event, cast("Callable[..., None]", handler), unique_id=unique_id)
    return client
