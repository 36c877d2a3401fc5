"""Push URLs: the operator's allowlist, https only, no credentials, public addresses only.

Checked at registration and again at every send. A name is resolved once per send by
`GuardedResolver`, which refuses the whole answer if any address is not public and otherwise
hands aiohttp exactly the addresses it checked: the connection goes to a checked address
(no second lookup a rebinding DNS server could answer differently), while the URL's host name
still serves as the Host header and TLS server name. IP-literal hosts never reach a resolver
(aiohttp connects to them directly), so `PushTarget` checks those itself.

Only port 443: a push relay is a web server, and any other port would let an allowlisted
host's other services (mail, databases, admin consoles) be poked at. Python's `is_global` is
not the whole IANA special-purpose registry (it calls 192.0.0.9, fec0::/10 or 3fff::/20
global), so `SPECIAL_PURPOSE` lists those ranges explicitly and both checks must pass.

The development switch (`allow_loopback`) admits `http://` to loopback IP literals without
the allowlist, loopback addresses after resolution, and any port on loopback only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from shared.errors import HavenError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port, family -> the addresses the name resolves to (textual IPs).
Resolve = Callable[[str, int, int], Awaitable[list[str]]]

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
MAX_URL_LENGTH = 2048
PUSH_PORT = 443
# IANA's IPv4 and IPv6 special-purpose address registries (and deprecated site-local space):
# none of it is a push relay, whatever `ipaddress` says about a particular address in it.
SPECIAL_PURPOSE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
        "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/127", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
        "2001:db8::/32", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7",
        "fe80::/10", "fec0::/10", "ff00::/8",
    )
)  # fmt: skip


class RefusedUrlError(HavenError):
    """A push URL that must not be used; the message says why and never quotes the URL."""


class AddressRefusedError(OSError):
    """Raised inside aiohttp's connector: the name resolved to an address we refuse."""


def parse_allowlist(text: str) -> tuple[str, ...]:
    """`HAVEN_PUSH_ALLOWED_HOSTS`: comma-separated exact names, `*.suffix` or IP literals."""
    entries = []
    for raw in (part.strip().lower().rstrip(".") for part in text.split(",")):
        if not raw:
            continue
        name = raw.removeprefix("*.")
        if not (_NAME.match(name) or _ip(name) is not None) or (raw != name and "." not in name):
            raise ValueError("entries are host names, *.suffix (a suffix with a dot) or IPs")
        entries.append(raw)
    return tuple(entries)


def host_allowed(host: str, allowlist: tuple[str, ...]) -> bool:
    """Exact names match themselves; `*.example.com` matches any name below example.com
    (not example.com itself)."""
    for entry in allowlist:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and len(host) > len(entry) - 1:
                return True
        elif host == entry:
            return True
    return False


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address itself and any IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    found: list[IPAddress] = [inner for inner in (ip.sixtofour, *(ip.teredo or ())) if inner]
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [*found, ip]  # the embedded address first: its problem is the telling one


def address_problem(ip: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why a push must not go to this address, or None if it is a public one."""
    for address in _embedded(ip):
        problem = _single_problem(address, allow_loopback)
        if problem:
            return problem
    return None


def _single_problem(ip: IPAddress, allow_loopback: bool) -> str | None:
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = [
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (not ip.is_global, "not a public address"),
        (any(ip in net for net in SPECIAL_PURPOSE), "a special-purpose address"),
    ]
    return next((reason for hit, reason in checks if hit), None)


@dataclass(frozen=True)
class PushTarget:
    """A URL that passed the syntactic rules; `host` is lowercase, without a trailing dot."""

    url: str
    host: str
    port: int
    literal: IPAddress | None


async def system_resolve(host: str, port: int, family: int = 0) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, family=family, type=socket.SOCK_STREAM
    )
    return [str(info[4][0]) for info in infos]


class UrlGuard:
    def __init__(
        self,
        allowlist: tuple[str, ...],
        *,
        allow_loopback: bool = False,
        resolve: Resolve = system_resolve,
    ) -> None:
        self.allowlist = allowlist
        self.allow_loopback = allow_loopback
        self._resolve = resolve

    def target(self, url: str) -> PushTarget:
        """The URL's rules that need no lookup; RefusedUrlError if one fails."""
        if len(url) > MAX_URL_LENGTH or any(c.isspace() or not c.isprintable() for c in url):
            raise RefusedUrlError("not a usable URL")
        try:
            parsed = URL(url)
            host = (parsed.raw_host or "").lower().rstrip(".")
            port = parsed.port
        except (ValueError, UnicodeError):
            raise RefusedUrlError("not a usable URL") from None
        if not parsed.absolute or not host:
            raise RefusedUrlError("not an absolute URL")
        if parsed.raw_user is not None or parsed.raw_password is not None:
            raise RefusedUrlError("credentials are not allowed in the URL")
        if parsed.raw_fragment:
            raise RefusedUrlError("a fragment is not allowed in the URL")
        literal = _ip(host)
        self._check_scheme_and_host(parsed.scheme.lower(), host, literal)
        if port is None:
            raise RefusedUrlError("not a usable URL")
        # A name's port is checked with its addresses (`addresses`): loopback may use any.
        if literal is not None and port != PUSH_PORT and not self._development_host(literal):
            raise RefusedUrlError(f"only port {PUSH_PORT} is allowed")
        return PushTarget(url=url, host=host, port=port, literal=literal)

    def _development_host(self, literal: IPAddress | None) -> bool:
        """The development switch's local receiver: a loopback IP literal, any port."""
        return self.allow_loopback and literal is not None and literal.is_loopback

    def _check_scheme_and_host(self, scheme: str, host: str, literal: IPAddress | None) -> None:
        if self._development_host(literal):
            if scheme not in ("http", "https"):
                raise RefusedUrlError("only https URLs are allowed")
            return  # the development switch: a local receiver
        if scheme != "https":
            raise RefusedUrlError("only https URLs are allowed")
        if not host_allowed(host, self.allowlist):
            raise RefusedUrlError("the host is not on the operator's allowlist")
        if literal is not None:
            problem = address_problem(literal, allow_loopback=self.allow_loopback)
            if problem:
                raise RefusedUrlError(f"the host is {problem}")
        elif not _NAME.match(host):
            raise RefusedUrlError("not a usable host name")

    async def addresses(self, host: str, port: int, family: int = 0) -> list[IPAddress]:
        """The host's addresses, all checked: AddressRefusedError if any is not public,
        socket.gaierror (an OSError) if it does not resolve."""
        found = [_ip(text.split("%", 1)[0]) for text in await self._resolve(host, port, family)]
        addresses = [ip for ip in found if ip is not None]
        if not addresses or len(addresses) != len(found):
            raise socket.gaierror(socket.EAI_NONAME, "no usable address")
        for ip in addresses:
            problem = address_problem(ip, allow_loopback=self.allow_loopback)
            if problem:
                raise AddressRefusedError(f"the host resolves to {problem}")
        if port != PUSH_PORT and not all(ip.is_loopback for ip in addresses):
            raise AddressRefusedError(f"only port {PUSH_PORT} is allowed")
        return list(dict.fromkeys(addresses))

    async def admit(self, url: str) -> PushTarget:
        """Registration: every rule, the name's resolution included."""
        target = self.target(url)
        if target.literal is not None:
            return target
        try:
            await self.addresses(target.host, target.port)
        except AddressRefusedError as error:
            raise RefusedUrlError(str(error)) from None
        except OSError:
            raise RefusedUrlError("the host name does not resolve") from None
        return target


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for push: it connects only to the addresses the guard checked."""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._guard.addresses(host.rstrip(".").lower(), port, int(family))
        return [
            ResolveResult(
                hostname=host,
                host=str(ip),
                port=port,
                family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in addresses
        ]

    async def close(self) -> None:
        return None
