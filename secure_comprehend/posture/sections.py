"""The sections of a posture: [vpc], [kms], [iam], [regions.R], [s3] and [models].

Each is a frozen pydantic model that forbids unknown keys and validates its IDs
whole and ASCII only; a section that is present must configure something.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    model_validator,
)

from secure_comprehend.posture.ids import (
    ALIAS_ARN_RE,
    ALIAS_NAME_RE,
    KEY_ARN_RE,
    ROLE_ARN_RE,
    SECURITY_GROUP_RE,
    SUBNET_RE,
)
from secure_comprehend.posture.kinds import KMS_KINDS
from secure_comprehend.posture.regions import check_region

if TYPE_CHECKING:
    from typing_extensions import Self


def _matching(regex_name: str, *regexes: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        if not any(r.fullmatch(value) for r in regexes):
            raise ValueError(f"{value!r} is not {regex_name}")
        return value

    return AfterValidator(check)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:  # linear: a fleet document's lists may be long
        (repeated if value in seen else seen).add(value)
    duplicates = sorted(repeated)
    if duplicates:
        raise ValueError(f"duplicate values {duplicates}")
    return values


SubnetId = Annotated[str, _matching("a subnet ID (subnet- and 8 or 17 hex digits)", SUBNET_RE)]
SecurityGroupId = Annotated[
    str, _matching("a security group ID (sg- and 8 or 17 hex digits)", SECURITY_GROUP_RE)
]
KeyArn = Annotated[
    str, _matching("a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID)", KEY_ARN_RE)
]
AllowedKey = Annotated[
    str,
    _matching(
        "a KMS key ARN, alias ARN or alias name (alias/NAME)",
        KEY_ARN_RE,
        ALIAS_ARN_RE,
        ALIAS_NAME_RE,
    ),
]
RoleArn = Annotated[
    str, _matching("an IAM role ARN (arn:PARTITION:iam::ACCOUNT:role/NAME)", ROLE_ARN_RE)
]

# revalidate_instances: a section built elsewhere is checked again when a posture takes it
STRICT = ConfigDict(extra="forbid", frozen=True, revalidate_instances="always")


class Validated(BaseModel):
    """Every way to build one validates: ``model_construct`` and ``model_copy(update=...)``
    would skip the checks."""

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
        return cls(**values)

    @model_validator(mode="wrap")
    @classmethod
    def _as_given(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """A section built in code is validated again as it was given: a section it left
        unset is absent, not an explicit null (which is refused)."""
        if isinstance(value, cls):
            return handler(value.model_dump(exclude_unset=True))
        return handler(value)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, validated exactly like a new one.

        Raises:
            PostureError: (for a Posture) or ValueError: the changed value is invalid.
        """
        if not update:
            return self  # an immutable value is its own copy
        return type(self)(**{**self.model_dump(exclude_unset=True), **update})


class FrozenDict(dict[str, Any]):
    """A dict that cannot be changed after it is built (a posture's ``regions``)."""

    def _frozen(self, *_: Any, **__: Any) -> Any:
        raise TypeError("a posture is immutable: build a new one, or use model_copy(update=...)")

    __setitem__ = __delitem__ = __ior__ = _frozen
    clear = pop = popitem = setdefault = update = _frozen

    def __reduce__(self) -> Any:  # copy, deepcopy and pickle rebuild it whole
        return (type(self), (dict(self),))


# What each section must configure when it is present: an empty or null section
# would enforce nothing, which the reader of the file would not expect.
_SECTION_NEEDS = {
    "s3": "set allowed_buckets",
    "models": "set verify, allowed_accounts or allow_cross_account_policies",
    "vpc": "set subnets and security_group_ids",
    "kms": "set a default key (volume_key, output_key, model_key, data_lake_key) or also_allowed",
    "iam": "set data_access_roles",
}


def _present_section(name: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if value is None or (isinstance(value, Mapping) and not value):
            raise ValueError(
                f"an empty or null [{name}] section would enforce nothing: "
                f"{_SECTION_NEEDS[name]}, or remove the section"
            )
        return value

    return BeforeValidator(check)


class VpcSettings(Validated):
    """The approved subnets and security groups; both are injected as one VpcConfig."""

    model_config = STRICT
    subnets: Annotated[
        tuple[SubnetId, ...], Field(min_length=1, max_length=16), AfterValidator(_unique)
    ]
    security_group_ids: Annotated[
        tuple[SecurityGroupId, ...], Field(min_length=1, max_length=5), AfterValidator(_unique)
    ]


class KmsSettings(Validated):
    """The default key per member and further keys a caller may name."""

    model_config = STRICT
    volume_key: KeyArn | None = None
    output_key: KeyArn | None = None
    model_key: KeyArn | None = None
    data_lake_key: KeyArn | None = None
    also_allowed: Annotated[tuple[AllowedKey, ...], AfterValidator(_unique)] = ()

    @model_validator(mode="after")
    def _configures_something(self) -> KmsSettings:
        if not self.also_allowed and not any(getattr(self, kind) for kind in KMS_KINDS):
            raise ValueError(
                f"this [kms] section would enforce nothing: {_SECTION_NEEDS['kms']}, "
                "or remove the section"
            )
        return self


def _one_name_per_account(roles: tuple[str, ...]) -> tuple[str, ...]:
    """A role's name is unique in its account, whatever its path: two ARNs of one account
    and name (role/a/R, role/b/R) cannot both exist, so one of them is a typo."""
    seen: dict[tuple[str, str], str] = {}
    for arn in roles:
        key = (arn.split(":")[4], arn.rsplit("/", 1)[1])
        if key in seen:
            raise ValueError(
                f"{seen[key]} and {arn} name one role twice (a role's name is unique in its "
                "account, whatever its path)"
            )
        seen[key] = arn
    return roles


class IamSettings(Validated):
    """The approved data-access roles; the first is injected."""

    model_config = STRICT
    data_access_roles: Annotated[
        tuple[RoleArn, ...],
        Field(min_length=1),
        AfterValidator(_unique),
        AfterValidator(_one_name_per_account),
    ]


VpcSection = Annotated[VpcSettings | None, _present_section("vpc")]
KmsSection = Annotated[KmsSettings | None, _present_section("kms")]
IamSection = Annotated[IamSettings | None, _present_section("iam")]


class RegionSettings(Validated):
    """Sections for one region; each replaces the top-level section of the same name."""

    model_config = STRICT
    vpc: VpcSection = None
    kms: KmsSection = None
    iam: IamSection = None

    @model_validator(mode="after")
    def _configures_something(self) -> RegionSettings:
        if not any((self.vpc, self.kms, self.iam)):
            raise ValueError("a region section must configure [vpc], [kms] or [iam]")
        return self


RegionName = Annotated[str, AfterValidator(lambda name: check_region(name, "region section"))]


_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}", re.ASCII)


def _bucket_rules(value: str) -> str:
    """S3's naming rules beyond the characters: a name no bucket can have is a typo."""
    name = value.removesuffix("*")
    if ".." in name:
        raise ValueError("a bucket name has no two adjacent periods")
    if name.startswith(_RESERVED_PREFIXES):
        raise ValueError(f"S3 reserves the prefixes {', '.join(_RESERVED_PREFIXES)}")
    if value == name and name.endswith(_RESERVED_SUFFIXES):
        raise ValueError(f"S3 reserves the suffixes {', '.join(_RESERVED_SUFFIXES)}")
    if value == name and _IP_ADDRESS.fullmatch(name):
        raise ValueError("a bucket name is not an IP address")
    return value


BucketPattern = Annotated[
    str,
    _matching(
        "an S3 bucket name, or a prefix ending in * (lower-case letters, digits, dots, hyphens)",
        re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|[a-z0-9][a-z0-9.-]{0,61}\*", re.ASCII),
    ),
    AfterValidator(_bucket_rules),
]
AccountId = Annotated[str, _matching("a 12-digit AWS account ID", re.compile(r"\d{12}", re.ASCII))]


class S3Settings(Validated):
    """The data perimeter: every S3 URI a request names must be in one of these buckets."""

    model_config = STRICT
    allowed_buckets: Annotated[
        tuple[BucketPattern, ...], Field(min_length=1), AfterValidator(_unique)
    ]

    def approves(self, bucket: str) -> bool:
        """Whether ``bucket`` is listed, or starts with a listed ``prefix*``."""
        return any(
            bucket == p or (p.endswith("*") and bucket.startswith(p[:-1]))
            for p in self.allowed_buckets
        )


class ModelsSettings(Validated):
    """Model provenance: which custom models a job, endpoint or flywheel may use."""

    model_config = STRICT
    verify: bool = False  # describe each model and refuse one not trained under the posture
    allowed_accounts: Annotated[tuple[AccountId, ...], AfterValidator(_unique)] = ()
    allow_cross_account_policies: bool = False  # ModelPolicy, PutResourcePolicy

    @model_validator(mode="after")
    def _configures_something(self) -> ModelsSettings:
        if not self.model_fields_set:
            raise ValueError(
                f"this [models] section sets nothing: {_SECTION_NEEDS['models']}, "
                "or remove the section"
            )
        return self


S3Section = Annotated[S3Settings | None, _present_section("s3")]
ModelsSection = Annotated[ModelsSettings | None, _present_section("models")]
