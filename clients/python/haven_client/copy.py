"""Every line the SDK shows people, in one catalogue: plain, calm, and ending with what to do.

Apps may show these as they are. ``tests/unit/test_copy_catalogues.py`` lints each entry
(tests/support/copylint.py): no alarming words, and the last sentence is a next step.
"""

from __future__ import annotations

from collections.abc import Mapping

PREDATES_DEVICE = (
    "This message was sent before this device was added, so it cannot be opened here."
    " Read it on one of your earlier devices."
)
MESSAGE_UNREADABLE = (
    "This message could not be opened on this device. Ask the sender to send it again."
)
KEY_CHANGE_NOTICE = (
    "Their security keys changed, which happens with a new phone. Compare safety numbers"
    " before you continue."
)
PAUSED = (
    "This conversation is paused for now, and you can still read it. Wait for it to resume to"
    " send again."
)
ENDED = "This conversation has ended and stays readable. Ask for a new invite to talk again."
CONSENT_REQUIRED = (
    "Please read the messaging agreement first. Accept it to send; your conversations stay"
    " readable meanwhile."
)
SENDING_SHORTLY = "Sending shortly. Stay on this screen, or come back in a moment."
URGENT_ATTEMPT = (
    "Your client tried to send an urgent message while this conversation is paused; its words"
    " were not delivered. Check in with them when you can, or resume the conversation."
)
PANIC_DONE = (
    "This device is signed out and its local data is gone. Use a new keystore to sign in again."
)

# Neutral reasons a coach may give when pausing (shown to the client as written).
PAUSE_TEMPLATES: Mapping[str, str] = {
    "time_off": "I'm taking some time off. I'll be back in touch when I return.",
    "capacity": "I need to pause our messages for a while. I'll reach out when we can resume.",
    "between_sessions": "Let's hold our messages until our next session. See you then.",
    "check_in": "I'm pausing our messages for now. Let's talk about next steps when we meet.",
}

# What the SDK itself shows; the lint reads exactly this.
CATALOGUE: Mapping[str, str] = {
    "predates_device": PREDATES_DEVICE,
    "message_unreadable": MESSAGE_UNREADABLE,
    "key_change_notice": KEY_CHANGE_NOTICE,
    "paused": PAUSED,
    "ended": ENDED,
    "consent_required": CONSENT_REQUIRED,
    "sending_shortly": SENDING_SHORTLY,
    "urgent_attempt": URGENT_ATTEMPT,
    "panic_done": PANIC_DONE,
}
