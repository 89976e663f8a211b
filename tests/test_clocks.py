"""Processes whose clocks disagree (libfaketime) share one clock, Redis's: no message is
dead-lettered and no sender judged gone for a process's clock, and elapsed time, latency
and the run's start are the same whichever process measures them."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence

import pytest
import redis

from common import keys as k
from common.keys import RunKeys
from tests.processes import Role, finish, python_m, role_env
from tests.support import sync_client


def skewed(name: str, offset: str, module: str, args: Sequence[str], env: dict[str, str]) -> Role:
    """``python -m module args`` with its wall clock moved by ``offset`` (faketime -f)."""
    faketime = shutil.which("faketime")
    if faketime is None:
        pytest.skip("no faketime binary (Debian: faketime; .ci/run installs it)")
    return Role(name, [faketime, "-f", offset, *python_m(module, args)], env)


def test_a_sender_two_hours_behind_dead_letters_nothing(redis_url: str, run_name: str) -> None:
    """Two senders two hours behind and ahead of the producer deliver every message: none
    is judged "created before the run or to come" by a sender's clock (4,925 of 5,000 were
    dead-lettered, and the run hung)."""
    env = role_env(redis_url, run_name)
    producer = skewed("producer", "+0s", "producer", ["--count", "3000", "--seed", "1"], env)
    assert finish(producer)[0] == 0
    flags = ["--mean-time", "0", "--failure-rate", "0.2", "--seed"]
    senders = [
        skewed("behind", "-2h", "sender", [*flags, "1", "--name", "behind"], env),
        skewed("ahead", "+2h", "sender", [*flags, "2", "--name", "ahead"], env),
    ]
    for sender in senders:
        code, _, err = finish(sender, timeout=60)
        assert code == 0, err
        assert "Traceback" not in err
        assert "dead-lettering" not in err
    r: redis.Redis = sync_client(redis_url)
    try:
        meta = r.hgetall(RunKeys(run_name).meta)
        assert int(meta[k.META_DELIVERED]) == 3000
        assert int(meta.get(k.META_DEAD, 0)) == 0
    finally:
        r.delete(*RunKeys(run_name).all())
        r.close()


def test_skewed_clocks_agree_on_elapsed_latency_and_liveness(redis_url: str, run_name: str) -> None:
    """Producer 90 s ahead, senders 90 s behind and on time, monitor 45 s ahead: the
    summary gives the run's real length (it said 99.4 s for a 10 s run), latencies of
    milliseconds (p50 was 90.9 s), the true rate, and both senders done (the one behind
    was shown gone while it delivered)."""
    env = role_env(redis_url, run_name)
    monitor = skewed(
        "monitor", "+45s", "monitor", ["--json", "--report-period", "0.3", "--plain"], env
    )
    flags = ["--mean-time", "0.005", "--failure-rate", "0.2", "--concurrency", "8"]
    senders = [
        skewed(name, offset, "sender", [*flags, "--name", name, "--seed", str(i)], env)
        for i, (name, offset) in enumerate((("behind", "-90s"), ("ontime", "+0s")))
    ]
    producer = skewed("producer", "+90s", "producer", ["--count", "2000", "--seed", "1"], env)
    assert finish(producer)[0] == 0
    for sender in senders:
        code, _, err = finish(sender, timeout=60)
        assert code == 0, err
    code, out, err = finish(monitor, timeout=60)
    assert code == 0, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["sent"] == summary["total"] == 2000
    assert summary["dead_letters"] == 0
    assert 0 < summary["elapsed"] < 20  # the run takes a few seconds
    assert summary["elapsed"] == pytest.approx(summary["elapsed_real"], abs=2)
    assert summary["latency"]["p50"] < 5  # milliseconds of queueing, not 90 s of skew
    assert summary["throughput"] > 2000 / 20
    assert {s["name"]: s["status"] for s in summary["senders"]} == {
        "behind": "done",
        "ontime": "done",
    }
    gone = re.findall(r"\bgone=(\d+)", err)
    assert gone, err  # the report lines count senders by status
    assert set(gone) == {"0"}, err  # none showed a working sender gone
