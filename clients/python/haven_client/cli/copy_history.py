"""The `haven backup` and `haven link` lines: plain, calm, and ending with what to do (linted
with the other catalogues in tests/unit/test_copy_catalogues.py)."""

from __future__ import annotations

from collections.abc import Mapping

from haven_client.copy_history import ALREADY_ON as ALREADY_ON
from haven_client.copy_history import NO_HISTORY_CARRIED

SHOW_KEY_INTRO = (
    "This is your recovery key. It opens your message history on a new device, and Haven"
    " cannot show it again or reset it. Keep a written copy somewhere private."
)
CONFIRM_PROMPT = "Type the last group of four characters to confirm you wrote it down"
CONFIRM_MISMATCH = "That is not the last group of the key. Check what you wrote down and try again."
NOT_ENABLED = (
    "Backup was not turned on, and nothing was published. Start again with"
    " `haven backup enable` when you have paper at hand."
)
ENABLED = (
    "Backup is on: every message from now on can be read again with your recovery key."
    " Keep the key somewhere private."
)
REPLACED = (
    "Your new recovery key is in place, and messages from now on use it. Keep the new key"
    " somewhere private, and destroy the old one: it still opens the messages sent before."
)
RESTORED = (
    "Restored {opened} messages from {conversations} conversations on this device. Read them"
    " with `haven history CONVERSATION`."
)
RESTORED_UNVERIFIED = (
    "{count} messages could not be verified and are shown as such, never as text. Ask the"
    " sender to send anything important again."
)
DISABLE_QUESTION = (
    "Turn backup off? Messages from now on will not be readable with your recovery key"
)
DISABLED = (
    "Backup is off. Messages already sent stay readable with your old recovery key. Keep it"
    " private, or destroy it."
)
STATUS_OFF = "Backup is off. Use `haven backup enable` to turn it on."
STATUS_ON = (
    "Backup is on; this device does not hold the backup key. Use your recovery key to restore"
    " history on a new device."
)
STATUS_ON_HERE = (
    "Backup is on, and this device holds the backup key. Use `haven link` here to approve a"
    " new device."
)
LINK_THIS_DEVICE = (
    "This device is {device_id}. Use `haven link {device_id}` on a device you already use,"
    " and compare the code."
)
LINK_COMPARE_NEW = "On {name} ({device_id}) you should see this code: {code}"
LINK_WAITING = (
    "Waiting for your approval on the other device. Leave with Ctrl-C if you want to stop."
)
LINK_NO_OTHER = (
    "Your account has no other signed-in device to approve this one. Use `haven backup"
    " restore` to restore your history instead."
)
LINKED = "Linked: this device can now read your history. Read it with `haven history CONVERSATION`."
LINK_COMPARE = "Compare this code with the one on your new device ({name}): {code}"
LINK_QUESTION = "Do both devices show the same code?"
LINK_MISMATCH = (
    "The codes differ, so nothing was sent. Check that you picked the right device, and sign"
    " the new device out if you do not know it."
)
APPROVED = "Approved: {name} can now read your history. Check it on that device."
APPROVED_LINKED = "Approved: {name} is linked."
APPROVED_NO_HISTORY = APPROVED_LINKED + " " + NO_HISTORY_CARRIED
PICK_DEVICE = "Which device do you want to approve?"
NO_OTHER_DEVICE = (
    "There is no other signed-in device on your account yet. Sign in on the new device first,"
    " then run `haven link` again."
)

PASSWORD_SET = (
    "Your new password is set and every earlier session has ended; your keys and history are"  # noqa: S105
    " unchanged. Sign in again with `haven login`."
)

NEW_DEVICE_HISTORY = (
    "This device is new, so it reads messages from now on. Use `haven link --wait` to have"
    " another of your devices approve it, or `haven backup restore`, to read earlier ones."
)

CATALOGUE: Mapping[str, str] = {
    "new_device_history": NEW_DEVICE_HISTORY,
    "password_set": PASSWORD_SET,
    "already_on": ALREADY_ON,
    "show_key_intro": SHOW_KEY_INTRO,
    "confirm_mismatch": CONFIRM_MISMATCH,
    "not_enabled": NOT_ENABLED,
    "enabled": ENABLED,
    "replaced": REPLACED,
    "restored": RESTORED,
    "restored_unverified": RESTORED_UNVERIFIED,
    "disabled": DISABLED,
    "status_off": STATUS_OFF,
    "status_on": STATUS_ON,
    "status_on_here": STATUS_ON_HERE,
    "link_this_device": LINK_THIS_DEVICE,
    "link_waiting": LINK_WAITING,
    "link_no_other": LINK_NO_OTHER,
    "linked": LINKED,
    "link_mismatch": LINK_MISMATCH,
    "approved": APPROVED,
    "approved_no_history": APPROVED_NO_HISTORY,
    "no_other_device": NO_OTHER_DEVICE,
}
