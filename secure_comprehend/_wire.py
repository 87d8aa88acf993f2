"""Read back a serialized request body, whatever protocol botocore chose."""

from __future__ import annotations

import json
from typing import Any


class UnreadableBody(ValueError):
    """The body could not be read back into request parameters."""


def read_body(protocol: str, body: Any) -> dict[str, Any]:
    """The parameters a serialized Comprehend request body carries.

    Args:
        protocol: the service model's resolved protocol (``json`` or ``smithy-rpc-v2-cbor``).
        body: the prepared request's body.

    Raises:
        UnreadableBody: an unknown protocol, a streamed body, or bytes that do not decode
            to a structure.
    """
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, (bytes, bytearray)):
        raise UnreadableBody(f"body of type {type(body).__name__} cannot be inspected")
    try:
        if protocol == "json":
            value = json.loads(body, object_pairs_hook=unique_keys) if body else {}
        elif protocol == "smithy-rpc-v2-cbor":
            value = _decode_cbor(bytes(body)) if body else {}
        else:
            raise UnreadableBody(f"protocol {protocol!r} is not understood")
    except UnreadableBody:
        raise
    except Exception as exc:  # any decoding failure fails closed
        raise UnreadableBody(f"{protocol} body does not decode: {exc}") from exc
    if not isinstance(value, dict):
        raise UnreadableBody(f"{protocol} body is a {type(value).__name__}, not a structure")
    return value


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict; a repeated key is an error (``object_pairs_hook``).

    json.loads keeps the last of two equal keys; a service might read the first.
    """
    value = dict(pairs)
    if len(value) != len(pairs):
        seen = [k for i, (k, _) in enumerate(pairs) if k in dict(pairs[:i])]
        raise UnreadableBody(f"duplicate keys {sorted(set(seen))} in a JSON object")
    return value


def _decode_cbor(body: bytes) -> Any:
    # botocore's own CBOR decoder, the one that reads Comprehend's CBOR responses.
    from botocore.parsers import RpcV2CBORParser

    parser = RpcV2CBORParser()
    stream = parser.get_peekable_stream_from_bytes(body)
    value = parser.parse_data_item(stream)
    if stream.read(1):
        raise UnreadableBody("trailing bytes after the CBOR data item")
    return value
