"""Which Redis a command uses: a server named by URL, or the embedded in-process one.

Resolved once, from ``--redis-url``/``REDIS_URL``: a URL names a server
(``redis://``, ``rediss://`` for TLS, ``unix://``) or a Redis Cluster
(``redis+cluster://`` or ``rediss+cluster://``, any node of it); no URL means the
embedded server for ``sms-sim run``, and is refused by the roles (a role on its own
never picks a server the user did not name).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from redis.connection import parse_url

from common.errors import UsageProblem

EMBEDDED = "embedded fakeredis (in-process)"
SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
CLUSTER = "+cluster"
EXAMPLE_URL = "redis://127.0.0.1:6379/0"


def check_url(url: str) -> str:
    """``url`` if it names a Redis server; ValueError (with the reason) otherwise."""
    if not url.strip():
        raise ValueError(f"the Redis URL is empty; give one such as {EXAMPLE_URL}")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError: not a number, or out of range
        parse_url(plain_url(url))  # type: ignore[no-untyped-call]  # ValueError: a bad query argument such as socket_timeout=abc
    except ValueError as exc:
        raise ValueError(f"not a usable Redis URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"not a Redis URL: the scheme must be redis://, rediss://, unix:// or "
            f"redis+cluster:// (e.g. {EXAMPLE_URL})"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"the Redis URL names no host (e.g. {EXAMPLE_URL})")
    if port == 0:
        raise ValueError("port 0 is not a port a Redis server listens on")
    db = parts.path.strip("/")
    if parts.scheme != "unix" and db and not db.isdigit():
        raise ValueError(f"the database must be a number, got {db!r}")
    return url


def plain_url(url: str) -> str:
    """The URL with ``+cluster`` taken out of its scheme (what redis-py parses)."""
    scheme, sep, rest = url.partition("://")
    return scheme.removesuffix(CLUSTER) + sep + rest


SECRET_PARAMS = frozenset({"password", "pass", "pwd", "secret", "token"})


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``: the user's (``user:PW@``) and any
    in the query (``?password=PW``). Read as text, not parsed: a URL whose port or
    database is wrong (and so is being reported) is masked just the same."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{host}"
    path, question, query = tail.partition("?")
    if not slash and "?" in netloc:  # no path: the query follows the host
        netloc, _, query = netloc.partition("?")
        question = "?"
    masked = "&".join(_mask_param(param) for param in query.split("&")) if query else query
    return f"{scheme}{sep}{netloc}{slash}{path}{question}{masked}"


def _mask_param(param: str) -> str:
    name, equals, _ = param.partition("=")
    return f"{name}=***" if equals and name.lower() in SECRET_PARAMS else param


@dataclass(frozen=True)
class RedisTarget:
    """A server by URL, or the embedded one (``url`` None)."""

    url: str | None = None
    give_up: float = 60.0  # seconds a role rides out a Redis outage before it exits 1
    label: str | None = None  # what the user reads instead of the URL (a private server)
    allow_eviction: bool = False  # serve a server whose maxmemory-policy may evict our keys

    @property
    def embedded(self) -> bool:
        return self.url is None

    @property
    def display(self) -> str:
        """What the user reads: the masked URL, or that the server is embedded."""
        if self.url is None:
            return EMBEDDED
        return self.label or mask_url(self.url)

    @property
    def tls(self) -> bool:
        return self.url is not None and self.url.startswith(("rediss://", "rediss+cluster://"))

    @property
    def cluster(self) -> bool:
        return self.url is not None and self.url.partition("://")[0].endswith(CLUSTER)

    @classmethod
    def for_role(cls, url: str | None, give_up: float = 60.0) -> RedisTarget:
        """A role needs a named server."""
        if url is None:
            raise UsageProblem(
                "no Redis named: give --redis-url URL or set REDIS_URL "
                f"(for example {EXAMPLE_URL}); `sms-sim run` alone runs on an embedded one"
            )
        return cls(url, give_up)

    @classmethod
    def for_launcher(cls, url: str | None, give_up: float = 60.0) -> RedisTarget:
        """``sms-sim run``: the named server, or the embedded one."""
        return cls(url, give_up)
