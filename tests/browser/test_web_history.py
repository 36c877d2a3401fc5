"""History on a new device in Haven Web (issue 22), in Chromium against the real services: a
client turns on "Keep your history" in Settings (the recovery key shown once, two of its groups
typed back), writes with a Python-SDK coach, then a FRESH browser signs in and restores every
earlier message with the recovery key — a mistyped and a wrong key are refused calmly first; a
second browser approved from the first (both show the same code) reads the history too; and an
operator's password reset signs the browser out with a calm reason."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from haven_crypto.backup import encode_recovery_key, generate_recovery_key
from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.people import People, new_handle, password_for
from tests.support.sdk import SdkDevice
from tools.api import Api
from tools.stack import Stack

T = 20_000
Axe = Callable[[Page, str], Awaitable[None]]
Shot = Callable[[Page, str], Awaitable[Path]]
COACH = "Coach Robin"
RECOVERY_KEY = re.compile(r"^([1-9A-HJ-NP-Za-km-z]{4} ){11}[1-9A-HJ-NP-Za-km-z]{4}$")


@dataclass
class Client:
    """A client in the browser (first device) with a Python-SDK coach in one conversation."""

    coach: SdkDevice
    page: Page
    handle: str
    conversation_id: str


@pytest.fixture
async def client(
    web_stack: Stack, app_url: str, people: People, new_context: NewContext, tmp_path: Path
) -> AsyncIterator[Client]:
    coach = await SdkDevice.create(web_stack.gateway_url, tmp_path, "coach-laptop")
    try:
        handle = new_handle("coach")
        await coach.client.register(
            handle, password_for(handle), await people.coach_invite(), COACH
        )
        await coach.client.login(handle, password_for(handle), device_name="laptop")
        code = (await coach.client.create_invite("client")).code
        page = await (await new_context()).new_page()
        client_handle = new_handle("client")
        await app.register(page, app_url, code, client_handle, password_for(client_handle), "Sam")
        await app.accept_agreement(page)
        [conversation] = await coach.client.conversations()
        coach.listen()
        await coach.connect()
        yield Client(coach, page, client_handle, conversation.conversation_id)
    finally:
        await coach.close()


async def turn_on_backup(page: Page, axe: Axe | None = None, screenshot: Shot | None = None) -> str:
    """Settings → Keep your history → turn on: read the key, type two groups back; returns it.
    `axe` checks its two screens (the first test does; the others only need the key)."""
    await page.get_by_role("button", name="Settings", exact=True).click()
    await page.get_by_role("button", name="Turn on with a recovery key").click()
    shown = page.get_by_label("Your recovery key")
    await expect(shown).not_to_have_value("", timeout=T)
    key = await shown.input_value()
    assert RECOVERY_KEY.match(key), key
    await expect(page.get_by_text("This key is shown only once.", exact=False)).to_be_visible()
    if axe is not None:
        await axe(page, "recovery key shown")
    if screenshot is not None:
        await page.evaluate("document.getElementById('history-h').scrollIntoView()")
        await screenshot(page, "keep-your-history")
    groups = key.split(" ")
    await expect(page.get_by_label(re.compile(r"^Group \d+$"))).to_have_count(2)
    labels = [
        await page.locator(f"label[for={f}]").inner_text() for f in ("rk-group-a", "rk-group-b")
    ]
    positions = [int(label.removeprefix("Group ")) for label in labels]
    assert 1 <= positions[0] < positions[1] <= 12
    # A wrong pair first: calm, nothing published.
    await page.get_by_label(labels[0], exact=True).fill(groups[positions[1] - 1])
    await page.get_by_label(labels[1], exact=True).fill(groups[positions[0] - 1])
    await page.get_by_role("button", name="Confirm and turn on").click()
    await expect(page.get_by_text("Those groups do not match the key above.")).to_be_visible()
    await page.get_by_label(labels[0], exact=True).fill(groups[positions[0] - 1])
    await page.get_by_label(labels[1], exact=True).fill(groups[positions[1] - 1])
    await page.get_by_role("button", name="Confirm and turn on").click()
    await expect(page.get_by_text("Your history is kept for new devices.").first).to_be_visible(
        timeout=T
    )
    await expect(page.get_by_label("Your recovery key")).to_have_count(0)
    await expect(page.get_by_role("button", name="Replace the recovery key")).to_be_visible()
    if axe is not None:
        await axe(page, "history kept")
    return key


async def exchange(c: Client) -> list[str]:
    """Both sides write with backup on; returns every text in order."""
    await c.page.get_by_role("button", name="Conversations").click()
    await app.open_conversation(c.page, COACH)
    mine = ["Before the new laptop: hello", "and a second thought"]
    for text in mine:
        await app.send(c.page, text)
        await app.shows(c.page, text)
    await c.coach.wait_for(lambda _: c.coach.bodies()[-2:] == mine)
    replies = ["Hello Sam, good to hear from you", "Talk on Thursday?"]
    for text in replies:
        await c.coach.client.send_text(c.conversation_id, text)
    for text in replies:
        await app.shows(c.page, text)
    return mine + replies


async def test_a_fresh_browser_restores_the_history_with_the_recovery_key(
    client: Client, app_url: str, new_context: NewContext, axe: Axe, screenshot: Shot
) -> None:
    key = await turn_on_backup(client.page, axe, screenshot)
    said = await exchange(client)

    page = await (await new_context()).new_page()
    await app.sign_in(page, app_url, client.handle, password_for(client.handle))
    await expect(page.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    await axe(page, "restore your history")
    await screenshot(page, "restore-your-history")

    field = page.get_by_label("Recovery key", exact=True)
    await field.fill(key[:-1])  # one character short
    await page.get_by_role("button", name="Restore", exact=True).click()
    await expect(page.get_by_text("That recovery key doesn't look right.")).to_be_visible(timeout=T)
    await field.fill(encode_recovery_key(generate_recovery_key()))  # someone else's, well formed
    await page.get_by_role("button", name="Restore", exact=True).click()
    await expect(
        page.get_by_text("That recovery key is not the one for this account.")
    ).to_be_visible(timeout=T)
    await axe(page, "a wrong recovery key")
    assert await page.get_by_text(said[0]).count() == 0

    await field.fill(key.replace(" ", "\n"))  # however it was written down
    await page.get_by_role("button", name="Restore", exact=True).click()
    await expect(
        page.locator("#main").get_by_text(f"{len(said)} earlier messages can be read here now.")
    ).to_be_visible(timeout=T)
    await page.get_by_role("button", name="Go to your conversations").click()
    await app.open_conversation(page, COACH)
    for text in said:
        await app.shows(page, text)
    await expect(page.get_by_text("could not be verified", exact=False)).to_have_count(0)
    # Settings on the restored browser: history readable here, nothing more to restore.
    await page.get_by_role("button", name="Settings", exact=True).click()
    await expect(page.get_by_text("Your history is kept for new devices.")).to_be_visible(timeout=T)
    await expect(page.get_by_role("button", name="Restore with your recovery key")).to_have_count(0)
    devices = page.locator("section[aria-labelledby=dev-h] li")
    await expect(devices).to_have_count(2)  # the backup key is no device
    await expect(devices.filter(has_text="undefined")).to_have_count(0)

    # The first browser is asked about the new sign-in, with a code to compare.
    await expect(client.page.get_by_role("heading", name="Approve new device")).to_be_visible(
        timeout=T
    )


async def test_a_second_browser_approved_from_the_first_reads_the_history(
    client: Client, app_url: str, new_context: NewContext, axe: Axe, screenshot: Shot
) -> None:
    await turn_on_backup(client.page)
    said = await exchange(client)

    page = await (await new_context()).new_page()
    await app.sign_in(page, app_url, client.handle, password_for(client.handle))
    await expect(page.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    await page.get_by_role("button", name="Show the code").click()
    new_code = page.locator(".link-codes .code")
    await expect(new_code).to_have_count(1, timeout=T)
    shown_here = await new_code.inner_text()
    assert re.fullmatch(r"\d{4} \d{4} \d{4}", shown_here), shown_here

    first = client.page
    await expect(first.get_by_role("heading", name="Approve new device")).to_be_visible(timeout=T)
    prompt = first.locator("section.link-prompt")
    await expect(prompt.locator(".code")).to_have_text(shown_here)
    await axe(first, "approve new device")
    await screenshot(first, "approve-new-device")
    await prompt.get_by_role("button", name="Approve").click()
    await expect(first.get_by_text("can now read your history.", exact=False)).to_be_visible(
        timeout=T
    )

    await expect(page.locator("#main").get_by_text("This browser was approved.")).to_be_visible(
        timeout=T
    )
    await page.get_by_role("button", name="Go to your conversations").click()
    await app.open_conversation(page, COACH)
    for text in said:
        await app.shows(page, text)

    # A sign-in the person does not recognise: "Not me" signs that device out.
    await prompt.get_by_role("button", name="Close").click()
    stranger = await (await new_context()).new_page()
    await app.sign_in(stranger, app_url, client.handle, password_for(client.handle))
    await expect(stranger.get_by_role("heading", name="Restore your history")).to_be_visible(
        timeout=T
    )
    await expect(first.locator("section.link-prompt")).to_have_count(1, timeout=T)
    await first.locator("section.link-prompt").get_by_role("button", name="Not me").click()
    await expect(first.get_by_text("That device was signed out.")).to_be_visible(timeout=T)
    await expect(stranger.get_by_role("button", name="Sign in")).to_be_visible(timeout=T)


async def test_a_password_reset_signs_the_browser_out_calmly(
    client: Client, app_url: str, api: Api, people: People
) -> None:
    await expect(client.page.get_by_role("heading", name="Conversations")).to_be_visible(timeout=T)
    operator = await people.operator()
    me = await api.login(client.handle, password_for(client.handle), name="reset check")
    issued = await api.call(
        "POST", f"/v1/admin/accounts/{me.account_id}/reset-code", token=operator.access_token
    )
    assert issued.status == 201, issued.body
    new_password = "a brand new password 7"
    body = {"handle": client.handle, "code": issued.body["code"], "new_password": new_password}
    done = await api.call("POST", "/v1/password-resets", body)
    assert done.status == 204, done.body
    await expect(
        client.page.get_by_text("Your password was changed, so every session ended.")
    ).to_be_visible(timeout=T)
    await expect(client.page.get_by_role("button", name="Sign in")).to_be_visible()
    await app.sign_in(client.page, app_url, client.handle, new_password)
    await app.accept_agreement(client.page)


async def test_a_browser_that_restored_without_keeping_the_key_says_how_to_approve(
    client: Client, app_url: str, new_context: NewContext, axe: Axe
) -> None:
    """The chat's "sent before this device" line leads to the restore page; a browser that then
    restored without keeping the key says plainly, on its approve card, how approving works."""
    key = await turn_on_backup(client.page)
    said = await exchange(client)

    page = await (await new_context()).new_page()
    await app.sign_in(page, app_url, client.handle, password_for(client.handle))
    await expect(page.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    await page.get_by_role("button", name="Not now").click()
    await app.open_conversation(page, COACH)
    line = page.locator("li.predates")
    await expect(line).to_contain_text("before this device signed in", timeout=T)
    await axe(page, "earlier messages with the way to restore them")
    await line.get_by_role("button", name="Restore your history").click()
    await expect(page.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    await page.get_by_label("Recovery key", exact=True).fill(key)
    await page.get_by_role("button", name="Restore", exact=True).click()  # "keep" left off
    await expect(
        page.locator("#main").get_by_text(f"{len(said)} earlier messages can be read here now.")
    ).to_be_visible(timeout=T)

    third = await (await new_context()).new_page()
    await app.sign_in(third, app_url, client.handle, password_for(client.handle))
    prompt = page.locator("section.link-prompt")
    await expect(prompt).to_have_count(1, timeout=T)
    await expect(prompt.locator(".link-not-held")).to_contain_text(
        "without keeping the recovery key", timeout=T
    )
    await expect(prompt.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    await expect(prompt.get_by_role("button", name="Not me")).to_be_visible()
    await expect(prompt).not_to_contain_text("backup_not_held")
    await axe(page, "approve card on a browser without the key")
    # The first browser holds the key: its cards (one per new browser) approve as before.
    first = client.page.locator("section.link-prompt")
    await expect(first).to_have_count(2, timeout=T)
    await expect(first.get_by_role("button", name="Approve", exact=True)).to_have_count(2)
    await expect(first.locator(".link-not-held")).to_have_count(0)
    await prompt.get_by_role("button", name="Enter the recovery key here").click()
    await expect(page.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    # Kept this time: the card offers Approve, and approving sends the history.
    await page.get_by_label("Recovery key", exact=True).fill(key)
    await page.get_by_label("Keep the key on this device").check()
    await page.get_by_role("button", name="Restore", exact=True).click()
    await expect(prompt.locator(".link-not-held")).to_have_count(0, timeout=T)
    await prompt.get_by_role("button", name="Approve", exact=True).click()
    await expect(page.get_by_text("can now read your history.", exact=False)).to_be_visible(
        timeout=T
    )


async def test_a_browser_that_restored_vouches_so_the_key_outlives_the_first(
    client: Client, app_url: str, new_context: NewContext
) -> None:
    """Restoring with "keep" adds this browser's signature to the backup key (the real gateway
    publishes the same key again under a new id), so signing out the browser that turned backup
    on does not retire it: later messages are still wrapped for it and a third browser restores."""
    key = await turn_on_backup(client.page)
    said = await exchange(client)

    page = await (await new_context()).new_page()
    await app.sign_in(page, app_url, client.handle, password_for(client.handle))
    await expect(page.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    await page.get_by_label("Recovery key", exact=True).fill(key)
    await page.get_by_label("Keep the key on this device").check()
    await page.get_by_role("button", name="Restore", exact=True).click()
    await expect(
        page.locator("#main").get_by_text(f"{len(said)} earlier messages can be read here now.")
    ).to_be_visible(timeout=T)

    await page.get_by_role("button", name="Settings", exact=True).click()
    devices = page.locator("section[aria-labelledby=dev-h] li")
    await expect(devices).to_have_count(2, timeout=T)
    await devices.get_by_role("button", name=re.compile(r"^Sign out ")).click()
    await expect(devices).to_have_count(1, timeout=T)
    await expect(client.page.get_by_role("button", name="Sign in")).to_be_visible(timeout=T)
    await page.get_by_role("button", name="Conversations").click()  # Settings read afresh
    await page.get_by_role("button", name="Settings", exact=True).click()
    await expect(page.get_by_text("Your history is kept for new devices.")).to_be_visible(timeout=T)

    later = "After the first browser was signed out"
    await client.coach.client.send_text(client.conversation_id, later)
    third = await (await new_context()).new_page()
    await app.sign_in(third, app_url, client.handle, password_for(client.handle))
    await expect(third.get_by_role("heading", name="Restore your history")).to_be_visible(timeout=T)
    await third.get_by_label("Recovery key", exact=True).fill(key)
    await third.get_by_role("button", name="Restore", exact=True).click()
    opened = f"{len(said) + 1} earlier messages can be read here now."
    await expect(third.locator("#main").get_by_text(opened)).to_be_visible(timeout=T)
    await third.get_by_role("button", name="Go to your conversations").click()
    await app.open_conversation(third, COACH)
    await app.shows(third, later)
