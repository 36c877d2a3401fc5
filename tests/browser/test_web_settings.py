"""Haven Web's settings and coach tools in Chromium against the real services: a coach edits
availability in a form and pauses with a template (the client sees both), a client changes a
conversation's settings, downloads their data, and deletes the account with its receipt; the
explicit "Leave and erase this device" revokes the device and leaves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Download, Page, expect

from tests.browser.conftest import NewContext
from tests.browser.support import app
from tests.browser.support.browser import EXIT_URL
from tests.browser.support.people import People, new_handle, password_for
from tests.browser.test_web_journey import client_in_browser, publish_agreement
from tests.browser.test_web_moments import coach_and_browser_client
from tools.api import Api

T = 20_000
Axe = Callable[[Page, str], Awaitable[None]]
Shot = Callable[[Page, str], Awaitable[Path]]


async def test_a_coach_sets_availability_and_pauses_with_a_template(
    api: Api, people: People, new_context: NewContext, app_url: str, axe: Axe, screenshot: Shot
) -> None:
    await publish_agreement(api, people)
    coach_page = await (await new_context()).new_page()
    coach = new_handle("coach")
    code = await people.coach_invite()
    await app.register(coach_page, app_url, code, coach, password_for(coach), "Coach Robin")
    await coach_page.get_by_role("button", name="Coach tools").click()
    await coach_page.get_by_role("button", name="Create an invite code").click()
    invite = coach_page.get_by_label("Code to share")
    await expect(invite).not_to_have_value("", timeout=T)
    client_code = await invite.input_value()

    await coach_page.get_by_label("Time zone").fill("Europe/Berlin")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday"):
        await coach_page.get_by_label(f"{day} from").fill("09:00")
        await coach_page.get_by_label(f"{day} until").fill("17:00")
    await coach_page.get_by_label("I usually reply within (hours)").fill("48")
    await coach_page.get_by_role("button", name="Save availability").click()
    await expect(coach_page.get_by_text("Saved.", exact=False).first).to_be_visible(timeout=T)
    await coach_page.get_by_label("Hold notifications during quiet hours").check()
    await coach_page.get_by_role("button", name="Save quiet hours").click()
    await expect(coach_page.get_by_text("Saved.", exact=False).first).to_be_visible(timeout=T)

    client_page = await (await new_context()).new_page()
    await client_in_browser(client_page, app_url, client_code)
    await app.open_conversation(client_page, "Coach Robin")
    await expect(
        client_page.get_by_text("Coach Robin usually replies within 48 hours.", exact=False)
    ).to_be_visible(timeout=T)

    await coach_page.get_by_role("button", name="Coach tools").click()
    await coach_page.get_by_label("Reason your client sees").select_option("between_sessions")
    reason = "Let's hold our messages until our next session. See you then."
    await expect(coach_page.get_by_text(reason)).to_be_visible()
    await axe(coach_page, "coach tools with a conversation")
    await coach_page.evaluate("document.getElementById('av-h').scrollIntoView({block: 'start'})")
    await screenshot(coach_page, "coach-availability")
    await coach_page.get_by_role("button", name="Pause", exact=True).click()
    await expect(coach_page.get_by_text("The conversation is paused", exact=False)).to_be_visible(
        timeout=T
    )
    await expect(client_page.get_by_text("This conversation is paused")).to_be_visible(timeout=T)
    await expect(client_page.get_by_text(reason)).to_be_visible()
    await coach_page.get_by_role("button", name="Resume", exact=True).click()
    await expect(client_page.get_by_text("This conversation is paused")).to_have_count(0, timeout=T)


async def test_a_client_changes_settings_exports_and_deletes_the_account(
    api: Api, people: People, new_context: NewContext, app_url: str, axe: Axe
) -> None:
    coach, page, conversation_id, handle = await coach_and_browser_client(
        api, people, new_context, app_url
    )
    await app.send(page, "Something to export")
    await app.shows(page, "Something to export")
    await page.get_by_role("button", name="Conversation settings").click()
    await page.get_by_label("Let Coach Robin see when I have read messages").check()
    await page.get_by_label("Keep messages for this many days (empty: no limit)").fill("60")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text("Saved.", exact=False).first).to_be_visible(timeout=T)
    listed = await api.call("GET", "/v1/conversations", token=coach.access_token)
    [conversation] = listed.body["conversations"]
    assert conversation["conversation_id"] == conversation_id
    assert conversation["retention_days"] == 60
    await axe(page, "settings with a conversation")

    async with page.expect_download() as exported:
        await page.get_by_role("button", name="Download my data (JSON)").click()
    data = await downloaded_json(await exported.value)
    assert "Something to export" not in json.dumps(data)  # still ciphertext, as the API says
    assert data

    await page.get_by_label("Password to confirm").fill(password_for(handle))
    async with page.expect_download() as receipt:
        await page.get_by_role("button", name="Delete my account").click()
    kept = await downloaded_json(await receipt.value)
    assert "receipt" in kept
    await expect(page.get_by_text("Your account is deleted", exact=False)).to_be_visible(timeout=T)
    gone = await api.call(
        "POST",
        "/v1/sessions",
        {"handle": handle, "password": password_for(handle), "device": {}},
    )
    assert gone.status in (401, 422)


async def test_leave_and_erase_this_device_revokes_it_and_leaves(
    api: Api, people: People, new_context: NewContext, app_url: str
) -> None:
    _, page, _, handle = await coach_and_browser_client(api, people, new_context, app_url)
    own = await api.login(handle, password_for(handle), name="laptop")
    before = await api.call("GET", "/v1/me", token=own.access_token)
    assert len(before.body["devices"]) == 2
    await page.get_by_role("button", name="Settings", exact=True).click()
    await page.get_by_role("button", name="Leave and erase this device").click()
    await page.wait_for_url(EXIT_URL, timeout=T)
    after = await api.call("GET", "/v1/me", token=own.access_token)
    assert [d["name"] for d in after.body["devices"]] == ["laptop"]
    stored = await page.context.storage_state()
    assert not any(origin["origin"].startswith("http://127.0.0.1") for origin in stored["origins"])


async def downloaded_json(download: Download) -> object:
    """The JSON a download saved."""
    path = await download.path()
    return json.loads(await asyncio.to_thread(Path(path).read_text))
