"""Two independent implementations of haven-v1 talk to each other: Haven Web (the JS SDK in
Chromium) as the client, and as the coach the Python SDK and `haven chat` itself on a
pseudo-terminal; and what the browser sends is, like everything else, ciphertext only on the
server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import aiohttp
import pexpect
import pytest
from playwright.async_api import Page
from pymongo import AsyncMongoClient

from haven_client.client import HavenClient
from haven_client.keystore import Keystore
from shared.commands import SendMessage
from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People, new_handle, password_for
from tests.support.cli import PASSPHRASE, Person
from tests.support.isolation import topology as isolated_topology
from tests.support.plaintext import assert_no_plaintext, server_texts
from tests.support.sdk import SdkDevice
from tools.api import Api
from tools.stack import Stack

COACH_NAME = "Coach Robin"


@dataclass
class Pair:
    """A Python-SDK coach and a browser client in one conversation."""

    coach: SdkDevice
    page: Page
    conversation_id: str


async def _pair(
    gateway_url: str, app_url: str, people: People, new_context: NewContext, tmp: Path
) -> Pair:
    coach = await SdkDevice.create(gateway_url, tmp, "coach-laptop")
    try:
        return await _meet(coach, app_url, people, new_context)
    except BaseException:
        await coach.close()
        raise


async def _meet(coach: SdkDevice, app_url: str, people: People, new_context: NewContext) -> Pair:
    coach_handle = new_handle("coach")
    await coach.client.register(
        coach_handle, password_for(coach_handle), await people.coach_invite(), COACH_NAME
    )
    await coach.client.login(coach_handle, password_for(coach_handle), device_name="laptop")
    code = (await coach.client.create_invite("client")).code
    context = await new_context()
    page = await context.new_page()
    handle = new_handle("client")
    await app.register(page, app_url, code, handle, password_for(handle), "Sam")
    await app.accept_agreement(page)
    await app.open_conversation(page, COACH_NAME)
    [conversation] = await coach.client.conversations()
    coach.listen()
    await coach.connect()
    return Pair(coach, page, conversation.conversation_id)


@pytest.fixture
async def pair(
    web_stack: Stack, app_url: str, people: People, new_context: NewContext, tmp_path: Path
) -> AsyncIterator[Pair]:
    value = await _pair(web_stack.gateway_url, app_url, people, new_context, tmp_path)
    yield value
    await value.coach.close()


async def test_a_browser_client_and_a_python_coach_talk_both_ways(pair: Pair) -> None:
    said_in_browser = ["Hello from the browser, first", "and a second thought"]
    for text in said_in_browser:
        await app.send(pair.page, text)
    await pair.coach.wait_for(lambda _: pair.coach.bodies() == said_in_browser)
    replies = ["Hello from Python", "Talk on Thursday?"]
    for text in replies:
        await pair.coach.client.send_text(pair.conversation_id, text)
    for text in replies:
        await app.shows(pair.page, text)
    await app.send(pair.page, "Thursday works")
    await pair.coach.wait_for(lambda _: pair.coach.bodies()[-1:] == ["Thursday works"])
    assert not pair.coach.invalid()


async def test_a_browser_client_and_a_haven_chat_coach_talk_both_ways(
    web_stack: Stack, app_url: str, people: People, new_context: NewContext, tmp_path: Path
) -> None:
    """The coach runs `haven chat` on a pseudo-terminal, as a person would; the client writes
    from Haven Web: each reads what the other wrote, live."""
    coach = await Person.create(web_stack.gateway_url, tmp_path, "coach", "coach-password-1")
    coach_handle = new_handle("coach")
    sdk = HavenClient(web_stack.gateway_url, await Keystore.open(coach.keystore, PASSPHRASE))
    try:
        await sdk.register(coach_handle, coach.password, await people.coach_invite(), "Kim")
        await sdk.login(coach_handle, coach.password)
        code = (await sdk.create_invite("client")).code
    finally:
        await sdk.close()
    page = await (await new_context()).new_page()
    client_handle = new_handle("client")
    await app.register(page, app_url, code, client_handle, password_for(client_handle), "Sam")
    await app.accept_agreement(page)
    await app.open_conversation(page, "Kim")

    chat = coach.chat(client_handle)  # a conversation is named by the counterpart's handle
    try:
        await asyncio.to_thread(chat.expect, "connected")
        await app.send(page, "Hello Kim, from the browser")
        await asyncio.to_thread(chat.expect, "Sam: Hello Kim, from the browser")
        chat.sendline("Hi Sam, from my terminal")
        await app.shows(page, "Hi Sam, from my terminal")
        chat.sendline("/quit")
        await asyncio.to_thread(chat.expect, pexpect.EOF)
    finally:
        chat.close(force=True)


@asynccontextmanager
async def sends_published(amqp_url: str, namespace: str) -> AsyncIterator[asyncio.Queue[bytes]]:
    """A copy of every `message.send` command the gateway publishes from now on, through a
    queue of the test's own (exclusive, gone with its connection) bound beside the real one."""
    topology = isolated_topology(namespace)
    copies: asyncio.Queue[bytes] = asyncio.Queue()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for shard in range(topology.command_shards):
            await queue.bind(topology.commands, f"{SendMessage.kind()}.{shard}")

        async def copy(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            copies.put_nowait(message.body)

        await queue.consume(copy, no_ack=True)
        yield copies


# --- ciphertext only: the scan of tests/e2e/test_messaging_e2e.py, for the browser's messages


@pytest.fixture
async def own_pair(
    stack: Stack, people_on_stack: People, new_context: NewContext, tmp_path: Path
) -> AsyncIterator[Pair]:
    app_url = f"{stack.gateway_url}/app/"
    value = await _pair(stack.gateway_url, app_url, people_on_stack, new_context, tmp_path)
    yield value
    await value.coach.close()


@pytest.fixture
async def people_on_stack(stack: Stack) -> AsyncIterator[People]:
    async with aiohttp.ClientSession() as http:
        yield People(Api(http, stack.gateway_url))


async def test_no_plaintext_from_the_browser_anywhere_on_the_server(
    own_pair: Pair, stack: Stack, mongo_client: AsyncMongoClient, isolation: tuple[str, str]
) -> None:
    pair = own_pair
    secrets = ["browser secret 4c1d", "a reply the coach keeps 77e0", "queued secret b93a"]
    await app.send(pair.page, secrets[0])
    await pair.coach.client.send_text(pair.conversation_id, secrets[1])
    await pair.coach.wait_for(lambda _: secrets[0] in pair.coach.bodies())
    await app.shows(pair.page, secrets[1])
    await asyncio.to_thread(stack.stop, "messaging")  # the browser's next command waits queued
    async with sends_published(stack.env["HAVEN_AMQP_URL"], isolation[0]) as sends:
        await app.send(pair.page, secrets[2])
        await asyncio.wait_for(sends.get(), 20)  # published; nothing consumes the real one
    await pair.page.close()
    await asyncio.to_thread(stack.stop)
    dumps, logs, queued = await server_texts(stack, mongo_client, isolation)
    assert len(dumps) > 10
    assert any("message.send" in body for body in queued)  # the browser's command, queued
    assert_no_plaintext(secrets, [*dumps, *logs, *queued])
