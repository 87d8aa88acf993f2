"""Generate the typing of protected Comprehend clients from the stubs and botocore's model.

The boto3 stubs (``types-boto3[comprehend]``, ``types-aiobotocore[comprehend]``) declare
``DataAccessRoleArn`` and the like required, so a call that leaves them to the posture
fails a type checker. This script writes, for each stubs package installed, a stub module
in ``secure_comprehend/_typed/`` declaring a subclass of the stubs' ``ComprehendClient``
that overrides the methods of the operations where a posture can inject a member:

* which members: the library's own walk of botocore's service model
  (``secure_comprehend.decision.operations.default_model()``), the members of kinds
  ``vpc``, the four KMS key kinds and ``role``, on every operation but updates (where an
  absent member means "unchanged" and nothing is injected);
* each such operation's request ``TypedDict`` is copied field by field from the stubs'
  source, with those members ``NotRequired``: everything else reads as the stubs say.

Run it after upgrading botocore or the stubs; ``--check`` exits 1 when the files in the
tree differ from what it would write (``tests/test_typing.py`` runs the same comparison)::

    python scripts/generate_typing.py [--check]
"""

from __future__ import annotations

import argparse
import ast
import builtins
import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
LINE_LENGTH = 100  # ruff's, from pyproject.toml


@dataclass(frozen=True)
class Flavour:
    """One stubs package and the module generated from it."""

    stubs: str  # the stubs package: types_boto3_comprehend, ...
    distribution: str  # what installs it, for messages
    output: str  # the generated file, relative to the repository
    class_name: str  # the protected client's class


FLAVOURS = (
    Flavour(
        "types_boto3_comprehend",
        "types-boto3[comprehend]",
        "secure_comprehend/_typed/comprehend.pyi",
        "SecureComprehendClient",
    ),
    Flavour(
        "types_aiobotocore_comprehend",
        "types-aiobotocore[comprehend]",
        "secure_comprehend/_typed/aio_comprehend.pyi",
        "AioSecureComprehendClient",
    ),
)

# Names the generated modules take from typing_extensions (the stubs pick typing or
# typing_extensions by Python version; in a stub either works, the backport everywhere).
_TYPING = ("NotRequired", "Required", "TypedDict", "Unpack")
_BUILTINS = frozenset(dir(builtins))


class GenerationError(Exception):
    """The stubs or the model have a form this script does not handle: extend it."""


# The members a posture can inject: from the library's own walk of the model.


def injectable() -> dict[str, list[tuple[tuple[str, ...], bool]]]:
    """Operation name -> (path, buildable) of each member the posture may fill in."""
    sys.path.insert(0, str(TOP))  # this tree's library, also when run as a script
    try:
        from secure_comprehend.decision.operations import default_model
        from secure_comprehend.posture.kinds import CORE_KINDS
    finally:
        sys.path.remove(str(TOP))
    table = default_model()[1]
    found: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
    for name, spec in sorted(table.specs.items()):
        if spec.is_update:  # an absent member means "unchanged": nothing is injected
            continue
        members = [(m.path, m.buildable) for m in spec.members if m.kind in CORE_KINDS]
        if members:
            found[name] = members
    return found


# The stubs' source.


class StubModule:
    """One ``.pyi`` of a stubs package, parsed: its definitions and what it imports."""

    def __init__(self, package: str, module: str) -> None:
        spec = importlib.util.find_spec(package)  # finds, does not import
        if spec is None or not spec.submodule_search_locations:
            raise GenerationError(f"{package} is not installed")
        self.package = package
        self.path = Path(next(iter(spec.submodule_search_locations))) / f"{module}.pyi"
        self.source = self.path.read_text()
        self.tree = ast.parse(self.source)
        self.name = f"{package}.{module}"
        self.definitions: dict[str, ast.stmt] = {}
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
        for node in self._top_level(self.tree.body):
            if isinstance(node, ast.ClassDef):
                self.definitions[node.name] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.definitions[target.id] = node
            elif isinstance(node, ast.ImportFrom) and node.module:
                source = f"{package}.{node.module}" if node.level else node.module
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (source, alias.name)

    @staticmethod
    def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
        """Top-level statements, with those of ``if sys.version_info ...`` blocks: the
        ``else`` branch last, so an import from typing_extensions wins."""
        for node in body:
            if isinstance(node, ast.If):
                yield from StubModule._top_level(node.body)
                yield from StubModule._top_level(node.orelse)
            else:
                yield node

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node)
        if text is None:
            raise GenerationError(f"{self.path}: no source for line {getattr(node, 'lineno', 0)}")
        return text

    def typed_dict(self, name: str) -> ast.ClassDef:
        node = self.definitions.get(name)
        if not (
            isinstance(node, ast.ClassDef)
            and [ast.unparse(b) for b in node.bases] == ["TypedDict"]
            and not node.keywords
        ):
            raise GenerationError(f"{self.name}.{name} is not a plain class-based TypedDict")
        return node

    def typed_dicts_of(self, annotation: ast.expr) -> list[ast.ClassDef]:
        """The TypedDicts a field's annotation names: ``X``, ``NotRequired[X]`` or a
        ``Union`` alias of them."""
        inner = _unwrap(annotation)[0]
        if not isinstance(inner, ast.Name):
            raise GenerationError(f"{self.name}: cannot follow {ast.unparse(annotation)}")
        node = self.definitions.get(inner.id)
        if isinstance(node, ast.Assign):
            value = node.value
            if (
                isinstance(value, ast.Subscript)
                and ast.unparse(value.value) == "Union"
                and isinstance(value.slice, ast.Tuple)
            ):
                return [d for e in value.slice.elts for d in self.typed_dicts_of(e)]
        return [self.typed_dict(inner.id)]


def _unwrap(annotation: ast.expr) -> tuple[ast.expr, bool]:
    """(the type, whether the key is required) of a total TypedDict's field annotation."""
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
        if annotation.value.id == "NotRequired":
            return annotation.slice, False
        if annotation.value.id == "Required":
            return annotation.slice, True
    return annotation, True


def _fields(node: ast.ClassDef, where: str) -> dict[str, ast.AnnAssign]:
    fields = {}
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            fields[statement.target.id] = statement
        elif not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)):
            raise GenerationError(f"{where}.{node.name}: unexpected {ast.unparse(statement)}")
    return fields


# One generated module.


@dataclass
class Override:
    method: str  # start_entities_detection_job
    is_async: bool
    request: str  # the request TypedDict's name
    returns: str  # the return annotation, as the stubs write it
    fields: list[tuple[str, str]]  # the TypedDict's body: (name, annotation) per field
    relaxed: list[str]  # the fields made NotRequired


def _override(
    client: StubModule,
    type_defs: StubModule,
    method: ast.FunctionDef | ast.AsyncFunctionDef,
    members: list[tuple[tuple[str, ...], bool]],
) -> Override | None:
    where = f"{client.name}.ComprehendClient.{method.name}"
    args = method.args
    kwargs = args.kwarg
    if (
        [a.arg for a in args.posonlyargs + args.args] != ["self"]
        or args.vararg
        or args.kwonlyargs
        or kwargs is None
        or not isinstance(kwargs.annotation, ast.Subscript)
        or ast.unparse(kwargs.annotation.value) != "Unpack"
        or not isinstance(kwargs.annotation.slice, ast.Name)
        or method.returns is None
    ):
        raise GenerationError(f"{where}: not (self, **kwargs: Unpack[TypedDict]) -> ...")
    request = type_defs.typed_dict(kwargs.annotation.slice.id)
    fields = _fields(request, type_defs.name)
    relax: set[str] = set()  # the fields to make NotRequired
    for path, buildable in members:
        field = fields.get(path[0])
        if field is None:
            continue  # the stubs predate the member: nothing to relax
        if _unwrap(field.annotation)[1] and (len(path) == 1 or buildable):
            relax.add(path[0])
        if len(path) > 1:
            _check_nested(type_defs, field.annotation, path[1:], f"{request.name}.{path[0]}")
    if not relax:
        return None
    lines = []
    for name, field in fields.items():
        text = type_defs.segment(field.annotation)
        if name in relax:
            text = f"NotRequired[{type_defs.segment(_unwrap(field.annotation)[0])}]"
        lines.append((name, text))
    return Override(
        method.name,
        isinstance(method, ast.AsyncFunctionDef),
        request.name,
        client.segment(method.returns),
        lines,
        sorted(relax),
    )


def _check_nested(
    type_defs: StubModule, annotation: ast.expr, path: tuple[str, ...], where: str
) -> None:
    """A member below the top must already be optional in the stubs: copying nested
    TypedDicts under new names would make the stubs' own types no longer fit."""
    for node in type_defs.typed_dicts_of(annotation):
        field = _fields(node, type_defs.name).get(path[0])
        if field is None:
            continue
        if _unwrap(field.annotation)[1]:
            raise GenerationError(
                f"{type_defs.name}.{node.name}.{path[0]} (at {where}) is required in the "
                "stubs and the posture may fill it in: nested members are not relaxed yet"
            )
        if len(path) > 1:
            _check_nested(type_defs, field.annotation, path[1:], f"{where}.{path[0]}")


def _names(text: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}


def _order(name: str) -> tuple[int, str]:
    """isort's order-by-type, as ruff sorts imported names: CONSTANTS, Classes, functions."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name.lower()


def _import_lines(imports: dict[str, set[str]]) -> list[str]:
    """``from`` imports as ruff's isort lays them out: the standard library's, then the rest."""
    stdlib = sorted(
        (m for m in imports if m.split(".")[0] in sys.stdlib_module_names), key=str.lower
    )
    others = sorted((m for m in imports if m not in stdlib), key=str.lower)
    lines: list[str] = []
    for section in (stdlib, others):
        if lines and section:
            lines.append("")
        for module in section:
            names = sorted(imports[module], key=_order)
            line = f"from {module} import {', '.join(names)}"
            if len(line) <= LINE_LENGTH:
                lines.append(line)
            else:
                lines.extend([f"from {module} import (", *(f"    {n}," for n in names), ")"])
    return lines


def _signature(o: Override) -> list[str]:
    head = f"    {'async ' if o.is_async else ''}def {o.method}("
    args = f"self, **kwargs: Unpack[{o.request}]"
    tail = f") -> {o.returns}: ..."
    if len(head) + len(args) + len(tail) <= LINE_LENGTH:
        return [head + args + tail]
    lines = [head, f"        {args}", f"    {tail}"]
    if any(len(line) > LINE_LENGTH for line in lines):
        raise GenerationError(f"{o.method}: the signature does not fit in {LINE_LENGTH} columns")
    return lines


def render(flavour: Flavour, members: dict[str, list[tuple[tuple[str, ...], bool]]]) -> str:
    """The generated module for one stubs package."""
    from botocore import xform_name

    client = StubModule(flavour.stubs, "client")
    type_defs = StubModule(flavour.stubs, "type_defs")
    base = client.definitions.get("ComprehendClient")
    if not isinstance(base, ast.ClassDef):
        raise GenerationError(f"{client.name} has no ComprehendClient")
    methods = {
        node.name: node
        for node in base.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    overrides = []
    for operation, its_members in members.items():
        method = methods.get(xform_name(operation))
        if method is None:
            continue  # the stubs predate the operation
        override = _override(client, type_defs, method, its_members)
        if override is not None:
            overrides.append(override)
    if not overrides:
        raise GenerationError(f"{flavour.stubs}: no operation to relax; is the model walk right?")

    local = {o.request for o in overrides}
    imports: dict[str, set[str]] = {
        f"{flavour.stubs}.client": {"ComprehendClient"},
        "typing_extensions": {"NotRequired", "Unpack"},
    }
    # each name an annotation uses, imported from where the stubs take it
    annotations = [(type_defs, a) for o in overrides for _, a in o.fields]
    annotations += [(client, o.returns) for o in overrides]
    for stub, annotation in annotations:
        for name in _names(annotation) - local - _BUILTINS:
            if name in _TYPING:
                imports["typing_extensions"].add(name)
                continue
            module, original = stub.imports.get(name, (stub.name, name))
            if module == stub.name and name not in stub.definitions:
                raise GenerationError(f"{stub.name}: cannot tell where {name} comes from")
            if original != name:
                raise GenerationError(f"{stub.name}: {name} is imported under another name")
            imports.setdefault(module, set()).add(name)
    imports["typing_extensions"].add("TypedDict")

    out = [
        "# Generated by scripts/generate_typing.py from botocore's model and",
        f"# {flavour.distribution}: do not edit; regenerate it after upgrading either.",
        f'"""The {"aiobotocore" if "aio" in flavour.stubs else "boto3"} Comprehend client '
        "as a posture protects it: the members the posture",
        "may fill in are optional; everything else is as the stubs declare it.",
        '"""',
        "",
        *_import_lines(imports),
        "",
        "__all__ = [",
        *(f'    "{name}",' for name in sorted([flavour.class_name, *local])),
        "]",
        "",
    ]
    for o in sorted(overrides, key=lambda o: o.request):
        out.append(f"class {o.request}(TypedDict):")
        for name, annotation in o.fields:
            comment = "  # the posture may fill it in" if name in o.relaxed else ""
            out.append(f"    {name}: {annotation}{comment}")
        out.append("")
    out.append(f"class {flavour.class_name}(ComprehendClient):")
    out.append(
        '    """A protected client: where the posture may fill in a member, it is optional."""'
    )
    out.append("")
    for o in sorted(overrides, key=lambda o: o.method):
        out.extend(_signature(o))
    return "\n".join(out) + "\n"


def generated() -> dict[Path, str]:
    """Every file this script writes, and its text; a flavour whose stubs are not installed
    is left out (its file, if any, is kept)."""
    members = injectable()
    files = {}
    for flavour in FLAVOURS:
        if importlib.util.find_spec(flavour.stubs) is None:
            print(f"skipped {flavour.output}: {flavour.distribution} is not installed")
            continue
        files[TOP / flavour.output] = render(flavour, members)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    options = parser.parse_args(argv)
    stale = []
    for path, text in generated().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not options.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(TOP)}")
    if options.check and stale:
        for path in stale:
            print(f"stale: {path.relative_to(TOP)} (run python scripts/generate_typing.py)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
