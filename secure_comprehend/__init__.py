"""secure_comprehend: a boto3 Comprehend client that keeps your VPC, KMS and IAM posture.

>>> import secure_comprehend as sc
>>> comprehend = sc.client(region_name="us-east-1")  # doctest: +SKIP

Names are imported on first use (PEP 562), so ``import secure_comprehend`` costs
nothing in a Lambda cold start until a client or posture is asked for.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

# The library's logger exists from import (boto3 imports logging anyway): configuration
# made at a module's top, such as Powertools' copy_config_to_registered_loggers(), reaches
# it before the first client is built.
logging.getLogger("secure_comprehend")

if TYPE_CHECKING:
    from secure_comprehend._errors import (
        PostureError,
        PostureViolation,
        SecureComprehendError,
        Violation,
    )
    from secure_comprehend.account.preflight import preflight
    from secure_comprehend.account.report import Check, PreflightReport
    from secure_comprehend.account.scan import ScannedResource, ScanReport, scan
    from secure_comprehend.decision.decide import Decision, evaluate
    from secure_comprehend.guard.client import patch, unpatch
    from secure_comprehend.guard.status import GuardStatus, guard_of
    from secure_comprehend.guard.typed import (  # posture-fillable members optional
        aio_client,
        client,
        protect,
    )
    from secure_comprehend.policy.iam import (
        data_access_role_policies,
        deny_policies,
        iam_policy,
        key_policies,
        posture_reader_policy,
    )
    from secure_comprehend.policy.text import Policies
    from secure_comprehend.posture.fleet.cache import clear_posture_cache
    from secure_comprehend.posture.loading import load_posture
    from secure_comprehend.posture.model import Posture
    from secure_comprehend.posture.sections import (
        IamSettings,
        KmsSettings,
        ModelsSettings,
        RegionSettings,
        S3Settings,
        VpcSettings,
    )

_HOMES = {
    "Check": "account.report",
    "Policies": "policy.text",
    "ScannedResource": "account.scan",
    "data_access_role_policies": "policy.iam",
    "deny_policies": "policy.iam",
    "key_policies": "policy.iam",
    "posture_reader_policy": "policy.iam",
    "Decision": "decision.decide",
    "GuardStatus": "guard.status",
    "IamSettings": "posture.sections",
    "KmsSettings": "posture.sections",
    "Posture": "posture.model",
    "PostureError": "_errors",
    "ModelsSettings": "posture.sections",
    "PostureViolation": "_errors",
    "PreflightReport": "account.report",
    "RegionSettings": "posture.sections",
    "S3Settings": "posture.sections",
    "ScanReport": "account.scan",
    "SecureComprehendError": "_errors",
    "Violation": "_errors",
    "VpcSettings": "posture.sections",
    "aio_client": "guard.aio",
    "clear_posture_cache": "posture.fleet.cache",
    "client": "guard.client",
    "evaluate": "decision.decide",
    "guard_of": "guard.status",
    "iam_policy": "policy.iam",
    "load_posture": "posture.loading",
    "patch": "guard.client",
    "preflight": "account.preflight",
    "protect": "guard.enforcement",
    "scan": "account.scan",
    "unpatch": "guard.client",
}

__all__ = [
    "Check",
    "Decision",
    "GuardStatus",
    "IamSettings",
    "KmsSettings",
    "ModelsSettings",
    "Policies",
    "Posture",
    "PostureError",
    "PostureViolation",
    "PreflightReport",
    "RegionSettings",
    "S3Settings",
    "ScanReport",
    "ScannedResource",
    "SecureComprehendError",
    "Violation",
    "VpcSettings",
    "aio_client",
    "clear_posture_cache",
    "client",
    "data_access_role_policies",
    "deny_policies",
    "evaluate",
    "guard_of",
    "iam_policy",
    "key_policies",
    "load_posture",
    "patch",
    "posture_reader_policy",
    "preflight",
    "protect",
    "scan",
    "unpatch",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # the installed distribution's, read when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("secure-comprehend")
        except PackageNotFoundError:  # a source tree on sys.path, not installed
            return "0+unknown"
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'secure_comprehend' has no attribute {name!r}")
    value = getattr(import_module(f"secure_comprehend.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
