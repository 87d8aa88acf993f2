"""Integrations for asyncio: aio_client(), a protected aiobotocore Comprehend client.

aiobotocore keeps botocore's event system (its emitter awaits a handler's result
when it is awaitable), so ``protect()`` installs the very same handlers on an
aiobotocore client: same injection, same refusals, same final check, same errors.
The handlers do no I/O on the event loop (the decision is pure), with one
exception: ``[models] verify`` describes models with the client itself and is
refused for async clients (see ``protect()``). A client following a fleet posture
source re-reads it once per TTL in a worker thread: its handler returns a
coroutine that aiobotocore awaits.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from secure_comprehend.guard.enforcement import protect
from secure_comprehend.posture.loading import posture_or_load

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from aiobotocore.config import AioConfig  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from aiobotocore.session import AioSession  # type: ignore[import-not-found,import-untyped,unused-ignore]
    from types_aiobotocore_comprehend.client import (  # type: ignore[import-not-found,unused-ignore]
        ComprehendClient as AioComprehendClient,
    )

    from secure_comprehend.posture.model import Posture

_INSTALL = "pip install 'secure-comprehend[aio]'"


def aio_client(
    region_name: str | None = None,
    *,
    posture: Posture | None = None,
    session: AioSession | None = None,
    config: AioConfig | None = None,
    **kwargs: Any,
) -> contextlib.AbstractAsyncContextManager[AioComprehendClient]:
    """A protected aiobotocore Comprehend client, as an async context manager.

    ::

        async with sc.aio_client(region_name="us-east-1") as comprehend:
            await comprehend.start_entities_detection_job(...)

    The posture is loaded and checked here, at the call; the client is created,
    protected and, on leaving the block, closed by ``async with``. Loading the
    posture (``posture=None``) may fetch a fleet source (``ssm:``, ``s3://``, ...)
    from AWS synchronously, with boto3's default session in ``region_name``: that
    blocks the event loop once, at this call (later reads, once per TTL, run in a
    worker thread).

    Args:
        region_name: the client's region; ``None`` uses the session's.
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.
        session: the ``aiobotocore.session.AioSession`` to build the client from;
            ``None`` creates a new one.
        config: an ``aiobotocore.config.AioConfig`` for the client (a botocore
            ``Config`` works too).
        **kwargs: passed on to ``session.create_client()`` (``endpoint_url``, ...).

    Returns:
        An async context manager whose ``__aenter__`` gives a real aiobotocore client
        for ``comprehend``, protected.

    Raises:
        ImportError: aiobotocore is not installed (``pip install 'secure-comprehend[aio]'``).
        PostureError: the posture is missing or invalid; on entering the block, in
            enforce mode, also when it is not valid for the client's region or sets
            ``[models] verify`` (the client is closed again).
        TypeError: ``posture`` is not a Posture.
    """
    try:
        from aiobotocore.session import AioSession
    except ImportError as exc:
        raise ImportError(
            f"secure_comprehend.aio_client() needs aiobotocore: {_INSTALL}", name="aiobotocore"
        ) from exc
    checked = posture_or_load(posture, None, region_name)  # a fleet source: in this region
    return _protected(session or AioSession(), checked, region_name, config, kwargs)


@contextlib.asynccontextmanager
async def _protected(
    session: AioSession,
    posture: Posture,
    region_name: str | None,
    config: AioConfig | None,
    kwargs: dict[str, Any],
) -> AsyncIterator[AioComprehendClient]:
    created = session.create_client("comprehend", region_name=region_name, config=config, **kwargs)
    async with created as raw:  # closed on the way out, also when protect() raises
        yield protect(raw, posture)
