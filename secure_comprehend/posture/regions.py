"""Region names, checked against botocore's own partition data.

A region name is valid when botocore's ``partitions.json`` lists it and it
matches its partition's region pattern, whole and ASCII only. A misspelt one
(``eu-west1``, ``EU-WEST-1``, ``"eu-west-1 "``) never silently matches nothing:
it is an error with a "did you mean" among the regions botocore knows.
"""

from __future__ import annotations

import difflib
import re
import threading
from typing import Any

from secure_comprehend._errors import PostureError

_LOCK = threading.Lock()
_PARTITIONS: dict[str, str] = {}  # region -> partition, filled once


def _regions() -> dict[str, str]:
    if not _PARTITIONS:
        from botocore.loaders import create_loader

        data: dict[str, Any] = create_loader().load_data("partitions")
        found: dict[str, str] = {}
        for partition in data["partitions"]:
            # botocore writes the pattern with ^...$ and \w: match whole and ASCII here
            pattern = re.compile(partition["regionRegex"].strip("^$"), re.ASCII)
            found.update(
                {name: partition["id"] for name in partition["regions"] if pattern.fullmatch(name)}
            )
        with _LOCK:
            _PARTITIONS.update(found)
    return _PARTITIONS


def region_problem(region: object) -> str | None:
    """Why ``region`` is no region botocore knows, with a "did you mean"; None if it is one."""
    if isinstance(region, str) and region in _regions():
        return None
    text = region if isinstance(region, str) else ""
    close = difflib.get_close_matches(text.strip().lower(), _regions(), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    import botocore

    return (
        f"{region!r} is not an AWS region botocore {botocore.__version__} knows "
        f"(lower-case, e.g. 'us-east-1'){hint}"
    )


def check_region(region: object, where: str) -> str:
    """``region`` itself, if botocore knows it.

    Raises:
        PostureError: naming ``where`` the region came from, with a "did you mean".
    """
    problem = region_problem(region)
    if problem is not None:
        raise PostureError(f"{where}: {problem}")
    return str(region)


def partition_of(region: str) -> str | None:
    """The partition of a region botocore knows (``aws``, ``aws-cn``, ...); None otherwise."""
    return _regions().get(region)
