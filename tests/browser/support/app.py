"""Steps through Haven Web by what people see (roles and accessible names), shared by the
platform's tests: register with an invite, sign in, accept the agreement, open a
conversation by the counterpart's name, send a message."""

from __future__ import annotations

from playwright.async_api import Page, expect

AGREE = "I have read this and agree"
HAVE_INVITE = "I have an invite code"
NAME_FIELD = "Your name"
TIMEOUT_MS = 20_000


KEEP = "Keep me signed in on this device"


async def register(
    page: Page, app_url: str, code: str, handle: str, password: str, name: str, keep: bool = False
) -> None:
    """Create an account with an invite code (`keep`: tick "Keep me signed in"); ends on the
    agreement (clients) or the conversation list."""
    await page.goto(app_url)
    await page.get_by_role("button", name=HAVE_INVITE).click()
    await page.get_by_label("Invite code").fill(code)
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label(NAME_FIELD).fill(name)
    await page.get_by_label("Password", exact=True).fill(password)
    if keep:
        await page.get_by_label(KEEP).check()
    await page.get_by_role("button", name="Create account").click()


async def sign_in(page: Page, app_url: str, handle: str, password: str) -> None:
    await page.goto(app_url)
    await page.get_by_label("Handle").fill(handle)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def accept_agreement(page: Page) -> None:
    """Accept the messaging agreement when the app asks for it (a client, where the operator
    published one); otherwise the conversation list is already there."""
    agree = page.get_by_role("button", name=AGREE)
    listed = page.get_by_role("heading", name="Conversations")
    await expect(agree.or_(listed).first).to_be_visible(timeout=TIMEOUT_MS)
    if await agree.is_visible():
        await agree.click()


async def open_conversation(page: Page, counterpart: str) -> None:
    """Open the chat with `counterpart` (a link named by their display name)."""
    await page.get_by_role("link", name=counterpart).first.click(timeout=TIMEOUT_MS)
    await expect(page.get_by_role("textbox", name="Message", exact=True)).to_be_visible(
        timeout=TIMEOUT_MS
    )


async def send(page: Page, text: str) -> None:
    await page.get_by_role("textbox", name="Message", exact=True).fill(text)
    await page.get_by_role("button", name="Send", exact=True).click()


async def shows(page: Page, text: str) -> None:
    """`text` appears in the page (a message in the open chat) within the time limit."""
    await expect(page.get_by_text(text, exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
