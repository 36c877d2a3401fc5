"""Every text the gateway puts in front of people: problem titles, the next step for each
problem code, and the messages of the safety rules. Plain, calm, ending with what to do.

`tests/unit/test_copy_catalogues.py` lints all of it (tests/support/copylint.py). The problem
`code` values are the contract (API.md) and never change; only these words do.
"""

from __future__ import annotations

from collections.abc import Mapping

# A short, calm title per problem code (RFC 9457 `title`).
TITLES: Mapping[str, str] = {
    "invalid_request": "Please check the request.",
    "unauthorized": "Please sign in again.",
    "forbidden": "Please use an account that may do this.",
    "not_found": "Please check what you asked for.",
    "conflict": "Please reload and check the current state.",
    "paused": "Please wait for the conversation to resume.",
    "consent_required": "Please read and accept the messaging agreement.",
    "crisis_resources_missing": "Please ask the operator to add crisis resources.",
    "device_limit": "Please replace one of your devices.",
    "device_mismatch": "Please refresh the device list and send again.",
    "bad_signature": "Please check this device's keys.",
    "clock_skew": "Please check this device's clock.",
    "payload_too_large": "Please send something smaller.",
    "quota_exceeded": "Please make room: your files use all the space allowed.",
    "length_required": "Please say how large the upload is.",
    "rate_limited": "Please wait a moment.",
    "invite_invalid": "Please ask for a new invite.",
    "reset_invalid": "Please ask your operator for a new reset code.",
    "unavailable": "Please try again shortly.",
    "method_not_allowed": "Please check the method.",
    "unsupported_media_type": "Please send JSON.",
    "internal_error": "Please try again shortly.",
}

# Appended to a problem's detail unless the detail is an entry of MESSAGES (which say it).
NEXT_STEPS: Mapping[str, str] = {
    "invalid_request": "Check the named fields and send again.",
    "unauthorized": "Sign in again, then retry.",
    "forbidden": "Ask the account that may do this, or use another action.",
    "not_found": "Check the id, or reload your list.",
    "conflict": "Reload to see the current state, then try again.",
    "paused": "Wait for the coach to resume the conversation.",
    "consent_required": "Accept the current agreement, then send again.",
    "crisis_resources_missing": "Ask the operator to add crisis resources.",
    "device_limit": "Log in with replace_device_id to retire an older device.",
    "device_mismatch": "Refresh the device list, seal the message again and resend.",
    "bad_signature": "Check this device's keys, or sign in with a new device.",
    "clock_skew": "Set this device's clock to the right time and try again.",
    "payload_too_large": "Send something smaller.",
    "quota_exceeded": "Remove messages with files you no longer need, or ask your operator.",
    "length_required": "Send the upload with a Content-Length header.",
    "rate_limited": "Wait for the time in Retry-After, then try again.",
    "invite_invalid": "Ask for a new invite.",
    "reset_invalid": "Check the handle and the code, or ask your operator for a new code.",
    "unavailable": "Try again in a moment; nothing was lost.",
    "method_not_allowed": "Check the method in the API reference.",
    "unsupported_media_type": "Send the body as application/json.",
    "internal_error": "Try again in a moment.",
}

PAUSED = (
    "Your coach has paused this conversation for now. You can read it, and sending opens"
    " again when it resumes. Wait for the coach to resume it."
)
ENDED = (
    "This conversation has ended and stays readable. Ask your coach for a new invite to talk again."
)
CONSENT_REQUIRED = (
    "Please read the messaging agreement before sending; your conversations stay readable."
    " Accept the current version, then send again."
)
CRISIS_RESOURCES_MISSING = (
    "This service is not ready to welcome clients yet. Ask the operator to add crisis"
    " resources, then try again."
)
COACH_PAUSES = (
    "Only the coach can pause or resume this conversation. Talk with your coach, or end the"
    " conversation if you need to."
)
ENDED_IS_FINAL = (
    "This conversation has ended and stays read-only. Ask for a new invite to talk again."
)
CHANGED_JUST_NOW = "This conversation changed just now. Reload it and try again."
RECORD_KEPT = (
    "This conversation has ended, so its record stays as it is for both of you. "
    "Read it or export it whenever you like."
)
RESUME_ON_PAST = "The resume date is in the past. Choose today or a later date, or leave it empty."
PANIC_FROM_DEVICE = (
    "Panic exit works from the device itself. Revoke the other device instead, or use panic"
    " exit on it."
)
AGREEMENT_VERSION_TAKEN = (
    "This version is already published with another text. Publish the change under a new version."
)
AGREEMENT_NEWER = "The agreement has a newer version. Read the current one, then accept it."
NO_AGREEMENT = "No messaging agreement is published here, so none is needed. Carry on as usual."
FIELDS_NEED_CHANGE = "Some fields need a change: {fields}. Check them and send again."
SOMETHING_WENT_WRONG = "Something went wrong on our side. Try again in a moment."
SESSION_ENDED = "This sign-in has expired or is not recognised. Sign in again."
WS_TEXT_ONLY = "This socket takes JSON text frames. Send the frame as text."
WS_NOT_A_FRAME = "That was not a frame this socket understands. Send a JSON object with a type."
WS_UNKNOWN_FRAME = "This socket does not know that frame type. Use send, ack, ping or auth."
WS_SLOW_DOWN = "Too many frames in a short time. Slow down and try again in a moment."

# The messages above, by name: what the lint reads, and what is shown without a suffix.
MESSAGES: Mapping[str, str] = {
    "paused": PAUSED,
    "ended": ENDED,
    "consent_required": CONSENT_REQUIRED,
    "crisis_resources_missing": CRISIS_RESOURCES_MISSING,
    "coach_pauses": COACH_PAUSES,
    "ended_is_final": ENDED_IS_FINAL,
    "changed_just_now": CHANGED_JUST_NOW,
    "record_kept": RECORD_KEPT,
    "resume_on_past": RESUME_ON_PAST,
    "panic_from_device": PANIC_FROM_DEVICE,
    "agreement_version_taken": AGREEMENT_VERSION_TAKEN,
    "agreement_newer": AGREEMENT_NEWER,
    "no_agreement": NO_AGREEMENT,
    "fields_need_change": FIELDS_NEED_CHANGE.format(fields="envelope"),
    "something_went_wrong": SOMETHING_WENT_WRONG,
    "session_ended": SESSION_ENDED,
    "ws_text_only": WS_TEXT_ONLY,
    "ws_not_a_frame": WS_NOT_A_FRAME,
    "ws_unknown_frame": WS_UNKNOWN_FRAME,
    "ws_slow_down": WS_SLOW_DOWN,
}
_COMPLETE = frozenset(MESSAGES.values())


def title(code: str) -> str:
    return TITLES.get(code, TITLES["invalid_request"])


def detail(code: str, text: str) -> str:
    """A problem's detail as people read it: a catalogue message as it is; any other detail
    (the specific fact, e.g. which field) as a sentence followed by the code's next step."""
    if text in _COMPLETE or text.startswith("Some fields need a change:"):
        return text
    fact = text.strip().rstrip(".")
    if not fact:
        return NEXT_STEPS.get(code, NEXT_STEPS["invalid_request"])
    fact = fact[0].upper() + fact[1:]
    return f"{fact}. {NEXT_STEPS.get(code, NEXT_STEPS['invalid_request'])}"
