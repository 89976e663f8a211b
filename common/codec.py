"""Message and result codecs: the stream fields of DESIGN.md, and their validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

MAX_BODY = 100


class MalformedEntry(ValueError):
    """An outbox entry whose fields are missing or invalid; the text is the reason."""


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
                and fields[0] == "seq"
                and fields[2] == "to"
                and fields[4] == "body"
                and fields[6] == "created"
            ):
                return cls.validate(fields[1], fields[3], fields[5], fields[7])
            fields = _flat_fields(fields)
        try:
            return cls.validate(fields["seq"], fields["to"], fields["body"], fields["created"])
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


@dataclass(frozen=True, slots=True)
class Result:
    """One send attempt, as the monitor reads it from the results stream.

    ``dup`` marks a success for a message that was already delivered (suppressed).
    """

    seq: int
    sender: str
    attempt: int
    ok: bool
    duration: float
    ts: float
    latency: float | None = None
    dup: bool = False
