"""The push URL guard: allowlist, https, credentials, and public addresses after resolution."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from services.notification.push.urlguard import (
    AddressRefusedError,
    GuardedResolver,
    RefusedUrlError,
    Resolve,
    UrlGuard,
    address_problem,
    host_allowed,
    parse_allowlist,
)

PUBLIC = "93.184.216.34"


def resolving(*answers: list[str]) -> tuple[list[tuple[str, int]], Resolve]:
    """A resolver that gives each answer in turn (the last one again after that)."""
    asked: list[tuple[str, int]] = []
    replies: Iterator[list[str]] = iter(answers)
    last: list[str] = []

    async def resolve(host: str, port: int, family: int = 0) -> list[str]:
        nonlocal last
        asked.append((host, port))
        last = next(replies, last)
        if not last:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return last

    return asked, resolve


def guard(
    allowlist: str = "push.example.com,*.relay.example.org",
    *answers: list[str],
    loopback: bool = False,
) -> UrlGuard:
    _, resolve = resolving(*(answers or ([PUBLIC],)))
    return UrlGuard(parse_allowlist(allowlist), allow_loopback=loopback, resolve=resolve)


async def test_admits_an_allowlisted_https_url_that_resolves_to_a_public_address() -> None:
    target = await guard().admit("https://push.example.com/v1/haven?app=1")
    assert (target.host, target.port, target.literal) == ("push.example.com", 443, None)


async def test_only_port_443_and_under_the_switch_any_port_on_loopback_only() -> None:
    with pytest.raises(RefusedUrlError, match="443"):
        await guard().admit("https://push.example.com:8443/v1/haven")
    with pytest.raises(RefusedUrlError, match="443"):
        await guard(loopback=True).admit("https://push.example.com:22/v1/haven")  # public
    await guard("localhost", ["127.0.0.1"], loopback=True).admit("https://localhost:9000/push")


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("push.example.com", True),
        ("PUSH.Example.COM.", True),  # case and the trailing dot do not matter
        ("a.relay.example.org", True),
        ("b.a.relay.example.org", True),
        ("relay.example.org", False),  # *.suffix is below the suffix, not the suffix itself
        ("evilrelay.example.org", False),
        ("push.example.com.evil.net", False),
        ("example.com", False),
    ],
)
async def test_allowlist_matches_exact_names_and_wildcard_suffixes(
    host: str, allowed: bool
) -> None:
    if allowed:
        await guard().admit(f"https://{host}/p")
    else:
        with pytest.raises(RefusedUrlError, match="allowlist"):
            await guard().admit(f"https://{host}/p")


def test_allowlist_refuses_top_level_wildcards_and_garbage() -> None:
    assert parse_allowlist(" Push.Example.com. , *.relay.org,,") == (
        "push.example.com",
        "*.relay.org",
    )
    for bad in ("*.com", "exa mple.com", "https://push.example.com", "*"):
        with pytest.raises(ValueError, match="entries"):
            parse_allowlist(bad)
    assert not host_allowed("anything.example.com", ())


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://push.example.com/p", "only https"),
        ("ftp://push.example.com/p", "only https"),
        ("https://user:pass@push.example.com/p", "credentials"),
        ("https://user@push.example.com/p", "credentials"),
        ("https://:pass@push.example.com/p", "credentials"),
        ("https://push.example.com/p#frag", "fragment"),
        ("/relative/path", "absolute"),
        ("https://push.example.com/p q", "usable"),
        ("https://push.example.com/\x00", "usable"),
        ("https://push.example.com/" + "a" * 2100, "usable"),
    ],
)
async def test_refuses_urls_that_break_the_syntactic_rules(url: str, reason: str) -> None:
    with pytest.raises(RefusedUrlError, match=reason):
        await guard().admit(url)


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.1.2.3"], "private"),
        (["192.168.0.10"], "private"),
        (["172.16.5.4"], "private"),
        (["127.0.0.1"], "loopback"),
        (["::1"], "loopback"),
        (["169.254.169.254"], "link-local"),  # cloud metadata
        (["fe80::1"], "link-local"),
        (["224.0.0.251"], "multicast"),
        (["ff02::1"], "multicast"),
        (["0.0.0.0"], "unspecified"),
        (["240.0.0.1"], "private|reserved"),
        (["100.64.0.1"], "not a public"),  # carrier-grade NAT
        (["fd12:3456::1"], "private"),
        (["::ffff:10.0.0.1"], "private"),  # IPv4-mapped
        (["64:ff9b::a00:1"], "private"),  # NAT64 of 10.0.0.1
        (["2002:a00:1::1"], "private"),  # 6to4 of 10.0.0.1
        ([PUBLIC, "10.0.0.1"], "private"),  # one bad answer refuses them all
    ],
)
async def test_refuses_a_name_that_resolves_to_a_non_public_address(
    addresses: list[str], reason: str
) -> None:
    with pytest.raises(RefusedUrlError, match=reason):
        await guard("push.example.com", addresses).admit("https://push.example.com/p")


async def test_refuses_a_name_that_does_not_resolve() -> None:
    with pytest.raises(RefusedUrlError, match="does not resolve"):
        await guard("push.example.com", []).admit("https://push.example.com/p")


async def test_an_allowlisted_ip_literal_is_still_checked_as_an_address() -> None:
    with pytest.raises(RefusedUrlError, match="private"):
        await guard("10.0.0.7").admit("https://10.0.0.7/p")
    with pytest.raises(RefusedUrlError, match="link-local"):
        await guard("fe80::1").admit("https://[fe80::1]/p")
    target = await guard(PUBLIC).admit(f"https://{PUBLIC}/p")
    assert target.literal is not None


async def test_loopback_receivers_need_the_development_switch() -> None:
    with pytest.raises(RefusedUrlError, match="only https"):
        await guard("").admit("http://127.0.0.1:9000/push")
    with pytest.raises(RefusedUrlError, match="allowlist"):
        await guard("").admit("https://127.0.0.1:9000/push")
    with pytest.raises(RefusedUrlError, match="loopback"):
        await guard("localhost", ["127.0.0.1"]).admit("https://localhost:9000/push")

    target = await guard("", loopback=True).admit("http://127.0.0.1:9000/push")
    assert (target.host, target.port) == ("127.0.0.1", 9000)
    await guard("localhost", ["127.0.0.1"], loopback=True).admit("https://localhost:9000/push")


async def test_the_switch_admits_loopback_only_not_private_or_other_schemes() -> None:
    with pytest.raises(RefusedUrlError, match="private"):
        await guard("push.example.com", ["10.0.0.1"], loopback=True).admit(
            "https://push.example.com/p"
        )
    with pytest.raises(RefusedUrlError, match="only https"):
        await guard("", loopback=True).admit("http://push.example.com/p")
    with pytest.raises(RefusedUrlError, match="only https"):
        await guard("", loopback=True).admit("ws://127.0.0.1:9000/p")


async def test_resolver_hands_aiohttp_only_the_addresses_it_checked_each_time() -> None:
    """DNS rebinding: the answer at registration was public, the one at send time is not."""
    asked, resolve = resolving([PUBLIC, "2606:2800:220:1::1"], ["127.0.0.1"])
    checked = UrlGuard(("push.example.com",), resolve=resolve)
    resolver = GuardedResolver(checked)

    first = await resolver.resolve("push.example.com", 443, socket.AF_UNSPEC)
    assert [(r["host"], r["family"], r["hostname"]) for r in first] == [
        (PUBLIC, socket.AF_INET, "push.example.com"),
        ("2606:2800:220:1::1", socket.AF_INET6, "push.example.com"),
    ]
    with pytest.raises(AddressRefusedError, match="loopback"):
        await resolver.resolve("push.example.com", 443, socket.AF_UNSPEC)
    assert asked == [("push.example.com", 443), ("push.example.com", 443)]


def test_address_problem_names_each_kind() -> None:
    import ipaddress

    assert address_problem(ipaddress.ip_address(PUBLIC)) is None
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert address_problem(ipaddress.ip_address("::ffff:127.0.0.1"), allow_loopback=False) == (
        "a loopback address"
    )
