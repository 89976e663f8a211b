"""Message content: E.164 North American numbers, GSM-7 bodies of uniform length 1..100."""

from __future__ import annotations

import re
from collections import Counter

from common.codec import Message
from producer.content import GSM7_ALPHABET, batch, batch_payload, batch_rng, bodies, phone_number

NANP = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")


def test_phone_numbers_are_e164_north_american() -> None:
    rng = batch_rng(7, 0)
    numbers = [phone_number(rng) for _ in range(5000)]
    assert all(NANP.match(n) for n in numbers)
    assert len(set(numbers)) > 4990  # random, not a constant


def test_bodies_use_gsm7_only_and_fit_one_segment() -> None:
    allowed = set(GSM7_ALPHABET)
    for body in bodies(batch_rng(1, 0), 2000):
        assert 1 <= len(body) <= 100
        assert set(body) <= allowed


def test_body_length_is_uniform_1_to_100() -> None:
    n = 100_000
    lengths = Counter(len(b) for b in bodies(batch_rng(3, 0), n))
    assert min(lengths) == 1
    assert max(lengths) == 100
    expected = n / 100
    # chi-square with 99 degrees of freedom: 99.9th percentile is about 148
    chi2 = sum((lengths[k] - expected) ** 2 / expected for k in range(1, 101))
    assert chi2 < 148
    mean = sum(k * c for k, c in lengths.items()) / n
    assert abs(mean - 50.5) < 0.5


def test_characters_are_spread_over_the_alphabet() -> None:
    text = "".join(bodies(batch_rng(5, 0), 5000))
    counts = Counter(text)
    assert set(counts) == set(GSM7_ALPHABET)
    expected = len(text) / len(GSM7_ALPHABET)
    assert all(abs(c - expected) < 0.1 * expected for c in counts.values())


def test_seed_makes_content_reproducible() -> None:
    assert batch(batch_rng(42, 1000), 50) == batch(batch_rng(42, 1000), 50)
    assert batch(batch_rng(42, 1000), 50) != batch(batch_rng(43, 1000), 50)
    assert batch(batch_rng(42, 0), 50) != batch(batch_rng(42, 1000), 50)


def test_generated_messages_pass_the_codec() -> None:
    for i, (to, body) in enumerate(batch(batch_rng(9, 0), 100)):
        fields = {"seq": str(i), "to": to, "body": body, "created": "1.5"}
        assert Message.parse(fields) == Message(i, to, body, 1.5)


def test_payload_alternates_numbers_and_bodies() -> None:
    pairs = batch(batch_rng(4, 0), 30)
    lines = batch_payload(batch_rng(4, 0), 30).split("\n")
    assert list(zip(lines[::2], lines[1::2], strict=True)) == pairs
