"""The posture: the organization's approved VPC, KMS and IAM settings.

``Posture`` is a plain pydantic model (only its arguments; no environment, no
file: ``load_posture`` in ``_loading`` reads those). ``Posture.effective(region)``
overlays a region's sections on the top-level ones and returns the frozen,
lookup-ready :class:`EffectivePosture` the decision core uses.
"""

from __future__ import annotations

import difflib
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from secure_comprehend._display import short_repr
from secure_comprehend._errors import PostureError
from secure_comprehend._ids import (
    ALIAS_ARN_RE,
    ALIAS_NAME_RE,
    KEY_ARN_RE,
    ROLE_ARN_RE,
    SECURITY_GROUP_RE,
    SUBNET_RE,
    KmsRef,
    parse_kms,
)
from secure_comprehend._operations import KMS_KINDS
from secure_comprehend._regions import check_region, partition_of

if TYPE_CHECKING:
    from typing_extensions import Self

Mode = Literal["enforce", "audit"]


def _matching(regex_name: str, *regexes: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        if not any(r.fullmatch(value) for r in regexes):
            raise ValueError(f"{value!r} is not {regex_name}")
        return value

    return AfterValidator(check)


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
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

_STRICT = ConfigDict(extra="forbid", frozen=True)


class _Validated(BaseModel):
    """Every way to build one validates: ``model_construct`` would skip the checks."""

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
        return cls(**values)


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


class VpcSettings(_Validated):
    """The approved subnets and security groups; both are injected as one VpcConfig."""

    model_config = _STRICT
    subnets: Annotated[
        tuple[SubnetId, ...], Field(min_length=1, max_length=16), AfterValidator(_unique)
    ]
    security_group_ids: Annotated[
        tuple[SecurityGroupId, ...], Field(min_length=1, max_length=5), AfterValidator(_unique)
    ]


class KmsSettings(_Validated):
    """The default key per member and further keys a caller may name."""

    model_config = _STRICT
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


class IamSettings(_Validated):
    """The approved data-access roles; the first is injected."""

    model_config = _STRICT
    data_access_roles: Annotated[tuple[RoleArn, ...], Field(min_length=1), AfterValidator(_unique)]


VpcSection = Annotated[VpcSettings | None, _present_section("vpc")]
KmsSection = Annotated[KmsSettings | None, _present_section("kms")]
IamSection = Annotated[IamSettings | None, _present_section("iam")]


class RegionSettings(_Validated):
    """Sections for one region; each replaces the top-level section of the same name."""

    model_config = _STRICT
    vpc: VpcSection = None
    kms: KmsSection = None
    iam: IamSection = None

    @model_validator(mode="after")
    def _configures_something(self) -> RegionSettings:
        if not any((self.vpc, self.kms, self.iam)):
            raise ValueError("a region section must configure [vpc], [kms] or [iam]")
        return self


RegionName = Annotated[str, AfterValidator(lambda name: check_region(name, "region section"))]

# Effective postures, keyed by the posture's content: two postures that compare
# unequal never share one, and copies need no state of their own.
_EFFECTIVE: dict[tuple[str, str, str | None], EffectivePosture] = {}
_EFFECTIVE_MAX = 256


class Posture(_Validated):
    """The organization's approved settings for Comprehend: an immutable value.

    Built only from its arguments; ``load_posture()`` reads the environment and files.
    A copy with changes (``model_copy(update=...)``) is validated like a new posture.
    """

    model_config = _STRICT
    mode: Mode = "enforce"
    vpc: VpcSection = None
    kms: KmsSection = None
    iam: IamSection = None
    regions: Annotated[dict[RegionName, RegionSettings], AfterValidator(FrozenDict)] = Field(
        default_factory=FrozenDict
    )

    def __init__(self, **data: Any) -> None:
        """Validate the arguments.

        Raises:
            PostureError: an unknown key or an invalid value, each named with its value.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise PostureError(describe_invalid(exc, {}, "Posture() arguments")) from exc

    @model_validator(mode="after")
    def _configures_something(self) -> Posture:
        if not any((self.vpc, self.kms, self.iam, self.regions)):
            raise ValueError("the posture configures nothing: set [vpc], [kms], [iam] or [regions]")
        return self

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate a mapping, as ``Posture(**obj)`` does.

        Raises:
            PostureError: an unknown key or an invalid value, each named with its value.
        """
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise PostureError(describe_invalid(exc, {}, "model_validate()")) from exc

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate a JSON document, as ``Posture(**json.loads(...))`` does.

        Raises:
            PostureError: an unknown key or an invalid value, each named with its value.
        """
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as exc:
            raise PostureError(describe_invalid(exc, {}, "model_validate_json()")) from exc

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, validated exactly like a new ``Posture(...)``.

        Raises:
            PostureError: the changed posture is invalid.
        """
        if not update:
            return self  # an immutable value is its own copy
        return type(self)(**{**self.model_dump(exclude_unset=True), **update})

    def effective(self, region: str, partition: str | None = None) -> EffectivePosture:
        """The top-level sections overlaid by ``region``'s, checked for that region.

        Raises:
            PostureError: the region is unknown, nothing is configured for it, or a KMS
                key ARN names another region or partition.
        """
        key = (self.model_dump_json(), region, partition)
        cached = _EFFECTIVE.get(key)
        if cached is None:
            check_region(region, f"no posture for {region!r}")
            cached = _effective(self, region, partition or partition_of(region))
            if len(_EFFECTIVE) >= _EFFECTIVE_MAX:
                _EFFECTIVE.clear()
            _EFFECTIVE[key] = cached
        return cached

    def __repr__(self) -> str:
        parts = [f"mode={self.mode!r}"]
        if self.vpc:
            parts.append(
                f"vpc={len(self.vpc.subnets)} subnet(s)/{len(self.vpc.security_group_ids)} group(s)"
            )
        if self.kms:
            keys = sum(1 for kind in KMS_KINDS if getattr(self.kms, kind))
            parts.append(f"kms={keys} default key(s)+{len(self.kms.also_allowed)} also allowed")
        if self.iam:
            parts.append(f"iam={len(self.iam.data_access_roles)} role(s)")
        if self.regions:
            parts.append(f"regions={','.join(sorted(self.regions))}")
        return f"Posture({', '.join(parts)})"

    def __str__(self) -> str:
        from secure_comprehend._show import show_report, show_text

        return show_text(show_report(self, provenance(self), None))

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table
        from secure_comprehend._show import setting_rows

        return html_table(
            f"secure_comprehend posture (mode {self.mode})",
            ("setting", "value", "from"),
            setting_rows(self, provenance(self)),
        )

    def top_level(self) -> EffectivePosture | None:
        """The top-level sections alone, unchecked for any region; None if there are none."""
        if not any((self.vpc, self.kms, self.iam)):
            return None
        return _effective(self, None, None)


# id(posture) -> where each of its settings came from, for postures load_posture() made
_PROVENANCE: dict[int, Mapping[tuple[str, ...], str]] = {}


def remember_sources(posture: Posture, sources: Mapping[tuple[str, ...], str]) -> None:
    """Record where a loaded posture's settings came from (shown by str() and notebooks)."""
    _PROVENANCE[id(posture)] = dict(sources)
    weakref.finalize(posture, _PROVENANCE.pop, id(posture), None)


def provenance(posture: Posture) -> Mapping[tuple[str, ...], str]:
    """Where each setting of ``posture`` came from; empty for a posture built in code."""
    return _PROVENANCE.get(id(posture), {})


def require_posture(posture: object, parameter: str = "posture") -> Posture:
    """``posture`` itself if it is a ``Posture``.

    Raises:
        TypeError: naming ``parameter`` and what it expected.
    """
    if isinstance(posture, Posture):
        return posture
    raise TypeError(
        f"{parameter} must be a secure_comprehend.Posture, not {type(posture).__name__}: "
        "build one with sc.Posture(**settings) or sc.load_posture(path)"
    )


@dataclass(frozen=True)
class EffectivePosture:
    """The posture for one region, ready for fast lookups."""

    region: str
    mode: Mode
    vpc: VpcSettings | None
    kms: KmsSettings | None
    iam: IamSettings | None
    # kind -> approved key references (ARNs and, for also_allowed, aliases)
    approved_keys: dict[str, frozenset[str]] = field(default_factory=dict)
    # bare key ID -> key ARN, for approved keys
    key_arn_by_id: dict[str, str] = field(default_factory=dict)
    # alias name -> alias ARN, for approved alias ARNs
    alias_arn_by_name: dict[str, str] = field(default_factory=dict)
    subnets: frozenset[str] = frozenset()
    security_groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    # kind -> the default key injected for it
    default_keys: dict[str, str] = field(default_factory=dict)

    def default_key(self, kind: str) -> str | None:
        return self.default_keys.get(kind)


def _effective(posture: Posture, region: str | None, partition: str | None) -> EffectivePosture:
    """Overlay ``region``'s sections and check the keys' region; ``None``: top level, unchecked."""
    overlay = posture.regions.get(region) if region else None
    vpc = overlay.vpc if overlay and overlay.vpc else posture.vpc
    kms = overlay.kms if overlay and overlay.kms else posture.kms
    iam = overlay.iam if overlay and overlay.iam else posture.iam
    if not (vpc or kms or iam):
        raise PostureError(
            f"no posture for {region}: the posture has no top-level section and sections "
            f"only for {', '.join(sorted(posture.regions))}; add [regions.{region}.*] sections"
        )
    defaults: dict[str, str] = {
        kind: key for kind in KMS_KINDS if kms is not None and (key := getattr(kms, kind))
    }
    approved: dict[str, frozenset[str]] = {}
    by_id: dict[str, str] = {}
    alias_by_name: dict[str, str] = {}
    if kms is not None:
        for kind in KMS_KINDS:
            if kind in defaults or kms.also_allowed:
                approved[kind] = frozenset(
                    ([defaults[kind]] if kind in defaults else []) + list(kms.also_allowed)
                )
        for ref in (parse_kms(t) for t in [*defaults.values(), *kms.also_allowed]):
            if ref is None:
                continue
            if region is not None:
                _check_region(ref, region, partition)
            if ref.form == "key_arn":
                by_id[ref.id] = ref.text
            elif ref.form == "alias_arn":
                alias_by_name[ref.id] = ref.text
    return EffectivePosture(
        region=region or "*",
        mode=posture.mode,
        vpc=vpc,
        kms=kms,
        iam=iam,
        approved_keys=approved,
        key_arn_by_id=by_id,
        alias_arn_by_name=alias_by_name,
        subnets=frozenset(vpc.subnets) if vpc else frozenset(),
        security_groups=frozenset(vpc.security_group_ids) if vpc else frozenset(),
        roles=frozenset(iam.data_access_roles) if iam else frozenset(),
        default_keys=defaults,
    )


def _check_region(ref: KmsRef, region: str, partition: str | None) -> None:
    if ref.region is None:
        return
    if ref.region != region or (partition is not None and ref.partition != partition):
        where = (
            ref.region
            if partition is None or ref.partition == partition
            else f"partition {ref.partition}, not {partition}"
        )
        raise PostureError(
            f"no posture for {region}: its KMS keys are in {where} "
            f"({ref.text}); add [regions.{region}.kms] with keys of {region}"
        )


def describe_invalid(
    exc: ValidationError, sources: Mapping[tuple[str, ...], str], default: str = "defaults"
) -> str:
    """Every validation error once, as one line: field, value, source, what is allowed."""
    errors = [
        (tuple(str(p) for p in error["loc"] if p != "[key]"), error) for error in exc.errors()
    ]
    lines = []
    for loc, error in errors:
        # a list whose items were refused is not also "too short" (pydantic drops them)
        if error["type"] == "too_short" and any(
            other[: len(loc)] == loc and len(other) > len(loc) for other, _ in errors
        ):
            continue
        source = _source_of(loc, sources, default)
        field_name = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".")
        value = "" if error["type"] == "missing" else f" = {short_repr(error['input'])}"
        lines.append(
            f"  - {field_name or 'posture'}{value} (from {source}): {_message(loc, error)}"
        )
    return f"invalid posture ({len(lines)} error(s)):\n" + "\n".join(lines)


def _source_of(loc: tuple[str, ...], sources: Mapping[tuple[str, ...], str], default: str) -> str:
    """Who set ``loc``: the longest prefix a source set, else every source of its fields."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in sources:
            return sources[loc[:n]]
    below = sorted({s for path, s in sources.items() if path[: len(loc)] == loc and loc})
    return " and ".join(below) or default


def _message(loc: tuple[str, ...], error: Any) -> str:
    """An error in the posture's own words: no pydantic type names."""
    kind, ctx = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden":
        return _unknown_key(loc[-1], _fields_at(loc[:-1]))
    if kind == "missing":
        return "missing: this section needs it"
    if kind == "too_short":
        return f"must hold at least {ctx['min_length']} item(s), not {ctx['actual_length']}"
    if kind == "too_long":
        return f"must hold at most {ctx['max_length']} items, not {ctx['actual_length']}"
    if kind in ("tuple_type", "list_type"):
        return "must be a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a table of keys (a section)"
    if kind == "string_type":
        return "must be text"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message.replace("Input should be", "must be")


def _unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key.lower(), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; allowed here: {', '.join(allowed)}"


def _fields_at(loc: tuple[str, ...]) -> list[str]:
    """The field names of the posture section at ``loc``."""
    model: type[BaseModel] | None = Posture
    for part in loc:
        if model is None:
            break
        info = model.model_fields.get(part)
        # a region name under "regions" keeps the RegionSettings found for "regions"
        if info is not None:
            model = model_type(info.annotation)
    return sorted(model.model_fields) if model else []


def model_type(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model in an annotation (``X | None``, ``dict[str, X]``), if any."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
