#!/usr/bin/env bash
# The release as it would be published: the sdist and the wheel built and checked (twine,
# check-wheel-contents), the wheel installed into a clean virtual environment and the demo
# run from it, and the Lambda layer built from that wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python -m venv "$work/tools"
"$work/tools/bin/pip" install -q build twine check-wheel-contents
"$work/tools/bin/python" -m build --outdir "$work/dist" . >/dev/null
"$work/tools/bin/twine" check --strict "$work"/dist/*
"$work/tools/bin/check-wheel-contents" "$work"/dist/*.whl
wheel=$(ls "$work"/dist/*.whl)
python -m venv "$work/clean"
"$work/clean/bin/pip" install -q "${wheel}[demo]"
(cd "$work" && "$work/clean/bin/secure-comprehend" --version && "$work/clean/bin/secure-comprehend" demo >/dev/null)
echo "the demo ran from the installed wheel"
"$work/tools/bin/python" scripts/lambda_layer.py --wheel "$wheel" --out "$work/layer.zip"
