"""Enforcement: botocore event handlers that apply the posture and check once more.

Two handlers per protected client, on the client's own event emitter, under
fixed unique IDs (protecting twice replaces, never doubles):

- ``before-parameter-build`` (the generic name, registered last): the posture is
  applied to the parameters as every other handler left them, whatever name
  they registered under: their changes (Tags, say) survive, the posture's
  values are filled in on top, and in enforce mode a violating request is
  refused before anything is serialized. botocore changes the call's own
  top-level dict in place here; the caller's nested objects are never changed.
- ``before-send.*.*``, ahead of every other handler: read back the body botocore
  serialized and check it again, before any transport (moto's, a recorder,
  the real HTTP send) sees it. A handler that changed the request after the
  posture was applied cannot get a violating body out. In audit mode this is
  where a request's violations are logged, once, as sent.

Operations without security members cost one dictionary look-up per call.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from secure_comprehend._decision import Decision, decide
from secure_comprehend._errors import PostureError, PostureViolation, Violation, short_repr
from secure_comprehend._final_check import final_check
from secure_comprehend._operations import OperationSpec, operations_for
from secure_comprehend._wire import UnreadableBody, read_body

if TYPE_CHECKING:
    from collections.abc import Callable

    from botocore.awsrequest import AWSPreparedRequest
    from botocore.client import BaseClient
    from botocore.model import OperationModel

    from secure_comprehend._posture import EffectivePosture, Posture

logger = logging.getLogger("secure_comprehend")  # no handler: Python's last resort shows WARNINGs

ClientT = TypeVar("ClientT", bound="BaseClient")

_PREPARE = ("before-parameter-build", "secure_comprehend.apply-posture")
_FINAL = ("before-send.*.*", "secure_comprehend.final-check")


class _Protection:
    """The posture of one client: what its covered operations get."""

    __slots__ = ("enforce", "posture", "problem", "protocol", "specs")

    def __init__(
        self,
        specs: dict[str, OperationSpec],
        posture: EffectivePosture | None,
        problem: str | None,
        mode: str,
        protocol: str,
    ) -> None:
        self.specs = specs
        self.posture = posture
        self.problem = problem  # why the client's region has no posture
        self.protocol = protocol
        self.enforce = mode != "audit"  # anything unexpected enforces

    def _no_posture(self, spec: OperationSpec) -> tuple[Violation, ...]:
        return (Violation(spec.name, "(region)", None, str(self.problem)),)

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
            self._refuse(spec, decision.violations)
        # audit mode: what is missing is still filled in; violations are logged once,
        # for the request as sent, by check_sent
        if decision.injected or decision.rewritten:
            params.update(decision.params)  # decide() copied every container it changed
            _log_amended(decision)
            logger.debug("%s: request with the posture: %s", spec.name, short_repr(params))

    def check_sent(self, request: AWSPreparedRequest, event_name: str, **_: Any) -> None:
        """before-send: the serialized body must need no amending."""
        spec = self.specs.get(event_name.rpartition(".")[2])
        if spec is None:
            return
        if self.posture is None:
            violations = self._no_posture(spec)
        else:
            try:
                sent = read_body(self.protocol, request.body)
            except UnreadableBody as exc:
                violations = (Violation(spec.name, "(body)", None, f"cannot be checked: {exc}"),)
            else:
                violations = final_check(spec, sent, self.posture)
        if not violations:
            return
        if self.enforce:
            self._refuse(spec, violations)
        logger.warning(
            "audit mode, sent anyway: %s: %d posture violation(s)\n%s",
            spec.name,
            len(violations),
            _lines(violations),
            extra=_extra(spec.name, violations, "audit"),
        )

    def _refuse(self, spec: OperationSpec, violations: tuple[Violation, ...]) -> None:
        logger.warning(
            "refused %s: %d posture violation(s); nothing was sent\n%s",
            spec.name,
            len(violations),
            _lines(violations),
            extra=_extra(spec.name, violations, "enforce"),
        )
        raise PostureViolation(spec.name, violations)


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


def protect(client: ClientT, posture: Posture | None = None) -> ClientT:
    """Protect an existing Comprehend client in place.

    Args:
        client: a botocore/boto3 ``comprehend`` client.
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.

    Returns:
        The same client, with its type. Protecting again replaces the earlier protection.

    Raises:
        PostureError: the posture is missing or invalid; in enforce mode also when it is
            not valid for the client's region. The client is left as it was. (In audit
            mode such a client is protected, and its covered operations are logged as
            violations naming the region problem.)
        TypeError: the client is not a Comprehend client, or ``posture`` is not a Posture.
    """
    from secure_comprehend._loading import posture_or_load

    protect_with(client, posture_or_load(posture), strict=True)
    return client


def protect_with(client: BaseClient, posture: Posture, *, strict: bool) -> None:
    """Install the handlers; ``strict``: raise, in enforce mode, for a region without posture."""
    model = getattr(getattr(client, "meta", None), "service_model", None)
    service = getattr(model, "service_name", None)
    if model is None or service != "comprehend":
        raise TypeError(f"secure_comprehend protects comprehend clients, not {service!r}")
    region = client.meta.region_name
    effective: EffectivePosture | None = None
    problem: str | None = None
    try:
        effective = posture.effective(region, client.meta.partition)
    except PostureError as exc:
        if strict and posture.mode != "audit":
            raise
        problem = str(exc)
    protocol = getattr(model, "resolved_protocol", None) or model.protocol
    protection = _Protection(
        operations_for(model, getattr(client, "_loader", None)).specs,
        effective,
        problem,
        posture.mode,
        protocol,
    )
    events = client.meta.events
    for (event, unique_id), handler, first in (
        (_PREPARE, protection.apply, False),
        (_FINAL, protection.check_sent, True),
    ):
        events.unregister(event, unique_id=unique_id)
        typed = cast("Callable[..., None]", handler)
        if first:
            events.register_first(event, typed, unique_id=unique_id)
            _move_to_front(events, event, typed)
        else:
            events.register_last(event, typed, unique_id=unique_id)


def _move_to_front(events: Any, event: str, handler: Callable[..., None]) -> bool:
    """Put ``handler`` ahead of handlers registered first on ``event`` before it.

    botocore runs ``before-send.*.*`` handlers ahead of every other ``before-send``
    handler, and within that name ``register_first`` ones in registration order:
    one registered there before protection (on the session, say) would see the body
    first. botocore has no public way to reorder, so this reaches into its prefix
    trie; with a botocore laid out differently it leaves the order as registered
    and returns False (a test pins the installed botocore's layout).
    """
    try:
        emitter = getattr(events, "_emitter", events)  # EventAliaser wraps the emitter
        node = emitter._handlers._root
        for part in event.split("."):
            node = node["children"][part]
        first = node["values"].first
        first.remove(handler)
        first.insert(0, handler)
        emitter._lookup_cache = {}
    except (AttributeError, KeyError, TypeError, ValueError):
        return False
    return True
