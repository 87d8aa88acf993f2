"""Every Python block of the README and docs/ is checked: run as written (fake credentials,
moto, the example posture), run in a process of its own by a named test, or type-checked.

A block says which with a marker on the line above it:
- ``<!-- readme-test: NAME -->``: run here, with ``sc``, ``boto3``, ``posture`` (the example
  posture), ``existing_client`` (a boto3 Comprehend client) and ``params`` (a request) defined;
- ``<!-- readme-subprocess: NAME -->``: run by a test of its own (it configures logging, say);
- ``<!-- readme-typed: NAME -->``: checked by mypy and pyright (tests/test_typing.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from conftest import EXAMPLE_CONFIG

import secure_comprehend as sc

TOP = Path(__file__).resolve().parent.parent
PAGES = [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]
MARKED = re.compile(r"<!-- readme-(test|subprocess|typed): (\S+) -->\n```python\n(.*?)```", re.S)
BLOCKS = {
    name: code
    for page in PAGES
    for how, name, code in MARKED.findall(page.read_text())
    if how == "test"
}


def test_every_python_block_is_marked() -> None:
    for page in PAGES:
        text = page.read_text()
        assert text.count("```python") == len(MARKED.findall(text)), page.name


@pytest.mark.usefixtures("moto")
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_a_readme_example_runs(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECURE_COMPREHEND_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    namespace: dict[str, Any] = {
        "sc": sc,
        "boto3": boto3,
        "posture": sc.load_posture(EXAMPLE_CONFIG),
        "existing_client": boto3.client("comprehend", region_name="us-east-1"),
        "params": {
            "DocumentClassifierName": "news",
            "LanguageCode": "en",
            "InputDataConfig": {"S3Uri": "s3://corpus/train/"},
        },
    }
    try:
        exec(compile(BLOCKS[name], f"README.md:{name}", "exec"), namespace)
    finally:
        sc.unpatch()
