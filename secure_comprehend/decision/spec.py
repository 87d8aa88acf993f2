"""What an operation carries: a ``Member`` (one security member's path and the kind of
posture setting that governs it) and an ``OperationSpec`` (an operation's members). ``operations``
derives them from botocore's service model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from secure_comprehend.posture.kinds import CORE_KINDS, Kind


@dataclass(frozen=True)
class Member:
    """One security member of an operation's input.

    Attributes:
        path: member names from the input root, e.g. ``("DataSecurityConfig", "VpcConfig")``.
        kind: which posture setting governs it.
        buildable: containers on the path that may be created when absent
            (their shape has no required member of their own).
        accepts_alias: the API takes a KMS alias here (only ``OutputDataConfig.KmsKeyId``).
    """

    path: tuple[str, ...]
    kind: Kind
    buildable: bool
    accepts_alias: bool = False
    dotted: str = field(init=False, compare=False)  # "DataSecurityConfig.VpcConfig"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dotted", ".".join(self.path))


@dataclass(frozen=True)
class OperationSpec:
    """The security members of one operation and how to treat them."""

    name: str
    members: tuple[Member, ...]
    unknown: tuple[str, ...]  # dotted paths of members the library does not understand
    is_update: bool  # an absent member means "unchanged": nothing is injected
    unknown_s3: tuple[str, ...] = ()  # S3-looking members not understood: refused under [s3]
    unknown_models: tuple[str, ...] = ()  # model ARNs not understood: refused under [models]

    @property
    def covered(self) -> bool:
        return bool(self.members or self.unknown or self.unknown_s3 or self.unknown_models)

    @property
    def core(self) -> bool:
        """Carries a [vpc], [kms] or [iam] member (or one not understood)."""
        return bool(self.unknown) or any(m.kind in CORE_KINDS for m in self.members)

    def kinds(self) -> frozenset[str]:
        return frozenset(m.kind for m in self.members)

    def governed(self, s3: bool, models: bool) -> bool:
        """Whether a posture with (or without) [s3] and [models] has anything to say here."""
        if self.core:
            return True
        kinds = self.kinds()
        return (s3 and ("s3" in kinds or bool(self.unknown_s3))) or (
            models and bool(kinds & {"model", "model_policy"} or self.unknown_models)
        )
