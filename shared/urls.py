"""The connection URLs of HAVEN_AMQP_URL and HAVEN_MONGO_URL: parsed, checked, passwords put in.

`HAVEN_AMQP_URL` names one broker node or several: complete `amqp://` (or `amqps://`) URLs
separated by commas, e.g. ``amqp://haven:pw@rmq1:5672/haven,amqp://haven:pw@rmq2:5672/haven``.
The nodes of one cluster share their users and virtual hosts, so the URLs may differ only in
host and port (same scheme, user, password, virtual host and query). A comma only separates
nodes where the next URL begins (``,amqp://`` or ``,amqps://``): a password's own comma (which
URL syntax allows unencoded) is kept.

`HAVEN_MONGO_URL` is one MongoDB connection string, which names several hosts its own way
(``mongodb://user@db1:27017,db2:27017,db3:27017/?replicaSet=rs0&w=majority``).

No message here ever quotes a URL: they carry passwords.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

AMQP_SCHEMES = ("amqp", "amqps")
MONGO_SCHEMES = ("mongodb", "mongodb+srv")
_NODE_START = re.compile(r",\s*(?=amqps?://)", re.IGNORECASE)
_AUTHORITY = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<rest>.*)$"
)


def amqp_nodes(value: str) -> tuple[str, ...]:
    """The node URLs of `HAVEN_AMQP_URL`, in the order given; ValueError if any is unusable."""
    nodes = tuple(part.strip() for part in _NODE_START.split(value.strip()))
    if not nodes or not nodes[0]:
        raise ValueError("must be an amqp:// or amqps:// URL")
    shapes = set()
    for position, node in enumerate(nodes, start=1):
        where = f"node {position}: " if len(nodes) > 1 else ""
        parts = urlsplit(node)
        if parts.scheme.lower() not in AMQP_SCHEMES:
            raise ValueError(f"{where}must be an amqp:// or amqps:// URL")
        try:
            _ = parts.port  # raises for a port that is not a number
        except ValueError:
            raise ValueError(f"{where}the port is not a number from 0 to 65535") from None
        if not parts.hostname:
            raise ValueError(f"{where}names no host")
        shapes.add((parts.scheme.lower(), parts.username, parts.password, parts.path, parts.query))
    if len(shapes) > 1:
        raise ValueError(
            "the nodes of one cluster must differ only in host and port "
            "(same scheme, user, password, virtual host and options)"
        )
    if len({node_address(node) for node in nodes}) < len(nodes):
        raise ValueError("names the same node twice")
    return nodes


def node_address(url: str) -> str:
    """``host:port`` of a node URL: what logs may say about it."""
    parts = urlsplit(url)
    default = 5671 if parts.scheme.lower() == "amqps" else 5672
    return f"{parts.hostname}:{parts.port or default}"


def check_mongo_url(value: str) -> str:
    if not value.lower().startswith(tuple(f"{scheme}://" for scheme in MONGO_SCHEMES)):
        raise ValueError("must be a mongodb:// or mongodb+srv:// URL")
    if not _split(value)[1].rsplit("@", 1)[-1]:
        raise ValueError("names no host")
    return value


def password_of(url: str) -> str:
    """The (decoded) password in a URL's user information; empty when there is none."""
    userinfo = _userinfo(url)
    if userinfo is None or ":" not in userinfo:
        return ""
    return unquote(userinfo.split(":", 1)[1])


def with_password(url: str, password: str) -> str:
    """`url` with `password` for the user it names, every node of an AMQP list alike (compose
    keeps passwords out of the environment and hands each service its own in a file)."""
    if url.lower().startswith(tuple(f"{scheme}://" for scheme in AMQP_SCHEMES)):
        return ",".join(_with_password(node, password) for node in amqp_nodes(url))
    return _with_password(url, password)


def _with_password(url: str, password: str) -> str:
    scheme, authority, rest = _split(url)
    userinfo = _userinfo(url)
    if not userinfo or not userinfo.split(":", 1)[0]:
        raise ValueError("a password file needs a user name in the URL (scheme://user@host/)")
    user = userinfo.split(":", 1)[0]
    hosts = authority.rsplit("@", 1)[1]
    return f"{scheme}://{user}:{quote(password, safe='')}@{hosts}{rest}"


def _split(url: str) -> tuple[str, str, str]:
    match = _AUTHORITY.match(url)
    if match is None:
        raise ValueError("is not a URL (scheme://host/…)")
    return match["scheme"], match["authority"], match["rest"]


def _userinfo(url: str) -> str | None:
    authority = _split(url)[1]
    return authority.rsplit("@", 1)[0] if "@" in authority else None
