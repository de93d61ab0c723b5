"""What a receiver says, made safe to store.

A receiver controls its answer's body, header names and values and reason phrase, and
so part of our error messages. PostgreSQL refuses NUL in text, and a lone surrogate
cannot be encoded at all: either would fail the statement that logs a whole batch.
So every such string passes through here before it reaches a model field.
"""

from collections.abc import Iterable

REPLACEMENT = "\ufffd"
# The response headers kept with an attempt, names and values together, at most.
RESPONSE_HEADERS_LIMIT = 4096


def storable_text(text: str) -> str:
    """`text` with NUL replaced by U+FFFD and anything UTF-8 cannot encode (a lone surrogate) by "?"."""
    if text.isascii() and "\x00" not in text:
        return text  # the common case, and cheap
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", REPLACEMENT)


def storable_bytes(data: bytes) -> str:
    """Bytes of unknown encoding as storable text (invalid UTF-8 becomes U+FFFD)."""
    return storable_text(data.decode("utf-8", "replace"))


def storable_headers(headers: Iterable[tuple[str, str]], limit: int = RESPONSE_HEADERS_LIMIT) -> dict[str, str]:
    """The headers in the order received, made storable, until their names and values reach
    `limit` bytes of UTF-8 in all (the client has already joined repeated names)."""
    kept: dict[str, str] = {}
    size = 0
    for name, value in headers:
        name, value = storable_text(name), storable_text(value)
        size += len(name.encode()) + len(value.encode())
        if size > limit:
            break
        kept[name] = value
    return kept
