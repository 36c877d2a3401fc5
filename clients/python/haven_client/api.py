"""Typed calls of API.md, one method per endpoint; no crypto or policy, just the wire."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from haven_client.models import (
    Account,
    AccountDevices,
    Agreement,
    Availability,
    CoachAvailability,
    Conversation,
    ConversationSettings,
    CrisisResource,
    DeviceDetail,
    HistoryPage,
    Invite,
    Me,
    NotificationSettings,
    PushStatus,
    SendAccepted,
    Session,
)
from haven_client.transport import Transport


def _seg(value: str) -> str:
    """Ids go into paths escaped: a hostile id must never change the route."""
    return quote(value, safe="")


class HavenApi:
    """The gateway's endpoints; ``transport`` handles auth, refresh and problem+json."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def register(
        self, handle: str, password: str, invite_code: str, display_name: str | None
    ) -> Account:
        body: dict[str, Any] = {"handle": handle, "password": password, "invite_code": invite_code}
        if display_name is not None:
            body["display_name"] = display_name
        return Account.model_validate(
            await self.transport.request("POST", "/v1/accounts", json=body, auth=False)
        )

    async def login(self, body: dict[str, Any]) -> Session:
        return Session.model_validate(
            await self.transport.request("POST", "/v1/sessions", json=body, auth=False)
        )

    async def logout(self) -> None:
        await self.transport.request("DELETE", "/v1/sessions/current")

    async def change_password(self, current: str, new: str, *, revoke_other_devices: bool) -> None:
        body = {
            "current_password": current,
            "new_password": new,
            "revoke_other_devices": revoke_other_devices,
        }
        await self.transport.request("PUT", "/v1/me/password", json=body)

    async def me(self) -> Me:
        return Me.model_validate(await self.transport.request("GET", "/v1/me"))

    async def account_devices(self, account_id: str) -> AccountDevices:
        path = f"/v1/accounts/{_seg(account_id)}/devices"
        return AccountDevices.model_validate(await self.transport.request("GET", path))

    async def device(self, device_id: str) -> DeviceDetail:
        path = f"/v1/devices/{_seg(device_id)}"
        return DeviceDetail.model_validate(await self.transport.request("GET", path))

    async def revoke_device(self, device_id: str) -> None:
        await self.transport.request("DELETE", f"/v1/devices/{_seg(device_id)}")

    async def rotate_kx(self, device_id: str, kx_key: str, kx_signature: str) -> None:
        body = {"kx_key": kx_key, "kx_signature": kx_signature}
        await self.transport.request("PUT", f"/v1/devices/{_seg(device_id)}/kx", json=body)

    async def conversations(self) -> list[Conversation]:
        body = await self.transport.request("GET", "/v1/conversations")
        return [Conversation.model_validate(item) for item in body["conversations"]]

    async def create_invite(self, kind: str) -> Invite:
        body = await self.transport.request("POST", "/v1/invites", json={"kind": kind})
        return Invite.model_validate(body)

    async def accept_invite(self, code: str) -> str:
        body = await self.transport.request("POST", "/v1/invites/accept", json={"code": code})
        return str(body["conversation_id"])

    async def end_conversation(self, conversation_id: str) -> None:
        await self.transport.request("POST", f"/v1/conversations/{_seg(conversation_id)}/end")

    async def pause_conversation(
        self, conversation_id: str, reason: str | None, resume_on: str | None
    ) -> None:
        body = {"reason": reason, "resume_on": resume_on}
        await self.transport.request(
            "POST", f"/v1/conversations/{_seg(conversation_id)}/pause", json=body
        )

    async def resume_conversation(self, conversation_id: str) -> None:
        await self.transport.request("POST", f"/v1/conversations/{_seg(conversation_id)}/resume")

    async def set_conversation_settings(
        self, conversation_id: str, changes: dict[str, Any]
    ) -> ConversationSettings:
        path = f"/v1/conversations/{_seg(conversation_id)}/settings"
        return ConversationSettings.model_validate(
            await self.transport.request("PUT", path, json=changes)
        )

    async def agreement(self) -> Agreement:
        return Agreement.model_validate(await self.transport.request("GET", "/v1/agreement"))

    async def accept_agreement(self, version: str) -> Agreement:
        body = {"version": version}
        return Agreement.model_validate(
            await self.transport.request("POST", "/v1/agreement/accept", json=body)
        )

    async def withdraw_agreement(self) -> None:
        await self.transport.request("POST", "/v1/agreement/withdraw")

    async def publish_agreement(self, version: str, text: str) -> Agreement:
        body = {"version": version, "text": text}
        return Agreement.model_validate(
            await self.transport.request("PUT", "/v1/admin/agreement", json=body)
        )

    async def panic(self, device_id: str) -> None:
        await self.transport.request("POST", f"/v1/devices/{_seg(device_id)}/panic")

    async def post_message(
        self,
        conversation_id: str,
        envelope: dict[str, Any],
        attachment_ids: list[str] | None = None,
    ) -> SendAccepted:
        path = f"/v1/conversations/{_seg(conversation_id)}/messages"
        request: dict[str, Any] = {"envelope": envelope}
        if attachment_ids:
            request["attachment_ids"] = attachment_ids  # uploads this message refers to
        body = await self.transport.request("POST", path, json=request)
        return SendAccepted.model_validate(body)

    async def history(
        self,
        conversation_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> HistoryPage:
        if (after_seq is None) == (before_seq is None):
            raise ValueError("give exactly one of after_seq and before_seq")
        params = {"limit": str(limit)}
        if after_seq is not None:
            params["after_seq"] = str(after_seq)
        if before_seq is not None:
            params["before_seq"] = str(before_seq)
        path = f"/v1/conversations/{_seg(conversation_id)}/messages"
        return HistoryPage.model_validate(await self.transport.request("GET", path, params=params))

    async def delete_message(self, conversation_id: str, message_id: str) -> None:
        path = f"/v1/conversations/{_seg(conversation_id)}/messages/{_seg(message_id)}"
        await self.transport.request("DELETE", path)

    async def mark_read(self, conversation_id: str, up_to_seq: int) -> None:
        path = f"/v1/conversations/{_seg(conversation_id)}/read"
        await self.transport.request("POST", path, json={"up_to_seq": up_to_seq})

    async def crisis_resources(self) -> list[CrisisResource]:
        body = await self.transport.request("GET", "/v1/crisis-resources", auth=False)
        return [CrisisResource.model_validate(item) for item in body["resources"]]

    # --- notifications and boundaries ------------------------------------------------------

    async def set_push(self, device_id: str, url: str, secret: str) -> PushStatus:
        path = f"/v1/devices/{_seg(device_id)}/push"
        body = await self.transport.request("PUT", path, json={"url": url, "secret": secret})
        return PushStatus.model_validate(body)

    async def push(self, device_id: str) -> PushStatus:
        path = f"/v1/devices/{_seg(device_id)}/push"
        return PushStatus.model_validate(await self.transport.request("GET", path))

    async def remove_push(self, device_id: str) -> None:
        await self.transport.request("DELETE", f"/v1/devices/{_seg(device_id)}/push")

    async def notification_settings(self) -> NotificationSettings:
        body = await self.transport.request("GET", "/v1/me/notification-settings")
        return NotificationSettings.model_validate(body)

    async def set_notification_settings(
        self, settings: NotificationSettings
    ) -> NotificationSettings:
        body = await self.transport.request(
            "PUT", "/v1/me/notification-settings", json=settings.model_dump(mode="json")
        )
        return NotificationSettings.model_validate(body)

    async def set_availability(self, availability: Availability) -> CoachAvailability:
        body = await self.transport.request(
            "PUT", "/v1/me/availability", json=availability.model_dump(mode="json")
        )
        return CoachAvailability.model_validate(body)

    async def availability(self, account_id: str) -> CoachAvailability:
        path = f"/v1/accounts/{_seg(account_id)}/availability"
        return CoachAvailability.model_validate(await self.transport.request("GET", path))
