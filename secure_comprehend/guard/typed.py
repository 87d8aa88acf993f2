"""client(), protect() and aio_client(), typed for the posture: see ``typed.pyi``.

A type checker reads ``typed.pyi`` (``sc.client`` and the others resolve there): the
client they give is a ``SecureComprehendClient`` (or ``AioSecureComprehendClient``), where
the members a posture may fill in are optional (docs/typing.md). Those classes exist for
type checkers only: import them under ``if TYPE_CHECKING:``. At run time this module
holds the functions themselves.
"""

from __future__ import annotations

from secure_comprehend.guard.aio import aio_client
from secure_comprehend.guard.client import client
from secure_comprehend.guard.enforcement import protect

__all__ = ["aio_client", "client", "protect"]
