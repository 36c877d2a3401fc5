"""Files and voice notes in Haven Web (issue 23), two browsers against the real services: a
client sends a file, an image and a voice note recorded from Chromium's fake microphone; the
coach's browser saves the file with the very bytes sent, shows the image only once it was
downloaded and decrypted (from a blob: URL, never the server's), refuses a tampered download,
and plays the voice note from its decrypted bytes. Refused uploads (too large, paused) say so
and keep what was chosen. The Python SDK opens what the browser sends, and the other way."""

from __future__ import annotations

import asyncio
import os
import re
import struct
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, Request, Route, expect

from haven_client.attachments import save_file, send_files
from haven_client.events import Event, ReceivedMessage
from haven_crypto.attachments import refs_from_payload
from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People, new_handle, password_for
from tests.browser.test_web_journey import client_in_browser, publish_agreement
from tests.support.sdk import SdkDevice
from tools.api import Api, Session
from tools.stack import Stack

T = 20_000
Axe = Callable[[Page, str], Awaitable[None]]
MAX_BYTES = 2 * 1024 * 1024
ATTACHMENTS = "**/v1/conversations/*/attachments/*"


@pytest.fixture(scope="module")
def web_overrides() -> dict[str, str]:
    """A small upload limit, so a refused file costs two megabytes, not twenty-five (the
    session's shared stack has it: tests/browser/conftest.py SHARED_OVERRIDES)."""
    return {"HAVEN_ATTACHMENT_MAX_BYTES": str(MAX_BYTES)}


def png(width: int, height: int) -> bytes:
    """A real PNG (solid teal), so the browser must decode it to show it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x2d\x5f\x73" * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


async def coach_and_client_in_browsers(
    api: Api, people: People, new_context: NewContext, app_url: str
) -> tuple[Session, Page, Page]:
    """A coach and a client, each in their own browser with the chat open; the client's
    browser may use the (fake) microphone."""
    await publish_agreement(api, people)
    coach = await people.coach(name="Coach Robin")
    client = await (await new_context(permissions=["microphone"])).new_page()
    await client_in_browser(client, app_url, await people.client_invite(coach), name="Sam")
    await app.open_conversation(client, "Coach Robin")
    robin = await (await new_context()).new_page()
    await app.sign_in(robin, app_url, coach.handle, password_for(coach.handle))
    await expect(robin.get_by_role("heading", name="Conversations")).to_be_visible(timeout=T)
    await app.open_conversation(robin, "Sam")
    return coach, client, robin


async def attach(page: Page, name: str, mime: str, data: bytes) -> None:
    """Choose a file in the composer, as the file picker would."""
    picker = page.locator("input[type=file]")
    await expect(picker).to_have_accessible_name("Attach a file")
    await picker.set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])


async def test_a_file_an_image_and_a_voice_note_arrive_decrypted(
    api: Api, people: People, new_context: NewContext, app_url: str, axe: Axe, tmp_path: Path
) -> None:
    _, sam, robin = await coach_and_client_in_browsers(api, people, new_context, app_url)
    fetched: list[str] = []

    def watch(request: Request) -> None:
        if "/attachments/" in request.url:
            fetched.append(request.resource_type)

    robin.on("request", watch)

    # A file of three chunks: chosen, shown with its name and size, sent with a line of text.
    worksheet = os.urandom(150_000)
    await attach(sam, "worksheet.pdf", "application/pdf", worksheet)
    await expect(sam.get_by_text("worksheet.pdf, 150 kB")).to_be_visible(timeout=T)
    await axe(sam, "composer with a file")
    await app.send(sam, "Here is my worksheet")
    await app.shows(robin, "Here is my worksheet")
    save = robin.get_by_role("button", name="Save worksheet.pdf (150 kB)")
    await expect(save).to_be_visible(timeout=T)

    # A download that was tampered with on the way is refused, and nothing is saved.
    async def tampered(route: Route) -> None:
        response = await route.fetch()
        body = bytearray(await response.body())
        body[5000] ^= 1
        await route.fulfill(response=response, body=bytes(body))

    await robin.route(ATTACHMENTS, tampered)
    await save.click()
    unopened = robin.get_by_text("This file could not be opened safely", exact=False)
    await expect(unopened).to_be_visible(timeout=T)
    await robin.unroute(ATTACHMENTS, tampered)

    async with robin.expect_download(timeout=T) as started:
        await save.click()
    download = await started.value
    assert download.suggested_filename == "worksheet.pdf"
    saved = tmp_path / "saved.pdf"
    await download.save_as(saved)
    assert saved.read_bytes() == worksheet
    await expect(unopened).to_have_count(0)

    # An image: nothing is shown until its bytes are downloaded and decrypted.
    held: asyncio.Queue[Route] = asyncio.Queue()
    await robin.route(ATTACHMENTS, held.put)
    await attach(sam, "photo.png", "image/png", png(64, 48))
    await app.send(sam, "A photo of the view")
    await app.shows(robin, "A photo of the view")
    route = await asyncio.wait_for(held.get(), T / 1000)
    await expect(robin.get_by_text("Opening photo.png…")).to_be_visible()
    image = robin.get_by_role("img", name="Image: photo.png")
    await expect(image).to_have_count(0)
    await route.continue_()
    await expect(image).to_be_visible(timeout=T)
    await robin.unroute(ATTACHMENTS, held.put)
    src = await image.get_attribute("src")
    assert src is not None and src.startswith("blob:"), src
    assert await image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 48]
    assert "image" not in fetched and "media" not in fetched, fetched  # only the SDK's fetch

    # A voice note from the fake microphone: recorded, stopped, listened to, sent.
    await sam.get_by_role("button", name="Record a voice note").click()
    await expect(sam.get_by_text("Recording 0:0", exact=False)).to_be_visible(timeout=T)
    await expect(sam.get_by_text("Recording 0:02")).to_be_visible(timeout=T)
    await axe(sam, "recording a voice note")
    await sam.get_by_role("button", name="Stop recording").click()
    recorded = re.compile(r"Voice note, 0:0[2-9]")
    await expect(sam.locator(".composer").get_by_text(recorded)).to_be_visible(timeout=T)
    preview = sam.get_by_label("Listen before sending")
    await expect(preview).to_be_visible()
    await sam.get_by_role("button", name="Send", exact=True).click()
    await expect(preview).to_have_count(0, timeout=T)

    voice = robin.locator("figure.voice audio")
    await expect(voice).to_have_count(1, timeout=T)
    await expect(robin.locator("figure.voice figcaption")).to_have_text(recorded, timeout=T)
    src = await voice.get_attribute("src", timeout=T)
    assert src is not None and src.startswith("blob:"), src
    state = await voice.evaluate(
        """async (audio) => {
            if (audio.readyState < 1)
                await new Promise((ok, no) => { audio.onloadedmetadata = ok; audio.onerror = no; });
            audio.muted = true;
            await audio.play();
            await new Promise((ok) => setTimeout(ok, 800));
            audio.pause();
            return {time: audio.currentTime, duration: audio.duration, error: audio.error,
                    type: audio.src.slice(0, 5)};
        }"""
    )
    assert state["error"] is None and state["time"] > 0.2, state
    assert state["duration"] > 0, state
    await axe(robin, "conversation with a file, an image and a voice note")
    assert "image" not in fetched and "media" not in fetched, fetched


async def test_a_refused_upload_says_why_and_keeps_the_file(
    api: Api, people: People, new_context: NewContext, app_url: str
) -> None:
    coach, sam, _ = await coach_and_client_in_browsers(api, people, new_context, app_url)
    await attach(sam, "scan.tiff", "image/tiff", os.urandom(MAX_BYTES + 100_000))
    await app.send(sam, "The scan")
    await expect(
        sam.get_by_text("larger than this server accepts", exact=False).first
    ).to_be_visible(timeout=T)
    await expect(sam.get_by_text("scan.tiff,", exact=False)).to_be_visible()
    await expect(sam.get_by_label("Message", exact=True)).to_have_value("The scan")

    conversation_id = (await api.call("GET", "/v1/conversations", token=coach.access_token)).body[
        "conversations"
    ][0]["conversation_id"]
    paused = await api.call(
        "POST",
        f"/v1/conversations/{conversation_id}/pause",
        {"reason": None, "resume_on": None},
        coach.access_token,
    )
    assert paused.status == 200, paused.body
    await expect(sam.get_by_text("This conversation is paused")).to_be_visible(timeout=T)
    await sam.get_by_role("button", name="Remove").click()
    await attach(sam, "small.txt", "text/plain", b"a few words")
    await sam.get_by_role("button", name="Send", exact=True).click()
    await expect(
        sam.get_by_text("This message was not delivered: the conversation is paused", exact=False)
    ).to_be_visible(timeout=T)
    await expect(sam.get_by_text("small.txt,", exact=False)).to_be_visible()


async def test_files_cross_between_haven_web_and_the_python_sdk(
    web_stack: Stack, app_url: str, people: People, new_context: NewContext, tmp_path: Path
) -> None:
    """The JS SDK in Chromium and the Python SDK open each other's files: a file and a voice
    note from the browser are saved by the Python coach byte for byte (with the note's type and
    length), and a file and an image from Python are saved and shown in the browser."""
    coach = await SdkDevice.create(web_stack.gateway_url, tmp_path, "coach-laptop")
    try:
        handle = new_handle("coach")
        await coach.client.register(
            handle, password_for(handle), await people.coach_invite(), "Coach Robin"
        )
        await coach.client.login(handle, password_for(handle), device_name="laptop")
        code = (await coach.client.create_invite("client")).code
        sam = await (await new_context(permissions=["microphone"])).new_page()
        await client_in_browser(sam, app_url, code, name="Sam")
        await app.open_conversation(sam, "Coach Robin")
        [conversation] = await coach.client.conversations()
        cid = conversation.conversation_id
        coach.listen()
        await coach.connect()

        notes = os.urandom(70_000)
        await attach(sam, "notes.txt", "text/plain", notes)
        await app.send(sam, "My notes")
        await sam.get_by_role("button", name="Record a voice note").click()
        await expect(sam.get_by_text("Recording 0:01")).to_be_visible(timeout=T)
        await sam.get_by_role("button", name="Stop recording").click()
        await expect(sam.get_by_label("Listen before sending")).to_be_visible(timeout=T)
        await sam.get_by_role("button", name="Send", exact=True).click()

        def with_files(events: list[Event]) -> list[ReceivedMessage]:
            return [
                e for e in events if isinstance(e, ReceivedMessage) and e.payload.get("attachments")
            ]

        await coach.wait_for(lambda events: len(with_files(events)) == 2)
        first, second = with_files(coach.events)
        [note_ref] = refs_from_payload(first.payload)
        assert (first.payload["body"], note_ref.name, note_ref.mime) == (
            "My notes",
            "notes.txt",
            "text/plain",
        )
        saved = await save_file(coach.client, cid, note_ref, tmp_path / "notes.txt")
        assert saved.read_bytes() == notes
        [voice_ref] = refs_from_payload(second.payload)
        assert voice_ref.mime.startswith("audio/webm"), voice_ref.mime
        assert voice_ref.duration_ms is not None and voice_ref.duration_ms >= 1000, voice_ref
        voice = await save_file(coach.client, cid, voice_ref, tmp_path / "voice.webm")
        assert voice.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # a WebM (EBML) file, whole

        plan = tmp_path / "plan.bin"
        plan.write_bytes(os.urandom(100_000))
        picture = tmp_path / "picture.png"
        picture.write_bytes(png(40, 30))
        await send_files(coach.client, cid, [plan, picture], "From Python")
        await app.shows(sam, "From Python")
        image = sam.get_by_role("img", name="Image: picture.png")
        await expect(image).to_be_visible(timeout=T)
        assert await image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
        async with sam.expect_download(timeout=T) as started:
            await sam.get_by_role("button", name="Save plan.bin (100 kB)").click()
        download = await started.value
        await download.save_as(tmp_path / "plan-in-browser.bin")
        assert (tmp_path / "plan-in-browser.bin").read_bytes() == plan.read_bytes()
        assert not coach.invalid()
    finally:
        await coach.close()
