"""TLS (issue 24): a CA passed in the URL is used; a certificate the client cannot trust,
or a plain connection to a TLS port, is one line saying what is wrong and what to do."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.cli import main as sim_app
from tests.commands import Runner
from tests.support import RedisServer, free_port, start_redis_server


def make_certificates(folder: Path) -> None:
    """A CA, and a certificate it signs for 127.0.0.1 (openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=test-ca")  # fmt: skip
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")  # fmt: skip
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip


@pytest.fixture
def tls_server(redis_binary: str, tmp_path: Path) -> Iterator[tuple[RedisServer, int, Path]]:
    """A redis-server that also speaks TLS: (it, its TLS port, the CA's file)."""
    make_certificates(tmp_path)
    tls_port = free_port()
    tls = ["--tls-port", str(tls_port), "--tls-auth-clients", "no"]
    tls += ["--tls-cert-file", str(tmp_path / "server.pem")]
    tls += ["--tls-key-file", str(tmp_path / "server.key")]
    tls += ["--tls-ca-cert-file", str(tmp_path / "ca.pem")]
    (tmp_path / "data").mkdir()
    try:
        server = start_redis_server(redis_binary, tmp_path / "data", tls)
    except RuntimeError:
        pytest.skip("this redis-server has no TLS")
    try:
        yield server, tls_port, tmp_path / "ca.pem"
    finally:
        server.stop()


def test_the_ca_is_passed_in_the_url(
    runner: Runner, tls_server: tuple[RedisServer, int, Path]
) -> None:
    _, port, ca = tls_server
    url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}"
    done = runner(sim_app, ["run", "--redis-url", url, "--count", "5", "--run", "tls", "--json"])
    assert done.exit_code == 0, done.output
    assert '"sent": 5' in done.stdout


def test_an_untrusted_certificate_says_how_to_pass_the_ca(
    runner: Runner, tls_server: tuple[RedisServer, int, Path]
) -> None:
    _, port, _ = tls_server
    done = runner(sim_app, ["run", "--redis-url", f"rediss://127.0.0.1:{port}/0", "--count", "3"])
    assert done.exit_code == 1
    assert "certificate is not trusted here" in done.error and "ssl_ca_certs=" in done.error
    assert "does the server speak TLS" not in done.error  # it does: it said so wrongly


def test_a_plain_url_to_a_tls_port_says_to_use_rediss(
    runner: Runner, tls_server: tuple[RedisServer, int, Path]
) -> None:
    _, port, _ = tls_server
    done = runner(sim_app, ["run", "--redis-url", f"redis://127.0.0.1:{port}/0", "--count", "3"])
    assert done.exit_code == 1
    assert "try rediss://" in done.error
