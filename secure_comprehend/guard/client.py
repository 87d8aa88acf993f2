"""Integrations: client(), and patch()/unpatch() for clients built elsewhere."""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any, TypedDict

from secure_comprehend._botocore import wrap_aio_client_creator, wrap_client_creator
from secure_comprehend.decision.operations import is_comprehend
from secure_comprehend.guard.enforcement import protect, protect_with
from secure_comprehend.posture.loading import default_session, posture_or_load

logger = logging.getLogger("secure_comprehend")

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from types_boto3_comprehend.client import ComprehendClient
    from typing_extensions import Unpack

    from secure_comprehend.posture.model import Posture


class ClientArgs(TypedDict, total=False):
    """What boto3's ``Session.client()`` takes besides the service, region and config."""

    api_version: str | None
    use_ssl: bool
    verify: bool | str | None
    endpoint_url: str | None
    aws_access_key_id: str | None
    aws_secret_access_key: str | None
    aws_session_token: str | None
    aws_account_id: str | None


def client(
    region_name: str | None = None,
    *,
    posture: Posture | None = None,
    session: boto3.Session | None = None,
    config: Config | None = None,
    **kwargs: Unpack[ClientArgs],
) -> ComprehendClient:
    """A protected boto3 Comprehend client.

    Args:
        region_name: the client's region; ``None`` uses the session's.
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.
        session: the boto3 session to build the client from, and to read a fleet posture
            source with; ``None`` uses boto3's default.
        config: a botocore ``Config`` for the client.
        **kwargs: passed on to ``session.client()`` (``endpoint_url``, credentials, ...).

    Returns:
        A real botocore client for ``comprehend``, protected.

    Raises:
        PostureError: the posture is missing or invalid; in enforce mode also when it
            is not valid for the client's region.
        TypeError: ``posture`` is not a Posture.
    """
    if session is None:  # boto3's default session, as boto3.client() uses
        session = default_session()
    # a fleet source is read with this session, in the client's region
    checked = posture_or_load(posture, session, region_name)
    raw = session.client("comprehend", region_name=region_name, config=config, **kwargs)
    return protect(raw, checked)


class _PatchState:
    lock = threading.Lock()
    posture: Posture | None = None
    installed = False


def _after_fork_in_child() -> None:  # a child forked during patch() must not wait forever
    _PatchState.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _protect_if_patched(created: Any) -> Any:
    """Every new botocore client: protected while patched, if its model is Comprehend's
    (whatever name or alias created it)."""
    posture = _PatchState.posture
    model = getattr(getattr(created, "meta", None), "service_model", None)
    if posture is not None and model is not None and is_comprehend(model):
        # someone else's client: never refused at creation; a region without a
        # posture makes its covered operations violations instead
        protect_with(created, posture, strict=False)
    return created


def patch(posture: Posture | None = None) -> None:
    """Protect every Comprehend client created from now on, by any session.

    Covers ``boto3.client(...)``, ``boto3.Session().client(...)`` and botocore
    sessions, whenever they were created: every botocore client is made by
    ``botocore.client.ClientCreator.create_client``, which ``patch()`` wraps once
    per process. aiobotocore (and aioboto3) clients too: aiobotocore's own client
    creator is wrapped as well, whether aiobotocore is imported before ``patch()`` or
    after it. Clients that exist already are not changed: pass them to ``protect()``.

    Args:
        posture: the posture to enforce; ``None`` loads it with ``load_posture()``.

    Raises:
        PostureError: the posture is missing or invalid.
        TypeError: ``posture`` is not a Posture.
    """
    checked = posture_or_load(posture)
    with _PatchState.lock:
        _PatchState.posture = checked
        if not _PatchState.installed:
            wrap_client_creator(_protect_if_patched)
            wrap_aio_client_creator(_protect_if_patched)
            _PatchState.installed = True


def unpatch() -> None:
    """Undo ``patch()``: clients created afterwards are plain again.

    The wrapper stays installed (another library may have wrapped it since); with
    no posture it passes every client through untouched.
    """
    with _PatchState.lock:
        _PatchState.posture = None
