"""The public surface: pinned names, and no side effects at import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import secure_comprehend as sc

PUBLIC = [
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


def test_all_is_pinned_and_sorted() -> None:
    assert sc.__all__ == PUBLIC
    assert sorted(sc.__all__) == sc.__all__
    assert sorted(sc._HOMES) == PUBLIC
    for name in PUBLIC:
        assert getattr(sc, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'clent'"):
        sc.clent  # noqa: B018


def test_error_hierarchy() -> None:
    from botocore.exceptions import ClientError

    assert issubclass(sc.PostureError, sc.SecureComprehendError)
    assert issubclass(sc.PostureViolation, sc.SecureComprehendError)
    assert issubclass(sc.PostureViolation, ClientError)


def test_import_has_no_side_effects() -> None:
    code = (
        "import logging, sys, io\n"
        "stream = io.StringIO(); logging.basicConfig(stream=stream, level=logging.DEBUG)\n"
        "import boto3, secure_comprehend\n"
        "assert boto3.DEFAULT_SESSION is None, 'a session was created'\n"
        "assert 'pydantic' not in sys.modules, 'pydantic imported'\n"
        "assert 'moto' not in sys.modules\n"
        "assert stream.getvalue() == '', stream.getvalue()\n"
        "root = logging.getLogger()\n"
        "assert all(type(h).__name__ != 'NullHandler' for h in root.handlers)\n"
    )
    env = {"SECURE_COMPREHEND_MOD": "typo-must-not-be-read-at-import", "PATH": ""}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_logger_has_no_handler_of_its_own() -> None:
    # a NullHandler would switch off Python's last-resort handler: audit findings unseen
    import logging

    import secure_comprehend.guard.enforcement  # noqa: F401  # the module that logs

    assert logging.getLogger("secure_comprehend").handlers == []


# The layers, from the bottom: a module imports its own layer or those below it only.
LAYERS = ("base", "posture", "decision", "guard", "policy", "account", "cli", "top")


def _imports() -> dict[str, set[str]]:
    """Each module of the package (``posture.model``, ``_errors``) and the package modules
    it imports: every import counts, lazy and typing ones too."""
    import ast
    from pathlib import Path

    package = Path(sc.__file__).parent
    paths = {
        ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(".__init__"): path
        for path in package.rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not ((isinstance(node, ast.ImportFrom) and node.module) or "").startswith(
                "secure_comprehend."
            ):
                continue
            assert isinstance(node, ast.ImportFrom) and node.module
            module = node.module.removeprefix("secure_comprehend.")
            for alias in node.names:  # from secure_comprehend.cli import commands: cli.commands
                graph[name].add(
                    f"{module}.{alias.name}" if f"{module}.{alias.name}" in paths else module
                )
        graph[name].discard(name)
    return graph


def _layer(module: str) -> str:
    first = module.split(".")[0]
    if first in ("__init__", "__main__"):
        return "top"
    return "base" if first.startswith("_") else first


def test_module_imports_point_one_way() -> None:
    """No circle among the package's modules."""
    from graphlib import CycleError, TopologicalSorter

    try:
        list(TopologicalSorter(_imports()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle: {exc.args[1]}") from exc


def test_layers_import_only_downwards() -> None:
    graph = _imports()
    assert {_layer(m) for m in graph} == set(LAYERS), sorted(graph)
    upward = sorted(
        f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in graph.items()
        for target in targets
        if LAYERS.index(_layer(target)) > LAYERS.index(_layer(module))
    )
    assert upward == []
