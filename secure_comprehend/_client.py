"""Integrations: client(), and patch()/unpatch() for clients built elsewhere."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from secure_comprehend._enforcement import protect, protect_with
from secure_comprehend._loading import posture_or_load

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from types_boto3_comprehend.client import ComprehendClient

    from secure_comprehend._posture import Posture


def client(
    region_name: str | None = None,
    *,
    posture: Posture | None = None,
    session: boto3.Session | None = None,
    config: Config | None = None,
    **kwargs: Any,
) -> ComprehendClient:
    """A protected boto3 Comprehend client.

    Args:
        region_name: the client's region; ``None`` uses the session's.
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.
        session: the boto3 session to build the client from; ``None`` uses boto3's default.
        config: a botocore ``Config`` for the client.
        **kwargs: passed on to ``session.client()`` (``endpoint_url``, credentials, ...).

    Returns:
        A real botocore client for ``comprehend``, protected.

    Raises:
        PostureError: the posture is missing or invalid; in enforce mode also when it
            is not valid for the client's region.
        TypeError: ``posture`` is not a Posture.
    """
    checked = posture_or_load(posture)
    if session is None:  # boto3's default session, as boto3.client() uses
        import boto3

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        session = cast("boto3.Session", boto3.DEFAULT_SESSION)
    raw = session.client("comprehend", region_name=region_name, config=config, **kwargs)
    return protect(raw, checked)


class _PatchState:
    lock = threading.Lock()
    posture: Posture | None = None
    registered = False


class _Protected:
    """Mixed into every comprehend client class created while patched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        posture = _PatchState.posture
        if posture is not None:
            # someone else's client: never refused at creation; a region without a
            # posture makes its covered operations violations instead
            protect_with(self, posture, strict=False)  # type: ignore[arg-type]


def _add_protection(base_classes: list[type], **_: Any) -> None:
    if _Protected not in base_classes:
        base_classes.insert(0, _Protected)


def _initialize(session: Any) -> None:
    session.register(
        "creating-client-class.comprehend", _add_protection, unique_id="secure_comprehend.patch"
    )


def patch(posture: Posture | None = None) -> None:
    """Protect every Comprehend client created from now on.

    Covers ``boto3.client(...)``, ``boto3.Session().client(...)`` and botocore
    sessions created after this call, and boto3's default session. Clients that
    exist already are not changed: pass them to ``protect()``.

    Args:
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.

    Raises:
        PostureError: the posture is missing or invalid.
        TypeError: ``posture`` is not a Posture.
    """
    import boto3
    import botocore

    checked = posture_or_load(posture)
    with _PatchState.lock:
        _PatchState.posture = checked
        if not _PatchState.registered:
            botocore.register_initializer(_initialize)
            _PatchState.registered = True
        if boto3.DEFAULT_SESSION is not None:
            _initialize(boto3.DEFAULT_SESSION._session)


def unpatch() -> None:
    """Undo ``patch()``: clients created afterwards are plain again."""
    import boto3
    import botocore

    with _PatchState.lock:
        _PatchState.posture = None
        if _PatchState.registered:
            botocore.unregister_initializer(_initialize)
            _PatchState.registered = False
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION._session.unregister(
                "creating-client-class.comprehend", unique_id="secure_comprehend.patch"
            )
