"""The kinds of posture setting a request member can be governed by.

``[vpc]`` governs ``vpc`` members, ``[kms]`` the four key kinds, ``[iam]`` ``role``,
``[s3]`` ``s3`` and ``[models]`` ``model`` and ``model_policy``.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal[
    "vpc",
    "volume_key",
    "output_key",
    "model_key",
    "data_lake_key",
    "role",
    "s3",
    "model",
    "model_policy",
]
KMS_KINDS: tuple[Kind, ...] = ("volume_key", "output_key", "model_key", "data_lake_key")
# Kinds the [vpc], [kms] and [iam] sections govern; "s3" is [s3]'s, the model kinds [models]'.
CORE_KINDS: frozenset[str] = frozenset({"vpc", *KMS_KINDS, "role"})
