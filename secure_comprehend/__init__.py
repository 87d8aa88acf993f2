"""secure_comprehend: a boto3 Comprehend client that keeps your VPC, KMS and IAM posture.

>>> import secure_comprehend as sc
>>> comprehend = sc.client(region_name="us-east-1")  # doctest: +SKIP

Names are imported on first use (PEP 562), so ``import secure_comprehend`` costs
nothing in a Lambda cold start until a client or posture is asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secure_comprehend._aio import aio_client
    from secure_comprehend._client import client, patch, unpatch
    from secure_comprehend._decision import Decision, evaluate
    from secure_comprehend._enforcement import protect
    from secure_comprehend._errors import (
        PostureError,
        PostureViolation,
        SecureComprehendError,
        Violation,
    )
    from secure_comprehend._iam import iam_policy
    from secure_comprehend._live import clear_posture_cache
    from secure_comprehend._loading import load_posture
    from secure_comprehend._posture import Posture
    from secure_comprehend._preflight import preflight
    from secure_comprehend._preflight_report import PreflightReport
    from secure_comprehend._scan import ScanReport, scan
    from secure_comprehend._sections import (
        IamSettings,
        KmsSettings,
        ModelsSettings,
        RegionSettings,
        S3Settings,
        VpcSettings,
    )

_HOMES = {
    "Decision": "_decision",
    "IamSettings": "_sections",
    "KmsSettings": "_sections",
    "Posture": "_posture",
    "PostureError": "_errors",
    "ModelsSettings": "_sections",
    "PostureViolation": "_errors",
    "PreflightReport": "_preflight_report",
    "RegionSettings": "_sections",
    "S3Settings": "_sections",
    "ScanReport": "_scan",
    "SecureComprehendError": "_errors",
    "Violation": "_errors",
    "VpcSettings": "_sections",
    "aio_client": "_aio",
    "clear_posture_cache": "_live",
    "client": "_client",
    "evaluate": "_decision",
    "iam_policy": "_iam",
    "load_posture": "_loading",
    "patch": "_client",
    "preflight": "_preflight",
    "protect": "_enforcement",
    "scan": "_scan",
    "unpatch": "_client",
}

__all__ = [
    "Decision",
    "IamSettings",
    "KmsSettings",
    "ModelsSettings",
    "Posture",
    "PostureError",
    "PostureViolation",
    "PreflightReport",
    "RegionSettings",
    "S3Settings",
    "ScanReport",
    "SecureComprehendError",
    "Violation",
    "VpcSettings",
    "aio_client",
    "clear_posture_cache",
    "client",
    "evaluate",
    "iam_policy",
    "load_posture",
    "patch",
    "preflight",
    "protect",
    "scan",
    "unpatch",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'secure_comprehend' has no attribute {name!r}")
    value = getattr(import_module(f"secure_comprehend.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
