"""A request on the wire: its body read back, and every signal that names its operation.

A Comprehend request names its operation and protocol several times: the
``X-Amz-Target`` header (JSON), the URL path (RPC v2 CBOR), the ``Content-Type`` and
``smithy-protocol`` headers, and the body's own encoding. A server may trust any one of
them, so every one must name the operation the caller invoked, in the client's protocol.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from secure_comprehend._botocore import decode_cbor
from secure_comprehend.posture.documents import unique_keys

if TYPE_CHECKING:
    from botocore.model import ServiceModel

JSON, CBOR = "json", "smithy-rpc-v2-cbor"
# What a server could read an operation, a protocol or the body's extent from.
_SIGNALS = frozenset(
    (
        "x-amz-target",
        "content-type",
        "smithy-protocol",
        "content-length",
        "content-encoding",
        "transfer-encoding",
    )
)
_ENCODINGS = frozenset(("content-encoding", "transfer-encoding"))
_SHAPE_SIGNALS = ("x-amz-target", "content-type", "content-length", "smithy-protocol")
_Shape = tuple[int, int, int, int]  # where each of _SHAPE_SIGNALS is; -1: absent
_RPC_V2_CBOR = ("rpc-v2-cbor", b"rpc-v2-cbor")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # what an HTTP field name may hold
_URL_CACHE_SIZE = 64
_JSON = json.JSONDecoder(object_pairs_hook=unique_keys)  # json.loads would build one per call
_UNSEEN: Any = object()


class UnreadableBody(ValueError):
    """The body could not be read back into request parameters."""


def frozen_body(body: Any) -> bytes:
    """The body as an exact, immutable ``bytes`` object: what is judged and what is sent.

    A ``bytearray`` (editable after the check) or a subclass of ``bytes`` or ``str``
    (whose comparisons or conversions may lie) becomes a plain copy of its contents.

    Raises:
        UnreadableBody: a body that is not bytes or text (a stream, an iterable).
    """
    if type(body) is bytes:
        return body
    if body is None:
        return b""
    if isinstance(body, str):
        return str.encode(body, "utf-8")  # the base method: a subclass cannot re-encode it
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(memoryview(body))  # the buffer itself: __bytes__ is not consulted
    raise UnreadableBody(f"body of type {type(body).__name__} cannot be inspected")


def read_body(protocol: str, body: bytes) -> dict[str, Any]:
    """The parameters a serialized Comprehend request body carries.

    Args:
        protocol: the service model's resolved protocol (``json`` or ``smithy-rpc-v2-cbor``).
        body: the body, as ``frozen_body`` made it.

    Raises:
        UnreadableBody: an unknown protocol, or bytes that do not decode to a structure.
    """
    try:
        if protocol == JSON:
            text = body.decode("utf-8")  # not UTF-16 or -32, which json.loads would guess
            value = _JSON.decode(text) if body else {}
        elif protocol == CBOR:
            value = decode_cbor(body) if body else {}
        else:
            raise UnreadableBody(f"protocol {protocol!r} is not understood")
    except UnreadableBody:
        raise
    except Exception as exc:  # any decoding failure fails closed
        raise UnreadableBody(f"{protocol} body does not decode: {exc}") from exc
    if not isinstance(value, dict):
        raise UnreadableBody(f"{protocol} body is a {type(value).__name__}, not a structure")
    return value


class Wire:
    """How one client's requests name their operation, and the check that they agree.

    Args:
        model: the client's service model (its resolved protocol and target prefix).
        endpoint_url: the client's endpoint; the URL path is checked under its path.
        resolved_url: the endpoint botocore's rules resolve for the client's calls, when it
            names another host (dualstack in some partitions): accepted too.
    """

    __slots__ = (
        "_base",
        "_content_types",
        "_origins",
        "_prefix",
        "_shapes",
        "_targets",
        "_urls",
        "protocol",
    )

    def __init__(
        self, model: ServiceModel, endpoint_url: str, resolved_url: str | None = None
    ) -> None:
        self.protocol: str = getattr(model, "resolved_protocol", None) or model.protocol
        self._prefix = str(model.metadata.get("targetPrefix", ""))
        if self.protocol == JSON:
            content_type = f"application/x-amz-json-{model.metadata.get('jsonVersion')}"
        else:
            content_type = "application/cbor"
        # the Content-Type botocore sends, as str and as bytes
        self._content_types = (content_type, content_type.encode("ascii", "replace"))
        endpoint = urlsplit(endpoint_url)
        self._origins = {(endpoint.scheme, endpoint.netloc)}
        if resolved_url:  # botocore's endpoint rules may name another host than meta's
            resolved = urlsplit(resolved_url)
            self._origins.add((resolved.scheme, resolved.netloc))
        self._base = endpoint.path
        self._urls: dict[tuple[str, str], str | None] = {}  # (url, operation) -> its problem
        # (header names, their lower cases) -> where the signals are; None: read them slowly
        self._shapes: dict[tuple[Any, Any], _Shape | None] = {}
        self._targets: dict[str, tuple[str, bytes] | None] = {}  # operation -> X-Amz-Target

    def agrees(
        self,
        method: Any,
        url: Any,
        columns: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] | None,
        body: bytes,
        operation: str,
    ) -> bool:
        """A fast yes: the request plainly names ``operation``, as botocore builds it.

        Only a shortcut: False means "let ``problem`` say", never "refused". True
        implies ``problem`` finds nothing (the body's first byte aside) and that the
        headers are sent as read. Each shape of header names is judged once.

        Args:
            columns: the request's (names, lower cases, values), as ``header_columns``
                reads headers made as botocore makes them; None: anything else, read slowly.
        """
        if columns is None or type(method) is not str or method != "POST" or type(url) is not str:
            return False
        problem = self._urls.get((url, operation), _UNSEEN)
        if problem is _UNSEEN:
            problem = self._url_problem(url, operation)
        if problem is not None:
            return False
        names, lowers, values = columns
        shape = self._shapes.get((names, lowers), _UNSEEN)
        if shape is _UNSEEN:
            shape = self._shape(names, lowers)
        if shape is None:
            return False
        target_at, type_at, length_at, smithy_at = shape
        expected = self._targets.get(operation, _UNSEEN)
        if expected is _UNSEEN:
            expected = self._target(operation)
        # each signal's value: exactly what botocore sends, as an exact str or bytes
        if expected is None:  # CBOR: no X-Amz-Target, and smithy-protocol says so
            if target_at >= 0 or smithy_at < 0:
                return False
            expected, sent = _RPC_V2_CBOR, values[smithy_at]
        elif target_at < 0 or smithy_at >= 0:
            return False
        else:
            sent = values[target_at]
        if type_at >= 0:
            content_type = values[type_at]
            kind = type(content_type)
            if not (
                (kind is bytes and content_type == self._content_types[1])
                or (kind is str and content_type == self._content_types[0])
            ):
                return False
        elif body:
            return False
        kind = type(sent)
        if not ((kind is bytes and sent == expected[1]) or (kind is str and sent == expected[0])):
            return False
        length = values[length_at] if length_at >= 0 else None
        return length is None or (type(length) is str and length == str(len(body)))

    def _target(self, operation: str) -> tuple[str, bytes] | None:
        """The X-Amz-Target of ``operation``, as str and bytes; None: the protocol has none."""
        found = None
        if self.protocol == JSON:
            text = f"{self._prefix}.{operation}"
            found = (text, text.encode("ascii", "replace"))
        if len(self._targets) >= _URL_CACHE_SIZE:
            self._targets.clear()
        self._targets[operation] = found
        return found

    def _shape(self, names: tuple[Any, ...], lowers: tuple[Any, ...]) -> _Shape | None:
        """Where the signal headers are among ``names``; None when the names are not
        plain HTTP tokens with their own lower cases, repeat a signal or name an
        encoding (``problem`` says which)."""
        shape: _Shape | None = None
        if (
            all(names)
            and _TOKEN.fullmatch("".join(names))
            and lowers == tuple(map(str.lower, names))
        ):
            at = {lower: i for i, lower in enumerate(lowers) if lower in _SIGNALS}
            signals = [lower for lower in lowers if lower in _SIGNALS]
            if len(at) == len(signals) and not at.keys() & _ENCODINGS:
                shape = tuple(at.get(name, -1) for name in _SHAPE_SIGNALS)  # type: ignore[assignment]
        if len(self._shapes) >= _URL_CACHE_SIZE:
            self._shapes.clear()
        self._shapes[names, lowers] = shape
        return shape

    def problem(
        self,
        method: Any,
        url: Any,
        headers: list[tuple[Any, str | None, Any]],
        body: bytes,
        operation: str,
        *,
        sniff: bool,
    ) -> str | None:
        """Why a request does not plainly name ``operation`` in this protocol; None if it does.

        Args:
            headers: every (name, its lower case or None, value) the request is sent with.
            sniff: look at the body's first byte (a body that is decoded whole need not).
        """
        if method != "POST" or type(method) is not str:
            return f"the request is sent with method {method!r}, not POST"
        problem = self._url_problem(url, operation)
        if problem is not None:
            return problem
        try:
            found = self._signals(headers)
        except UnicodeDecodeError as exc:
            return f"a header is not ASCII: {exc}"
        if isinstance(found, str):
            return found
        problem = self._header_problem(found, len(body), operation)
        return problem if problem is not None or not sniff else self.body_problem(body)

    def _url_problem(self, url: Any, operation: str) -> str | None:
        """Why ``url`` is not the one botocore gives ``operation``; each is judged once."""
        if type(url) is not str:
            return f"its URL is a {type(url).__name__}, not a str"
        key = (url, operation)
        problem: str | None = self._urls.get(key, _UNSEEN)
        if problem is _UNSEEN:  # a handful of URLs per client: each is parsed once
            problem = self._parse_url(url, operation)
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[key] = problem
        return problem

    def _parse_url(self, url: str, operation: str) -> str | None:
        expected = self._path(operation)
        if not url.isascii() or not url.isprintable() or "\\" in url:
            return f"its URL {url!r} is not plain printable ASCII"
        if "#" in url or "?" in url:
            return f"its URL {url!r} has a query or fragment"
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            return f"its URL {url!r} does not parse: {exc}"
        origin, path = (parts.scheme, parts.netloc), parts.path
        if origin not in self._origins:
            sent = "://".join(origin)
            own = " or ".join(sorted("://".join(o) for o in self._origins))
            return f"its URL goes to {sent}, not to the client's endpoint {own}"
        if path != expected:  # a parameter (;) or an escape (%2F) added to it too
            return f"its URL path is {path!r}, not {expected!r}, the path of {operation}"
        return None

    def _path(self, operation: str) -> str:
        """The URL path botocore gives ``operation``, under the endpoint's own path."""
        if self.protocol == JSON:
            return self._base or "/"
        suffix = f"/service/{self._prefix}/operation/{operation}"
        return (self._base[:-1] if self._base.endswith("/") else self._base) + suffix

    @staticmethod
    def _signals(headers: list[tuple[Any, str | None, Any]]) -> dict[str, str] | str:
        """The headers a server reads an operation or protocol from; a str: a problem."""
        found: dict[str, str] = {}
        names = [name if lower is not None else None for name, lower, _ in headers]
        if not all(names) or not _TOKEN.fullmatch("".join(names)):  # type: ignore[arg-type]
            bad = next(n for n, low, _ in headers if low is None or not _TOKEN.fullmatch(n))
            what = repr(bad) if type(bad) is str else f"a {type(bad).__name__}"
            return f"a header name, {what}, is not an HTTP token (RFC 9110)"
        for name, lower, value in headers:
            if not _plain_value(value):  # the HTTP client would call into it
                return f"the header {name} is a {type(value).__name__}, not str, bytes or int"
            if lower not in _SIGNALS:
                continue
            if lower in found:
                return f"the header {name} is sent more than once"
            if type(value) is bytes:
                value = value.decode("ascii")
            elif type(value) is int:  # http.client writes an int as its digits
                value = str(value)
            elif type(value) is not str:
                return f"the header {name} is a {type(value).__name__}"
            found[lower] = value
        return found

    def _header_problem(self, found: dict[str, str], length: int, operation: str) -> str | None:
        target = found.get("x-amz-target")
        if self.protocol == JSON:
            expected = f"{self._prefix}.{operation}"
            if target != expected:
                sent = target or "no operation"
                return _retargeted(f"X-Amz-Target is {target!r}", sent, operation)
            if "smithy-protocol" in found:
                return "a JSON request carries a smithy-protocol header"
        else:
            if target is not None:
                return _retargeted(f"X-Amz-Target is {target!r}", target, operation)
            if found.get("smithy-protocol") != "rpc-v2-cbor":
                return f"smithy-protocol is {found.get('smithy-protocol')!r}, not 'rpc-v2-cbor'"
        content_type = found.get("content-type")
        expected = self._content_types[0]
        if content_type != expected and (length or content_type is not None):
            return f"Content-Type is {content_type!r}, not {expected!r}"
        if "content-encoding" in found or "transfer-encoding" in found:
            return "the body is sent with a content or transfer encoding"
        sent_length = found.get("content-length")
        if sent_length is not None and sent_length != str(length):
            return f"Content-Length is {sent_length!r}, the body has {length} bytes"
        return None

    def body_problem(self, body: bytes) -> str | None:
        """Why a body not decoded whole is not plainly of this protocol (its first byte)."""
        if not body:
            return None
        first = body[0]
        if self.protocol == JSON and first != 0x7B:  # "{"
            return "the body cannot be checked: it is not a JSON object"
        if self.protocol == CBOR and not 0xA0 <= first <= 0xBF:  # a CBOR map
            return "the body cannot be checked: it is not a CBOR map"
        return None


def plain_header_value(value: Any) -> Any:
    """An exact copy of a header value the HTTP client would write as text (a ``str`` or
    ``int`` subclass such as an enum member, a ``bytearray``), read through the base class
    so that none of its own methods is called; any other value as it is."""
    kind = type(value)
    if kind is str or kind is bytes or kind is int or kind is bool:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int.__index__(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(memoryview(value))
    return value


def _plain_value(value: Any) -> bool:
    """Whether the HTTP client can write ``value`` without calling anyone's code: an exact
    ``str``, ``bytes``, ``int`` or ``bool``, its class compared by identity (a metaclass
    could make ``==`` lie)."""
    kind = type(value)
    return kind is bytes or kind is str or kind is int or kind is bool


def _retargeted(signal: str, sent: str, operation: str) -> str:
    return f"{signal}: the request is sent as {sent.rpartition('.')[2]}, built as {operation}"
