"""Build an AWS Lambda layer zip of secure-comprehend and its runtime dependencies.

    python scripts/lambda_layer.py                       # Python 3.12, x86_64, from a new wheel
    python scripts/lambda_layer.py --arch arm64 --python 3.13 --with-boto3
    python scripts/lambda_layer.py --wheel dist/secure_comprehend-0.1.0-py3-none-any.whl

The layer holds ``python/`` with secure_comprehend and what it needs at run time, built
for Lambda's platform (manylinux wheels only, so pydantic-core matches the runtime).
boto3 and botocore are left to the Lambda runtime, which ships them, unless
``--with-boto3`` (pin your own). Prints the zip's path and its size, zipped and unzipped
(Lambda allows 250 MB unzipped for a function and its layers).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="3.12", help="the Lambda runtime's Python (3.12)")
    parser.add_argument("--arch", choices=("x86_64", "arm64"), default="x86_64")
    parser.add_argument("--with-boto3", action="store_true", help="include boto3 and botocore")
    parser.add_argument("--wheel", type=Path, help="secure-comprehend's wheel (default: build)")
    parser.add_argument("--out", type=Path, help="the zip (default: dist/...)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        wheel = args.wheel or _build_wheel(Path(work))
        target = Path(work) / "layer" / "python"
        requirements = [
            r for r in _requirements(wheel) if args.with_boto3 or _name(r) not in RUNTIME
        ]
        platform = "manylinux2014_x86_64" if args.arch == "x86_64" else "manylinux2014_aarch64"
        _pip("install", "--no-deps", "--target", str(target), str(wheel))
        if requirements:  # for Lambda's platform, not this machine's
            _pip(
                "install",
                "--target",
                str(target),
                "--platform",
                platform,
                "--implementation",
                "cp",
                "--python-version",
                args.python,
                "--only-binary=:all:",
                *requirements,
            )
        out = args.out or TOP / "dist" / f"secure-comprehend-layer-py{args.python}-{args.arch}.zip"
        out.parent.mkdir(parents=True, exist_ok=True)
        unzipped = _zip(target.parent, out)
    kept = "with boto3" if args.with_boto3 else "boto3 and botocore from the runtime"
    zipped, size = out.stat().st_size / 2**20, unzipped / 2**20
    print(f"{out}: {zipped:.1f} MiB zipped, {size:.1f} MiB unzipped", end=" ")
    print(f"(Python {args.python}, {args.arch}, {kept})")
    return 0


def _build_wheel(work: Path) -> Path:
    _pip("wheel", "--no-deps", "--wheel-dir", str(work), str(TOP))
    return next(work.glob("secure_comprehend-*.whl"))


def _requirements(wheel: Path) -> list[str]:
    """The wheel's run-time requirements (no extras), with their markers."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    return [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]


def _name(requirement: str) -> str:
    for stop in "<>=!~;[ (":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower().replace("_", "-")


def _pip(*arguments: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--quiet", *arguments], check=True)


def _zip(root: Path, out: Path) -> int:
    """Zip everything under ``root`` (no byte-code); the unzipped size."""
    size = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            parts = path.relative_to(root).parts
            if path.is_file() and "__pycache__" not in parts and parts[1] != "bin":  # scripts
                archive.write(path, path.relative_to(root))
                size += path.stat().st_size
    return size


if __name__ == "__main__":
    raise SystemExit(main())
