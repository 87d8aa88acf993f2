"""[models] verify: describe the model a request points at, and judge how it was trained.

The describe calls go through the protected client itself (Describe* carries no
security member, so they pass untouched), once per model ARN for the client's
lifetime: a bounded, thread-safe cache, and one describe in flight per ARN, so a
batch of jobs against one model describes it once. A describe that fails
(access denied, not found, throttled after botocore's retries) is a violation
that says why: refused in enforce mode, logged in audit mode. Failures are not
cached: the next request tries again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secure_comprehend._errors import Violation
from secure_comprehend._judge import judge_resource
from secure_comprehend._perimeter import MODEL_ARN_RE, values_at

if TYPE_CHECKING:
    from collections.abc import Callable

    from secure_comprehend._operations import OperationSpec
    from secure_comprehend._posture import EffectivePosture

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
# How a model was trained, as far as [models] verify judges it.
_TRAINED_UNDER = ("vpc", "volume_key", "model_key")


class ModelVerifier:
    """Describes models with one client, once per ARN."""

    def __init__(self, client: Callable[[], Any], maxsize: int = 256) -> None:
        self._client = client  # a weak reference: the client owns its verifier
        self._maxsize = maxsize
        self._described: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}
        self.describes = 0  # how many describe calls were made (tests and the benchmark)

    def violations(
        self, spec: OperationSpec, params: Mapping[str, Any], posture: EffectivePosture
    ) -> list[Violation]:
        """Every model the request names, judged as Comprehend recorded it."""
        out: list[Violation] = []
        for member in (m for m in spec.members if m.kind == "model"):
            for path, arn in values_at(params, member.path):
                match = MODEL_ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
                if match is None:
                    continue  # malformed: the decision already refused it
                try:
                    properties = self._properties(arn, match["type"])
                except Exception as exc:  # fail closed: say why it could not be verified
                    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                    reason = (
                        f"cannot verify how the model was trained: {code or type(exc).__name__}"
                    )
                    out.append(Violation(spec.name, path, arn, reason))
                    continue
                training = _DESCRIBE[match["type"]][3]
                out += [
                    Violation(spec.name, path, arn, f"the model's {v.path}: {v.reason}", v.allowed)
                    for v in judge_resource(training, properties, posture, _TRAINED_UNDER)
                ]
        return out

    def _properties(self, arn: str, kind: str) -> Mapping[str, Any]:
        with self._lock:
            if arn in self._described:
                self._described.move_to_end(arn)
                return self._described[arn]
            gate = self._inflight.setdefault(arn, threading.Lock())
        with gate:  # one describe per ARN at a time; the others wait for its answer
            with self._lock:
                if arn in self._described:
                    return self._described[arn]
            client = self._client()
            if client is None:
                raise RuntimeError("the client is gone")
            method, parameter, key, _ = _DESCRIBE[kind]
            self.describes += 1
            properties: Mapping[str, Any] = getattr(client, method)(**{parameter: arn})[key]
            with self._lock:
                self._described[arn] = properties
                if len(self._described) > self._maxsize:
                    self._described.popitem(last=False)
                self._inflight.pop(arn, None)
            return properties
