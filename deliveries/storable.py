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
    """`text` with NUL and anything that is not valid Unicode replaced by U+FFFD."""
    if text.isascii() and "\x00" not in text:
        return text  # the common case, and cheap
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", REPLACEMENT)


def storable_bytes(data: bytes) -> str:
    """Bytes of unknown encoding as storable text (invalid UTF-8 becomes U+FFFD)."""
    return storable_text(data.decode("utf-8", "replace"))


def storable_headers(headers: Iterable[tuple[str, str]], limit: int = RESPONSE_HEADERS_LIMIT) -> dict[str, str]:
    """The headers in the order received, made storable, until names and values reach `limit`
    characters; a repeated name keeps its values joined by ", " as HTTP allows."""
    kept: dict[str, str] = {}
    size = 0
    for name, value in headers:
        name, value = storable_text(name), storable_text(value)
        size += len(name) + len(value)
        if size > limit:
            break
        kept[name] = f"{kept[name]}, {value}" if name in kept else value
    return kept
