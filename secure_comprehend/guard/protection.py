"""What one call gets under one posture: the posture applied, the decision logged, the wire checked.

A ``Protection`` is what one client enforces under one posture; it never changes. A
``Call`` binds one call to the protection chosen when the call started, so every later
look at that call (the parameters, the request created, the request sent) judges it
by the same posture, whatever ``protect()`` or a fleet refresh does meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, cast

from botocore.awsrequest import AWSPreparedRequest

from secure_comprehend._botocore import (
    fresh_headers,
    header_columns,
    header_items,
    sendable_context,
)
from secure_comprehend._display import short_repr
from secure_comprehend._errors import PostureViolation, Violation
from secure_comprehend.decision.decide import decide
from secure_comprehend.decision.final_check import final_check
from secure_comprehend.guard.wire import (
    UnreadableBody,
    frozen_body,
    plain_header_value,
    read_body,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from secure_comprehend.decision.decide import Decision
    from secure_comprehend.decision.spec import OperationSpec
    from secure_comprehend.guard.provenance import ModelVerifier
    from secure_comprehend.guard.wire import Wire
    from secure_comprehend.posture.model import EffectivePosture

logger = logging.getLogger("secure_comprehend")  # no handler: Python's last resort shows WARNINGs

CALL = "secure_comprehend"  # the key of a call's Call in botocore's per-call context


class Call:
    """One call: the protection it started under (fixed), the call's own botocore context
    (a binding found in another call's context is not this call's), whether its binding
    was lost (a handler removed it: the protection it started under is not known), and
    what was found."""

    __slots__ = ("context", "protection", "reported", "spec", "unbound", "verdicts")

    context: dict[str, Any] | None
    protection: Protection
    spec: OperationSpec | None  # None: an operation this posture has nothing to say about
    unbound: bool
    verdicts: dict[str, str | None]
    reported: set[tuple[str, str]]

    def __init__(
        self,
        protection: Protection,
        spec: OperationSpec | None,
        context: dict[str, Any] | None,
        *,
        unbound: bool = False,
    ) -> None:
        object.__setattr__(self, "context", context)
        object.__setattr__(self, "unbound", unbound)
        object.__setattr__(self, "protection", protection)
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "verdicts", {})  # [models] verify: model ARN -> why not
        object.__setattr__(self, "reported", set())  # (path, reason) already logged

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a call's binding is fixed: {name} cannot be set")


class Protection:
    """The posture of one client, for each of its calls; immutable.

    Args:
        specs: the operations this posture governs.
        posture: the effective posture of the client's region; None: refuse, saying ``problem``.
        problem: why there is no posture (the region's, or none to be had).
        mode: ``enforce``, ``audit`` or ``observe``.
        wire: how the client's requests name their operation.
        verifier: describes models for ``[models] verify``; None: not verified here.
        about: what ``problem`` is about, as a violation's member path.
    """

    __slots__ = (
        "__weakref__",
        "about",
        "enforce",
        "mode",
        "observe",
        "plain",
        "posture",
        "problem",
        "specs",
        "verifier",
        "wire",
    )

    def __init__(
        self,
        specs: Mapping[str, OperationSpec],
        posture: EffectivePosture | None,
        problem: str | None,
        mode: str,
        wire: Wire,
        verifier: ModelVerifier | None = None,
        about: str = "(region)",
    ) -> None:
        self.specs = specs
        self.posture = posture
        self.problem = problem
        self.mode = mode if mode in ("audit", "observe") else "enforce"  # unexpected: enforce
        self.enforce = self.mode == "enforce"
        self.observe = self.mode == "observe"  # nothing amended, nothing refused: logged
        self.wire = wire
        verifies = posture is not None and posture.models is not None and posture.models.verify
        self.verifier = verifier if verifies else None
        self.about = about

    def bind(
        self,
        operation: str,
        params: Mapping[str, Any],
        context: dict[str, Any] | None,
        *,
        unbound: bool = False,
    ) -> Call:
        """A call of ``operation``, whose botocore context is ``context``, under this
        protection (``unbound``: a call that lost the binding it started with).

        With ``[models] verify``, the models the caller named are described here, at the
        start of the call, before the call itself (a Stubber test queues them first).
        """
        spec = self.specs.get(operation)
        call = Call(self, spec, context, unbound=unbound)
        if spec is not None and self.verifier is not None and self.posture is not None:
            self.verifier.violations(spec, params, self.posture, call.verdicts)
        return call

    def apply(self, call: Call, params: MutableMapping[str, Any]) -> None:
        """before-parameter-build: fill in the posture, refuse in enforce mode; log once."""
        spec = call.spec
        if spec is None:
            return
        decision: Decision | None = None
        if self.posture is None:
            violations = self._no_posture(spec)
        else:
            decision = decide(spec, params, self.posture)
            violations = decision.violations + self._models(call, decision.params)
        if violations:
            call.reported.update((v.path, v.reason) for v in violations)
        if self.observe:  # the request is left as the caller built it
            _log_observed(spec.name, decision, violations)
            return
        if violations:
            self.report(spec.name, violations)
        if decision is not None and (decision.injected or decision.rewritten):
            params.update(decision.params)  # decide() copied every container it changed
            _log_amended(decision)
            if logger.isEnabledFor(logging.DEBUG):  # the repr costs more than the decision
                logger.debug("%s: request with the posture: %s", spec.name, short_repr(params))

    def check(
        self, checked: Checked, request: AWSPreparedRequest, *, sending: bool = False
    ) -> None:
        """The request as it will be sent must name the operation invoked and need no
        amending; ``checked`` (this request's) keeps the body judged for the next look.
        ``sending``: inside the HTTP send, which is given a plain copy of the request's
        context (``sendable_context``).

        Every wire signal is read each time. The body is judged unless it is
        ``checked.body``, the exact ``bytes`` an earlier look at this request judged
        (immutable, and held since, so it is what it was). What was read is what is
        sent: the body becomes the exact ``bytes`` judged and, when the headers were not
        botocore's own, they become a new ``HeadersDict`` of the pairs checked. In
        observe mode the request is left as it is, and what a handler changed after the
        parameters were judged is logged.
        """
        call, operation = checked.call, checked.operation
        raw = request.body
        body: bytes | None = None
        pairs: list[tuple[Any, Any, Any]] | None = None
        problem: str | None = None
        as_read = True
        try:
            fast = (
                type(request) is AWSPreparedRequest
                and type(raw) is bytes
                and self.wire.agrees(
                    request.method, request.url, header_columns(request.headers), raw, operation
                )
            )
        except Exception:  # whatever the fast path cannot read, the slow path names
            fast = False
        if fast:
            body = cast("bytes", raw)
            if call.spec is None:
                problem = self.wire.body_problem(body)
        else:
            body, pairs, as_read, problem = self._read_slowly(call, request, operation)
        if sending:  # what the HTTP send reads besides: nothing may run code there
            unsendable = sendable_context(request)
            problem = unsendable if problem is None else problem
        violations: tuple[Violation, ...] = ()
        if problem is not None:
            violations = (Violation(operation, "(request)", None, problem),)
        if call.spec is not None and body is not None and body is not checked.body:
            described = len(call.verdicts)
            violations += self._check_body(call, call.spec, body)  # every violation at once
            if len(call.verdicts) != described:  # [models] verify described a model
                # with this client: its handlers ran; read the request again
                return self.check(checked, request, sending=sending)
        checked.body = body
        if self.observe:
            self._observe_late(call, operation, violations)
            return
        if violations:
            new = tuple(v for v in violations if (v.path, v.reason) not in call.reported)
            call.reported.update((v.path, v.reason) for v in violations)
            if new or self.enforce:
                self.report(operation, new or violations)
        if body is not None and body is not raw:
            request.body = body
        if problem is None and not as_read:  # names are exact str: built anew
            request.headers = fresh_headers(pairs or ())

    def _read_slowly(
        self, call: Call, request: AWSPreparedRequest, operation: str
    ) -> tuple[bytes | None, list[tuple[Any, Any, Any]] | None, bool, str | None]:
        """Any request the fast path does not plainly accept: (its body as exact bytes,
        its headers as read, whether they are sent as read, its problem)."""
        try:
            if type(request) is not AWSPreparedRequest:  # its attributes could lie
                raise UnreadableBody(f"the request is a {type(request).__name__}")
            body = frozen_body(request.body)
            read, as_read = header_items(request.headers)
            pairs = [(name, lower, plain_header_value(value)) for name, lower, value in read]
            copied = any(p[2] is not r[2] for p, r in zip(pairs, read, strict=True))
            as_read = as_read and not copied  # a value copied: the headers are built anew
        except UnreadableBody as exc:
            return None, None, False, f"its body cannot be checked: {exc}"
        except Exception as exc:  # a headers object that cannot be read fails closed
            return None, None, False, f"its headers cannot be read: {exc!r}"
        problem = self.wire.problem(
            request.method, request.url, pairs, body, operation, sniff=call.spec is None
        )
        return body, pairs, as_read, problem

    def _observe_late(self, call: Call, operation: str, violations: tuple[Violation, ...]) -> None:
        """Observe mode: what the request as sent would be refused for, beyond what was
        logged when its parameters were judged (a handler changed it since)."""
        new = tuple(v for v in violations if (v.path, v.reason) not in call.reported)
        call.reported.update((v.path, v.reason) for v in violations)
        if new:
            logger.warning(
                "observe mode, sent as built: %s: changed after its parameters were judged, "
                "the posture would refuse it for %d violation(s)\n%s",
                operation,
                len(new),
                _lines(new),
                extra={**_extra(operation, new, "observe"), "injected": [], "rewritten": []},
            )

    def _check_body(self, call: Call, spec: OperationSpec, body: bytes) -> tuple[Violation, ...]:
        if self.posture is None:
            return self._no_posture(spec)
        try:
            sent = read_body(self.wire.protocol, body)
        except UnreadableBody as exc:
            return (Violation(spec.name, "(body)", None, f"cannot be checked: {exc}"),)
        if self.observe:  # what the posture would do with the request as it is now
            decided = decide(spec, sent, self.posture).violations
            return decided + (self._models(call, sent) if not decided else ())
        found = final_check(spec, sent, self.posture)
        if not found:  # a model swapped in after build: judged too (from this call's verdicts)
            found = self._models(call, sent)
        return found

    def _models(self, call: Call, params: Mapping[str, Any]) -> tuple[Violation, ...]:
        if self.verifier is None or self.posture is None or call.spec is None:
            return ()
        return tuple(self.verifier.violations(call.spec, params, self.posture, call.verdicts))

    def _no_posture(self, spec: OperationSpec) -> tuple[Violation, ...]:
        return (Violation(spec.name, self.about, None, str(self.problem)),)

    def report(self, operation: str, violations: tuple[Violation, ...]) -> None:
        """Refuse (enforce mode), or log at WARNING (audit and observe modes)."""
        if self.enforce:
            _refuse(operation, violations)
        logger.warning(
            "%s mode, sent anyway: %s: %d posture violation(s)\n%s",
            self.mode,
            operation,
            len(violations),
            _lines(violations),
            extra=_extra(operation, violations, self.mode),
        )


class Checked:
    """One request in flight: its call, the operation invoked, and the body last judged
    (None: none yet, or it could not be read)."""

    __slots__ = ("body", "call", "operation")

    def __init__(self, call: Call, operation: str) -> None:
        self.call, self.operation = call, operation
        self.body: bytes | None = None


def refuse_unchecked(protection: Protection) -> None:
    """A request at the HTTP send that no check saw: refused (enforce) or logged (audit)."""
    reason = "the request was not created by this client's endpoint: it was never checked"
    protection.report("(unchecked)", (Violation("(unchecked)", "(request)", None, reason),))


def _refuse(operation: str, violations: tuple[Violation, ...]) -> None:
    # INFO: the exception says it to the person; configured handlers still get the record
    logger.info(
        "refused %s: %d posture violation(s); nothing was sent\n%s",
        operation,
        len(violations),
        _lines(violations),
        extra=_extra(operation, violations, "enforce"),
    )
    raise PostureViolation(operation, violations)


def _lines(violations: tuple[Violation, ...]) -> str:
    return "\n".join(f"  - {v}" for v in violations)


def _extra(operation: str, violations: tuple[Violation, ...], mode: str) -> dict[str, Any]:
    return {"operation": operation, "mode": mode, "violations": [v.path for v in violations]}


def _log_observed(
    operation: str, decision: Decision | None, violations: tuple[Violation, ...]
) -> None:
    """Observe mode: one record per covered call, WARNING when the posture would have
    amended or refused it, with the fields the other modes log."""
    injected = list(decision.injected) if decision is not None else []
    rewritten = list(decision.rewritten) if decision is not None else []
    would = []
    if violations:
        would.append(f"refuse it (enforce mode) for {len(violations)} violation(s)")
    if injected:
        would.append(f"fill in {', '.join(injected)}")
    if rewritten:
        would.append(f"rewrite key IDs to ARNs at {', '.join(rewritten)}")
    extra = {
        **_extra(operation, violations, "observe"),
        "injected": injected,
        "rewritten": rewritten,
    }
    if not would:
        logger.info("observe mode: %s: as the posture wants it", operation, extra=extra)
        return
    logger.warning(
        "observe mode, sent as built: %s: the posture would %s%s",
        operation,
        "; ".join(would),
        f"\n{_lines(violations)}" if violations else "",
        extra=extra,
    )


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
