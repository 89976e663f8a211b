"""The outbox message: its stream fields (DESIGN.md, "Message fields") and their validation."""

from __future__ import annotations

from typing import NamedTuple

from common.errors import MalformedEntry

MAX_BODY = 100

# The producer writes these fields in this order (producer/enqueue.lua takes the names
# from here); any other order is read too, field by field.
SEQ, TO, BODY, CREATED = "seq", "to", "body", "created"
MESSAGE_FIELDS = (SEQ, TO, BODY, CREATED)


class Message(NamedTuple):
    seq: int
    to: str
    body: str
    created: float

    @classmethod
    def parse(cls, fields: dict[str, str] | list[str]) -> Message:
        """Decode and validate an outbox entry (its fields as a dict, or as the flat
        ``[field, value, ...]`` list of a raw reply); raise MalformedEntry with the reason."""
        if isinstance(fields, list):
            if (  # the producer's layout, the hot path
                len(fields) == 8
                and fields[0] == SEQ
                and fields[2] == TO
                and fields[4] == BODY
                and fields[6] == CREATED
            ):
                return cls.validate(fields[1], fields[3], fields[5], fields[7])
            fields = _flat_fields(fields)
        try:
            return cls.validate(fields[SEQ], fields[TO], fields[BODY], fields[CREATED])
        except KeyError as exc:
            raise MalformedEntry(f"missing field {exc.args[0]}") from None

    @classmethod
    def validate(cls, seq: str, to: str, body: str, created: str) -> Message:
        try:
            number, when = int(seq), float(created)
        except ValueError as exc:
            raise MalformedEntry(f"invalid number: {exc}") from None
        if number < 0:
            raise MalformedEntry(f"invalid seq {number}")
        if not when - when == 0:  # NaN or an infinity
            raise MalformedEntry(f"invalid created time {created!r}")
        if not _is_phone(to):
            raise MalformedEntry(f"invalid phone number {to!r}")
        if not 1 <= len(body) <= MAX_BODY:
            raise MalformedEntry(f"body length {len(body)} outside 1..{MAX_BODY}")
        return cls(number, to, body, when)


def _is_phone(to: str) -> bool:
    """E.164 as DESIGN.md gives it: ``+`` and 11 to 15 ASCII digits."""
    return 12 <= len(to) <= 16 and to[0] == "+" and to.isascii() and to[1:].isdigit()


def _flat_fields(flat: list[str]) -> dict[str, str]:
    if len(flat) % 2:
        raise MalformedEntry("odd number of field names and values")
    return dict(zip(flat[::2], flat[1::2], strict=True))
