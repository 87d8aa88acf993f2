"""The marked code blocks of the README and docs/ run as written (fake credentials, no network)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
BLOCKS = {
    name: code
    for page in [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]
    for name, code in re.findall(
        r"<!-- readme-test: (\S+) -->\n```python\n(.*?)```", page.read_text(), re.S
    )
}


def test_the_readme_marks_its_examples() -> None:
    assert "stubber" in BLOCKS


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_a_readme_example_runs(name: str) -> None:
    exec(compile(BLOCKS[name], f"README.md:{name}", "exec"), {})
