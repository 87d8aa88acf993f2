"""[models] verify: describe the model a request points at, and judge how it was trained.

The describe calls go through the protected client itself (Describe* carries no
security member, so they pass untouched), once per model ARN for five minutes (so
that a model deleted and trained again under the same ARN is seen): a bounded,
thread-safe cache, and one describe in flight per ARN, so a batch of jobs against
one model describes it once. A flywheel stands for its active model. A describe that fails
(access denied, not found, throttled after botocore's retries) is a violation
that says why: refused in enforce mode, logged in audit mode. A flywheel, which
UpdateFlywheel changes in place, is described at every call that names it. Failures are not
cached: the next request tries again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secure_comprehend._display import short_repr
from secure_comprehend._errors import ACCESS_DENIED, Violation, aws_error_code
from secure_comprehend.decision.judge import judge_resource
from secure_comprehend.decision.perimeter import MODEL_ARN_RE, model_problem, values_at

if TYPE_CHECKING:
    from collections.abc import Callable

    from secure_comprehend.decision.spec import OperationSpec
    from secure_comprehend.posture.model import EffectivePosture

_DESCRIBE = {  # model type -> describe method, its parameter, its answer, the training call
    "document-classifier": (
        "describe_document_classifier",
        "DocumentClassifierArn",
        "DocumentClassifierProperties",
        "CreateDocumentClassifier",
    ),
    "entity-recognizer": (
        "describe_entity_recognizer",
        "EntityRecognizerArn",
        "EntityRecognizerProperties",
        "CreateEntityRecognizer",
    ),
}
_DESCRIBE["flywheel"] = ("describe_flywheel", "FlywheelArn", "FlywheelProperties", "")
# How a model was trained, as far as [models] verify judges it.
_TRAINED_UNDER = ("vpc", "volume_key", "model_key")
# A flywheel's iteration trains under the flywheel's own configuration: all of it is judged.
_ITERATION = "StartFlywheelIteration"
_TRAINS_UNDER = (*_TRAINED_UNDER, "data_lake_key", "role", "s3")


class ModelVerifier:
    """Describes models with one client, once per ARN."""

    def __init__(self, client: Callable[[], Any], maxsize: int = 256, ttl: float = 300.0) -> None:
        self._client = client  # a weak reference: the client owns its verifier
        self._maxsize = maxsize
        self._ttl = ttl  # a model deleted and trained again under its ARN is seen after this
        self._described: OrderedDict[str, tuple[float, Mapping[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}
        self.describes = 0  # how many describe calls were made (tests and the benchmark)

    def after_fork(self) -> None:
        """In a forked child: no describe is in flight, and every lock starts free."""
        self._lock = threading.Lock()
        self._inflight = {}

    def violations(
        self,
        spec: OperationSpec,
        params: Mapping[str, Any],
        posture: EffectivePosture,
        verdicts: dict[str, str | None],
    ) -> list[Violation]:
        """Every model the request names, judged as Comprehend recorded it.

        Args:
            verdicts: the call's judgements so far (model ARN -> why not, or None);
                a model judged once in a call is not described again in that call.
        """
        out: list[Violation] = []
        for member in (m for m in spec.members if m.kind == "model"):
            for path, arn in values_at(params, member.path):
                if model_problem(arn, posture):
                    continue  # malformed or of another account: the decision refused it
                if arn not in verdicts:
                    verdicts[arn] = self._judge(str(arn), posture, spec.name == _ITERATION)
                reason = verdicts[arn]
                if reason:
                    out.append(Violation(spec.name, path, arn, reason))
        return out

    def _judge(
        self, arn: str, posture: EffectivePosture, iteration: bool = False, depth: int = 0
    ) -> str | None:
        """Why a model (or a flywheel's active model) may not be used, or None.

        Args:
            iteration: the flywheel is trained (StartFlywheelIteration): under its own
                data security configuration and role, which are judged too; a flywheel
                without an active model yet is then no violation.
        """
        match = MODEL_ARN_RE.fullmatch(arn)
        assert match is not None  # checked by model_problem
        try:
            properties = self._properties(arn, match["type"])
        except Exception as exc:  # fail closed: say why it could not be verified
            code = aws_error_code(exc)
            why = f"cannot verify how the model was trained: {code or type(exc).__name__}"
            if code in ACCESS_DENIED:
                method = _DESCRIBE[match["type"]][0]
                why += f" (needs comprehend:{method.title().replace('_', '')})"
            return why
        if match["type"] == "flywheel":  # a flywheel stands for its active model
            return self._judge_flywheel(properties, posture, iteration, depth)
        training = _DESCRIBE[match["type"]][3]
        found = judge_resource(training, properties, posture, _TRAINED_UNDER)
        return "; ".join(f"the model's {v.path}: {v.reason}" for v in found) or None

    def _judge_flywheel(
        self, properties: Mapping[str, Any], posture: EffectivePosture, iteration: bool, depth: int
    ) -> str | None:
        problems = []
        if iteration:
            found = judge_resource("CreateFlywheel", properties, posture, _TRAINS_UNDER)
            problems = [f"the flywheel's {_described(v)}" for v in found]
        active = properties.get("ActiveModelArn")
        if active or not iteration:
            problem = model_problem(active, posture) if active else "the flywheel has no model"
            if problem or depth:
                problems.append(f"the flywheel's active model: {problem or 'not a model'}")
            else:
                inner = self._judge(str(active), posture, depth=depth + 1)
                if inner:
                    problems.append(f"the flywheel's active model {active}: {inner}")
        return "; ".join(problems) or None

    def _properties(self, arn: str, kind: str) -> Mapping[str, Any]:
        if kind == "flywheel":  # UpdateFlywheel changes one in place: described every time
            return self._describe(arn, kind)
        with self._lock:
            fresh = self._fresh(arn)
            if fresh is not None:
                return fresh
            gate = self._inflight.setdefault(arn, threading.Lock())
        with gate:  # one describe per ARN at a time; the others wait for its answer
            with self._lock:
                fresh = self._fresh(arn)
                if fresh is not None:
                    return fresh
            try:
                properties = self._describe(arn, kind)
                with self._lock:
                    self._described[arn] = (time.monotonic(), properties)
                    self._described.move_to_end(arn)
                    if len(self._described) > self._maxsize:
                        self._described.popitem(last=False)
            finally:  # after the answer is stored: a late caller finds it, not a new gate
                with self._lock:
                    self._inflight.pop(arn, None)
            return properties

    def _describe(self, arn: str, kind: str) -> Mapping[str, Any]:
        client = self._client()
        if client is None:
            raise RuntimeError("the client is gone")
        method, parameter, key, _ = _DESCRIBE[kind]
        self.describes += 1
        properties: Mapping[str, Any] = getattr(client, method)(**{parameter: arn})[key]
        return properties

    def _fresh(self, arn: str) -> Mapping[str, Any] | None:
        """The cached answer for ``arn`` if it is younger than the TTL (lock held)."""
        entry = self._described.get(arn)
        if entry is None or time.monotonic() - entry[0] > self._ttl:
            return None
        self._described.move_to_end(arn)
        return entry[1]


def _described(violation: Violation) -> str:
    """A recorded member's violation with its value and what is approved."""
    value = "" if violation.value is None else f" {short_repr(violation.value)}"
    allowed = f" (approved: {', '.join(violation.allowed)})" if violation.allowed else ""
    return f"{violation.path}{value}: {violation.reason}{allowed}"
