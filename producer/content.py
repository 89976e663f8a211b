"""Random message content: North American E.164 numbers and GSM-7 bodies of 1..100 chars."""

from __future__ import annotations

import random

from common.codec import MAX_BODY

# 64 characters of the GSM 03.38 basic set: every body fits one 160-character SMS segment.
# A power-of-two alphabet lets random bytes map onto it without bias (256 = 4 x 64).
GSM7_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ."
_BYTE_TO_CHAR = bytes.maketrans(bytes(range(256)), GSM7_ALPHABET.encode("ascii") * 4)


def batch_rng(seed: int | None, start: int) -> random.Random:
    """The generator for the batch starting at ``start``: reproducible when seeded."""
    return random.Random(f"{seed}:{start}") if seed is not None else random.Random()


def phone_number(rng: random.Random) -> str:
    """+1 NXX NXX XXXX: area code and exchange start with 2-9, as in the NANP."""
    return _phone(rng.getrandbits(48))


def _phone(bits: int) -> str:
    # 800 area codes x 800 exchanges x 10,000 lines; 48 random bits make the modulo bias
    # smaller than one part in 40,000.
    area, rest = divmod(bits % 6_400_000_000, 8_000_000)
    exchange, line = divmod(rest, 10_000)
    return f"+1{200 + area}{200 + exchange}{line:04d}"


def _length(bits: int) -> int:
    return 1 + bits % MAX_BODY  # 32 random bits: bias below one part in 40 million


def bodies(rng: random.Random, n: int) -> list[str]:
    """``n`` bodies, each of uniform length in 1..100, from the GSM-7 alphabet."""
    return [body for _, body in batch(rng, n)]


def batch(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """``n`` messages as ``(to, body)``."""
    getrandbits = rng.getrandbits
    lengths = [_length(getrandbits(32)) for _ in range(n)]
    text = rng.randbytes(sum(lengths)).translate(_BYTE_TO_CHAR).decode("ascii")
    out: list[tuple[str, str]] = []
    pos = 0
    for length in lengths:
        out.append((_phone(getrandbits(48)), text[pos : pos + length]))
        pos += length
    return out


def batch_payload(rng: random.Random, n: int) -> str:
    """``n`` messages as one string, ``to`` and ``body`` lines alternating: the enqueue
    script splits it, so a batch costs one argument instead of two per message (bodies
    hold no newline: the alphabet has none)."""
    return "\n".join([f"{to}\n{body}" for to, body in batch(rng, n)])
