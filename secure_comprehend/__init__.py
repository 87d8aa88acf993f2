"""secure_comprehend: a boto3 Comprehend client that keeps your VPC, KMS and IAM posture.

>>> import secure_comprehend as sc
>>> comprehend = sc.client(region_name="us-east-1")  # doctest: +SKIP
"""

from __future__ import annotations

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
from secure_comprehend._loading import load_posture
from secure_comprehend._posture import (
    IamSettings,
    KmsSettings,
    Posture,
    RegionSettings,
    VpcSettings,
)

__all__ = [
    "Decision",
    "IamSettings",
    "KmsSettings",
    "Posture",
    "PostureError",
    "PostureViolation",
    "RegionSettings",
    "SecureComprehendError",
    "Violation",
    "VpcSettings",
    "client",
    "evaluate",
    "iam_policy",
    "load_posture",
    "patch",
    "protect",
    "unpatch",
]
