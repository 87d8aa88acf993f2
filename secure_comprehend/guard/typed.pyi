"""client(), protect() and aio_client() as a type checker sees them (``sc.client`` and the
others resolve here): the client they give is typed as ``SecureComprehendClient`` (or
``AioSecureComprehendClient``), where the members a posture may fill in are optional.

The parameters are the run-time functions' (``guard/client.py``, ``guard/enforcement.py``,
``guard/aio.py``); ``tests/test_typing.py`` holds them equal.
"""

import contextlib
from typing import Any, TypeVar, overload

import boto3
from aiobotocore.config import AioConfig  # type: ignore[import-not-found,import-untyped,unused-ignore]
from aiobotocore.session import AioSession  # type: ignore[import-not-found,import-untyped,unused-ignore]
from botocore.client import BaseClient
from botocore.config import Config
from types_aiobotocore_comprehend.client import (  # type: ignore[import-not-found,unused-ignore]
    ComprehendClient as AioComprehendClient,
)
from types_boto3_comprehend.client import ComprehendClient
from typing_extensions import Unpack

from secure_comprehend._typed.aio_comprehend import (
    AioSecureComprehendClient as AioSecureComprehendClient,
)
from secure_comprehend._typed.comprehend import (
    SecureComprehendClient as SecureComprehendClient,
)
from secure_comprehend.guard.client import ClientArgs
from secure_comprehend.posture.model import Posture

ClientT = TypeVar("ClientT", bound=BaseClient)

def client(
    region_name: str | None = None,
    *,
    posture: Posture | None = None,
    session: boto3.Session | None = None,
    config: Config | None = None,
    **kwargs: Unpack[ClientArgs],
) -> SecureComprehendClient: ...

# boto3's first: where only one stubs package is installed, the other's class is Any
@overload
def protect(client: ComprehendClient, posture: Posture | None = None) -> SecureComprehendClient: ...
@overload
def protect(
    client: AioComprehendClient, posture: Posture | None = None
) -> AioSecureComprehendClient: ...
@overload
def protect(client: ClientT, posture: Posture | None = None) -> ClientT: ...
def aio_client(
    region_name: str | None = None,
    *,
    posture: Posture | None = None,
    session: AioSession | None = None,
    config: AioConfig | None = None,
    **kwargs: Any,
) -> contextlib.AbstractAsyncContextManager[AioSecureComprehendClient]: ...
