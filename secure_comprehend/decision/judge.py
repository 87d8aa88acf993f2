"""One judge for what Comprehend recorded: a resource, checked as the request that made it.

A document classifier's properties carry the members of CreateDocumentClassifier
(VpcConfig, VolumeKmsKeyId, ModelKmsKeyId, DataAccessRoleArn, the S3 URIs), a job's
those of its Start*Job, an endpoint's those of CreateEndpoint, a flywheel's those
of CreateFlywheel. So the recorded properties are judged by the final check, the
same rules a request meets: a member the posture configures that was not recorded
is a violation ("created without it"), as is a value the posture does not approve.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from secure_comprehend._errors import Violation
from secure_comprehend.decision.final_check import final_check
from secure_comprehend.decision.operations import default_model
from secure_comprehend.posture.model import EffectivePosture

_RECORDED = {
    "missing from the serialized request": "not recorded: created without it",
    "sent as a bare key ID or alias name, not an ARN": "recorded as a bare key ID, not an ARN",
}


def judge_resource(
    operation: str,
    properties: Mapping[str, Any],
    posture: EffectivePosture,
    kinds: Collection[str] | None = None,
) -> tuple[Violation, ...]:
    """The violations of a recorded resource, judged as the ``operation`` request that made it.

    Args:
        operation: the Create*/Start* operation whose request the properties mirror.
        properties: what Describe*/List* returned for the resource.
        posture: the effective posture of the resource's region.
        kinds: only these member kinds (``vpc``, ``model_key``, ...); None: all.
    """
    spec = default_model()[1].get(operation)
    if spec is None:
        return ()
    # what was recorded is judged by what is understood: members this version cannot follow
    # refuse requests (see the decision), but say nothing about a resource that exists
    members = tuple(m for m in spec.members if kinds is None or m.kind in kinds)
    spec = replace(spec, members=members, unknown=(), unknown_s3=(), unknown_models=())
    names = {m.path[0] for m in spec.members}
    recorded = {k: v for k, v in properties.items() if k in names and v is not None}
    return tuple(
        replace(v, reason=_RECORDED.get(v.reason, v.reason))
        for v in final_check(spec, recorded, posture)
    )
