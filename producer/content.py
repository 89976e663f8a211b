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
    return f"+1{rng.randrange(200, 1000)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"


def bodies(rng: random.Random, n: int) -> list[str]:
    """``n`` bodies, each of uniform length in 1..100, from the GSM-7 alphabet."""
    lengths = [rng.randrange(1, MAX_BODY + 1) for _ in range(n)]
    text = rng.randbytes(sum(lengths)).translate(_BYTE_TO_CHAR).decode("ascii")
    out: list[str] = []
    pos = 0
    for length in lengths:
        out.append(text[pos : pos + length])
        pos += length
    return out


def batch_args(rng: random.Random, n: int) -> list[str]:
    """``to, body`` pairs, flattened, for ``n`` messages."""
    flat: list[str] = []
    for body in bodies(rng, n):
        flat.append(phone_number(rng))
        flat.append(body)
    return flat
