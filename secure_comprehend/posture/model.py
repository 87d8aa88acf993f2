"""The posture: the organization's approved VPC, KMS and IAM settings.

``Posture`` is a plain pydantic model (only its arguments; no environment, no
file: ``load_posture`` in ``posture.loading`` reads those). ``Posture.effective(region)``
overlays a region's sections on the top-level ones and returns the frozen,
lookup-ready :class:`EffectivePosture` the decision core uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, PrivateAttr, ValidationError, model_validator

from secure_comprehend._errors import PostureError
from secure_comprehend.posture.ids import KmsRef, parse_kms
from secure_comprehend.posture.invalid import describe_invalid
from secure_comprehend.posture.kinds import KMS_KINDS
from secure_comprehend.posture.regions import check_region, partition_of
from secure_comprehend.posture.sections import (
    STRICT,
    FrozenDict,
    IamSection,
    IamSettings,
    KmsSection,
    KmsSettings,
    ModelsSection,
    ModelsSettings,
    RegionName,
    RegionSettings,
    S3Section,
    S3Settings,
    Validated,
    VpcSection,
    VpcSettings,
)

if TYPE_CHECKING:
    from typing_extensions import Self

# observe: every request leaves as the caller built it and nothing is refused, each covered
# call logged once; audit: the posture is filled in, violations logged and sent; enforce:
# the posture is filled in and violations refused.
Mode = Literal["enforce", "audit", "observe"]


# Effective postures, keyed by the posture's content: two postures that compare
# unequal never share one, and copies need no state of their own.
_EFFECTIVE: dict[tuple[str, str, str | None], EffectivePosture] = {}
_EFFECTIVE_MAX = 256


class Posture(Validated):
    """The organization's approved settings for Comprehend: an immutable value.

    Built only from its arguments; ``load_posture()`` reads the environment and files.
    A copy with changes (``model_copy(update=...)``) is validated like a new posture.
    """

    model_config = STRICT
    mode: Mode = "enforce"
    vpc: VpcSection = None
    kms: KmsSection = None
    iam: IamSection = None
    s3: S3Section = None
    models: ModelsSection = None
    regions: Annotated[dict[RegionName, RegionSettings], AfterValidator(FrozenDict)] = Field(
        default_factory=FrozenDict
    )

    # where load_posture() got it from (provenance, fleet source): not part of its value
    _loaded_from: Any = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        """Two postures are equal when their settings are, wherever they came from."""
        if not isinstance(other, BaseModel):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __copy__(self) -> Self:
        """A copy is a posture of its own: it was not loaded from anywhere."""
        copied = super().__copy__()
        object.__setattr__(copied, "__pydantic_private__", {"_loaded_from": None})
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        memo = {} if memo is None else memo
        memo[id(self._loaded_from)] = None  # copied as None: not where the copy came from
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        return {**state, "__pydantic_private__": {"_loaded_from": None}}

    def __init__(self, **data: Any) -> None:
        """Validate the arguments.

        Raises:
            PostureError: an unknown key or an invalid value, each named with its value.
        """
        with _as_posture_error("Posture() arguments"):
            super().__init__(**data)

    @model_validator(mode="after")
    def _configures_something(self) -> Posture:
        if not any((self.vpc, self.kms, self.iam, self.s3, self.models, self.regions)):
            raise ValueError(
                "the posture configures nothing: set [vpc], [kms], [iam], [s3], [models] or "
                "[regions]"
            )
        if "regions" in self.model_fields_set and not self.regions:
            raise ValueError(
                "an empty [regions] table configures nothing: add [regions.NAME.vpc], "
                "[regions.NAME.kms] or [regions.NAME.iam] sections, or remove it"
            )
        if self.models is not None and not self.models.allowed_accounts and not self.iam:
            raise ValueError(
                "[models] needs to know which accounts are yours: set allowed_accounts, or "
                "[iam] data_access_roles (their accounts count as yours)"
            )
        return self

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate a mapping, as ``Posture(**obj)`` does.

        Raises:
            PostureError: an unknown key or an invalid value, each named with its value.
        """
        with _as_posture_error("model_validate()"):
            return super().model_validate(obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Validate a JSON document, as ``Posture(**json.loads(...))`` does.

        Raises:
            PostureError: an unknown key or an invalid value, each named with its value.
        """
        with _as_posture_error("model_validate_json()"):
            return super().model_validate_json(json_data, **kwargs)

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
        from secure_comprehend.posture.origin import origin_of
        from secure_comprehend.posture.show import show_report, show_text

        return show_text(show_report(self, self._sources(), None, origin_of(self)))

    def _repr_html_(self) -> str:
        from secure_comprehend._display import html_table
        from secure_comprehend.posture.show import setting_rows

        return html_table(
            f"secure_comprehend posture (mode {self.mode})",
            ("setting", "value", "from"),
            setting_rows(self, self._sources()),
        )

    def _sources(self) -> Mapping[tuple[str, ...], str]:
        """Where each setting came from: as loaded, or the arguments of a posture built in
        code (a copy with changes included)."""
        from secure_comprehend.posture.origin import loaded_from, provenance

        if loaded_from(self) is not None:
            return provenance(self)
        return {(name,): "Posture() arguments" for name in self.model_fields_set}

    def section_in(self, name: str, region: str | None) -> tuple[Any, bool]:
        """The section ``name`` (``vpc``, ``kms``, ...) in effect in ``region``, and whether
        it is the region's own: a region's section replaces the top-level one whole."""
        own = getattr(self.regions.get(region), name, None) if region else None
        return (own, True) if own is not None else (getattr(self, name), False)

    def top_level(self) -> EffectivePosture | None:
        """The top-level sections alone, unchecked for any region; None if there are none."""
        if not any((self.vpc, self.kms, self.iam, self.s3, self.models)):
            return None
        return _effective(self, None, None)


@contextmanager
def _as_posture_error(source: str) -> Iterator[None]:
    """pydantic's ValidationError as a PostureError in the posture's words."""
    try:
        yield
    except ValidationError as exc:
        raise PostureError(describe_invalid(exc, Posture, {}, source)) from exc


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
    s3: S3Settings | None = None
    models: ModelsSettings | None = None
    # accounts whose models are trusted: [models] allowed_accounts and the roles' accounts
    model_accounts: frozenset[str] = frozenset()

    # kind -> the default key injected for it
    default_keys: dict[str, str] = field(default_factory=dict)

    def default_key(self, kind: str) -> str | None:
        return self.default_keys.get(kind)


def _effective(posture: Posture, region: str | None, partition: str | None) -> EffectivePosture:
    """Overlay ``region``'s sections and check the keys' region; ``None``: top level, unchecked."""
    vpc, kms, iam = (posture.section_in(name, region)[0] for name in ("vpc", "kms", "iam"))
    if not (vpc or kms or iam or posture.s3 or posture.models):  # [s3], [models]: everywhere
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
        s3=posture.s3,
        models=posture.models,
        model_accounts=frozenset(
            [
                *(posture.models.allowed_accounts if posture.models else ()),
                *(role.split(":")[4] for role in (iam.data_access_roles if iam else ())),
            ]
        ),
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
