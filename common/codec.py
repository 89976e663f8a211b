"""The outbox message: its stream fields (DESIGN.md, "Message fields") and their validation."""

from __future__ import annotations

from typing import Any, NamedTuple

from common.errors import MalformedEntry

MAX_BODY = 100

# The producer writes these fields in this order (producer/enqueue.lua takes the names
# from here); any other order is read too, field by field.
SEQ, TO, BODY, CREATED = "seq", "to", "body", "created"
MESSAGE_FIELDS = (SEQ, TO, BODY, CREATED)


_SEQ, _TO, _BODY, _CREATED = (name.encode() for name in MESSAGE_FIELDS)
Fields = dict[str, str] | list[str] | list[bytes]


class Message(NamedTuple):
    seq: int
    to: str
    body: str
    created: float

    @classmethod
    def parse(cls, fields: Fields) -> Message:
        """Decode and validate an outbox entry: its fields as a dict, or as the flat
        ``[field, value, ...]`` list of a raw reply (str, or bytes as Redis holds them);
        raise MalformedEntry with the reason."""
        if isinstance(fields, list):
            if (  # the producer's layout as Redis holds it, the hot path
                len(fields) == 8
                and fields[0] == _SEQ
                and fields[2] == _TO
                and fields[4] == _BODY
                and fields[6] == _CREATED
            ):
                return cls.from_bytes(fields[1], fields[3], fields[5], fields[7])
            named = _flat_fields(fields)
        else:
            named = dict(fields)
        try:
            return cls.validate(named[SEQ], named[TO], named[BODY], named[CREATED])
        except KeyError as exc:
            raise MalformedEntry(f"missing field {exc.args[0]}") from None

    @classmethod
    def from_bytes(cls, seq: bytes, to: bytes, body: bytes, created: bytes) -> Message:
        """``validate`` for undecoded values (the sender's hot path)."""
        try:
            return cls.validate(seq, to.decode(), body.decode(), created)
        except UnicodeDecodeError:
            return cls.validate(seq, to, body, created)  # says which field, as MalformedEntry

    @classmethod
    def validate(
        cls, seq: str | bytes, to: str | bytes, body: str | bytes, created: str | bytes
    ) -> Message:
        try:
            number, when = int(seq), float(created)
        except ValueError as exc:
            raise MalformedEntry(f"invalid number: {_printable(exc)}") from None
        if number < 0:
            raise MalformedEntry(f"invalid seq {number}")
        if not when - when == 0:  # NaN or an infinity
            raise MalformedEntry(f"invalid created time {when}")
        if not isinstance(to, str) or not isinstance(body, str):
            to, body = _text(to, TO), _text(body, BODY)
        if not _is_phone(to):
            raise MalformedEntry(f"invalid phone number {to!r}")
        if not 1 <= len(body) <= MAX_BODY:
            raise MalformedEntry(f"body length {len(body)} outside 1..{MAX_BODY}")
        return cls(number, to, body, when)


def _text(value: str | bytes, name: str) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise MalformedEntry(f"{name} is not UTF-8 text: {printable(value)}") from None


def printable(value: str | bytes, limit: int = 80) -> str:
    """``value`` as one short line of text, whatever bytes it holds (for dead letters and
    logs): invalid UTF-8 escaped, no tab or newline."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    text = value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _printable(exc: Exception) -> str:
    return printable(str(exc))


def _is_phone(to: str) -> bool:
    """E.164 as DESIGN.md gives it: ``+`` and 11 to 15 ASCII digits."""
    return 12 <= len(to) <= 16 and to[0] == "+" and to.isascii() and to[1:].isdigit()


def _flat_fields(flat: list[Any]) -> dict[str, str | bytes]:
    """Field by field (names must be UTF-8 text; values are decoded where used)."""
    if len(flat) % 2:
        raise MalformedEntry("odd number of field names and values")
    fields: dict[str, str | bytes] = {}
    for name, value in zip(flat[::2], flat[1::2], strict=True):
        fields[_text(name, "a field name")] = value
    return fields
