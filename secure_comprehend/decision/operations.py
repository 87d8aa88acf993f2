"""What each Comprehend operation carries, derived from botocore's service model.

The walk visits every input shape of every operation once per service model
and classifies each member whose name looks security-relevant. Members it
recognises become :class:`Member` entries; any other such member makes the
operation fail closed (``unknown``), so a new botocore that adds one is refused
until this library learns it.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from secure_comprehend._botocore import loader_holds, service_document
from secure_comprehend.decision.spec import Member, OperationSpec
from secure_comprehend.posture.kinds import Kind

if TYPE_CHECKING:
    from botocore.model import ServiceModel

# Shapes that carry an S3 URI (S3Uri, FlywheelS3Uri), a custom model (ComprehendModelArn,
# DocumentClassifierArn, EntityRecognizerArn) or a resource policy. Found by shape, so a new
# member of those shapes is covered with no code change.
_S3_SHAPE = re.compile(r"S3Uri$")
_S3_NAME = re.compile(r"s3", re.IGNORECASE)  # an S3-looking member of another shape: refused
# a flywheel stands for its active model: judged the same way
_MODEL_SHAPE = re.compile(r"(ModelArn|ClassifierArn|RecognizerArn|FlywheelArn)$")
_POLICY_SHAPE = "Policy"

# A member whose name matches this is security-relevant: understood or refused.
_SENSITIVE = re.compile(r"kms|vpc|subnet|securitygroup|role", re.IGNORECASE)

# (parent member name or "", member name) -> kind. Paths are matched by their
# last two names so the rule holds wherever botocore nests the member
# (VpcConfig at the top or inside DataSecurityConfig, say).
_KNOWN: dict[tuple[str, str], Kind] = {
    ("*", "VpcConfig"): "vpc",
    ("*", "VolumeKmsKeyId"): "volume_key",
    ("*", "ModelKmsKeyId"): "model_key",
    ("*", "DataLakeKmsKeyId"): "data_lake_key",
    ("OutputDataConfig", "KmsKeyId"): "output_key",
    ("*", "DataAccessRoleArn"): "role",
    ("*", "DesiredDataAccessRoleArn"): "role",
}
_VPC_PARTS = ("SecurityGroupIds", "Subnets")


def _kind_of(parent: str, name: str) -> Kind | None:
    return _KNOWN.get((parent, name)) or _KNOWN.get(("*", name))


Shapes = Mapping[str, Mapping[str, Any]]  # the model document's "shapes": name -> shape


class _Walk:
    """One walk of an operation's input shape: what it found, in one accumulator."""

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes
        self.members: list[Member] = []
        self.unknown: list[str] = []  # security-looking members not understood: refuse
        self.unknown_s3: list[str] = []  # S3-looking members of a form not understood
        self.unknown_models: list[str] = []  # model ARNs where none is understood

    def shape(
        self, name: str, path: tuple[str, ...], buildable: bool, seen: frozenset[str]
    ) -> None:
        """Walk the shape ``name`` found at ``path``."""
        shape = self.shapes[name]
        if shape["type"] in ("list", "map"):
            is_list = shape["type"] == "list"
            name = shape["member" if is_list else "value"]["shape"]
            shape = self.shapes[name]
            path = (*path[:-1], path[-1] + ("[]" if is_list else "{}")) if path else path
            buildable = False
            if shape["type"] == "string" and path:  # a list or map of strings
                self._strings(name, path, is_list)
                return
        if shape["type"] == "structure" and name not in seen:
            for member, ref in shape.get("members", {}).items():
                self._member(path, member, ref["shape"], buildable, seen | {name})

    def _strings(self, shape_name: str, path: tuple[str, ...], is_list: bool) -> None:
        dotted = ".".join(path)
        if _S3_SHAPE.search(shape_name) and is_list and "{}" not in dotted:
            self.members.append(Member(path, "s3", False))  # every item is checked
        elif _S3_SHAPE.search(shape_name) or _S3_NAME.search(path[-1]):
            self.unknown_s3.append(dotted)
        elif _MODEL_SHAPE.search(shape_name):
            self.unknown_models.append(dotted)

    def _member(
        self,
        path: tuple[str, ...],
        name: str,
        shape_name: str,
        buildable: bool,
        seen: frozenset[str],
    ) -> None:
        child_path = (*path, name)
        child = self.shapes[shape_name]
        sensitive = _SENSITIVE.search(name) is not None
        if (
            child["type"] == "string"
            and not sensitive
            and self._plain_string(path, child_path, shape_name)
        ):
            return
        kind = _kind_of(path[-1] if path else "", name) if sensitive else None
        # Members inside lists or maps have no single path to inject at: refuse them.
        in_collection = any(p.endswith(("[]", "{}")) for p in path)
        if kind == "vpc" and not in_collection:
            extra = _vpc_extra(child)
            if extra is None:
                self.unknown.append(".".join(child_path))
            elif extra:
                self.unknown.extend(".".join((*child_path, n)) for n in extra)
            else:
                self.members.append(Member(child_path, kind, buildable))
        elif kind not in (None, "vpc") and not in_collection and child["type"] == "string":
            alias = kind == "output_key"
            self.members.append(Member(child_path, kind, buildable, accepts_alias=alias))
        elif sensitive:
            self.unknown.append(".".join(child_path))
        else:
            required = child["type"] == "structure" and bool(child.get("required"))
            self.shape(shape_name, child_path, buildable and not required, seen)

    def _plain_string(
        self, path: tuple[str, ...], child_path: tuple[str, ...], shape_name: str
    ) -> bool:
        """An S3 URI, a model ARN or a model policy; False: an ordinary string."""
        dotted = ".".join(child_path)
        if _S3_SHAPE.search(shape_name) and "{}" not in dotted:  # in lists too
            self.members.append(Member(child_path, "s3", False))
        elif _S3_SHAPE.search(shape_name) or _S3_NAME.search(child_path[-1]):
            self.unknown_s3.append(dotted)  # in a map, or S3-looking of another shape
        elif _MODEL_SHAPE.search(shape_name):
            if path:  # a model named below the top: not understood
                self.unknown_models.append(dotted)
            else:
                self.members.append(Member(child_path, "model", False))
        elif not path and shape_name == _POLICY_SHAPE:
            self.members.append(Member(child_path, "model_policy", False))
        else:
            return False
        return True


def _vpc_extra(shape: Mapping[str, Any]) -> list[str] | None:
    """Security-relevant members of a VpcConfig beyond the two understood; None if not one."""
    names = set(shape.get("members", ()))
    if shape["type"] != "structure" or not set(_VPC_PARTS) <= names:
        return None
    return [n for n in shape["members"] if n not in _VPC_PARTS and _SENSITIVE.search(n)]


def spec_for(document: Mapping[str, Any], operation: str) -> OperationSpec:
    """Walk one operation's input shape in a service model document."""
    walk = _Walk(document["shapes"])
    input_shape = document["operations"][operation].get("input", {}).get("shape")
    if input_shape is not None:
        walk.shape(input_shape, (), True, frozenset())
    members, unknown_models = walk.members, walk.unknown_models
    if operation.endswith("Flywheel"):  # there the FlywheelArn names the flywheel itself
        members = [m for m in members if not (m.kind == "model" and m.path == ("FlywheelArn",))]
    if not any(m.kind == "role" for m in members) and not operation.startswith("Start"):
        # a model ARN matters where work runs on it (jobs, endpoints, flywheels and their
        # iterations, imports), not in Describe*, Delete*, Stop* or a List* filter; a
        # resource policy always shares
        members = [m for m in members if m.kind != "model"]
        unknown_models = []
    return OperationSpec(
        operation,
        tuple(members),
        tuple(walk.unknown),
        operation.startswith("Update"),
        tuple(walk.unknown_s3),
        tuple(unknown_models),
    )


@dataclass(frozen=True)
class OperationsTable:
    """Every operation of a service model with at least one security member."""

    specs: dict[str, OperationSpec]

    def get(self, name: str) -> OperationSpec | None:
        return self.specs.get(name)


# id(model document) -> (the loader that holds that document, its table). The
# loader caches the document for its session's lifetime, so while the loader is
# alive the id names that document; when the loader goes, its entry goes with it.
# Nothing here keeps a document (about 1.4 MiB) alive.
_CACHE: dict[int, tuple[weakref.ref[Any], OperationsTable]] = {}
_LOCK = threading.Lock()


def operations_for(model: ServiceModel, loader: Any = None) -> OperationsTable:
    """The operations table of a service model, walked once per loaded model.

    Args:
        model: the client's service model.
        loader: the botocore loader that loaded ``model`` (``_botocore.client_loader``);
            with it, the table is shared by every client of that session. Without it,
            the model is walked again (about a millisecond).
    """
    document = service_document(model)  # the loader caches it
    key = id(document)
    entry = _CACHE.get(key)
    if entry is not None and loader is not None and entry[0]() is loader:
        return entry[1]
    # The raw document, not botocore's Shape objects: the same model, walked without
    # building thousands of objects (and the garbage collections they set off) at cold start.
    specs = {}
    for name in model.operation_names:
        spec = spec_for(document, name)
        if spec.covered:
            specs[name] = spec
    table = OperationsTable(specs)
    if loader is not None and loader_holds(loader, document):
        with _LOCK:
            _CACHE[key] = (weakref.ref(loader), table)
        weakref.finalize(loader, _CACHE.pop, key, None)
    return table


def is_comprehend(model: Any) -> bool:
    """Whether a service model is Comprehend's, whatever name or alias loaded it: any of
    its names (service, service ID, endpoint prefix, signing name, target prefix) says so.
    (Comprehend Medical's names are its own: ``comprehendmedical``, ...)"""
    metadata = getattr(model, "metadata", None) or {}
    return (
        getattr(model, "service_name", None) == "comprehend"
        or metadata.get("serviceId") == "Comprehend"
        or metadata.get("endpointPrefix") == "comprehend"
        or metadata.get("signingName") == "comprehend"
        or str(metadata.get("targetPrefix", "")).startswith("Comprehend_")
    )


_DEFAULT: list[tuple[ServiceModel, OperationsTable, dict[str, str]]] = []


def default_model() -> tuple[ServiceModel, OperationsTable, dict[str, str]]:
    """The installed botocore's comprehend model, its table and snake_case names.

    Loaded once per process, for callers without a client (``evaluate``, the CLI).
    """
    if not _DEFAULT:
        import botocore.session
        from botocore import xform_name

        session = botocore.session.get_session()
        model = session.get_service_model("comprehend")
        names = {xform_name(n): n for n in model.operation_names}
        names.update({n: n for n in model.operation_names})
        table = operations_for(model, session.get_component("data_loader"))
        with _LOCK:
            if not _DEFAULT:
                _DEFAULT.append((model, table, names))
    return _DEFAULT[0]


def operation_name(name: str) -> str:
    """``create_document_classifier`` or ``CreateDocumentClassifier`` -> the API name.

    Raises:
        ValueError: no comprehend operation has that name.
    """
    names = default_model()[2]
    if name in names:
        return names[name]
    import difflib

    close = difflib.get_close_matches(name, names, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown Comprehend operation {name!r}{hint}")
