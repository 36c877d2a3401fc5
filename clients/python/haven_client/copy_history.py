"""The SDK's lines for history on a new device, password resets and device expiry: plain, calm,
and ending with what to do (linted with the other catalogues, tests/unit/test_copy_catalogues.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from haven_crypto.backup import CALM_TYPO

RECOVERY_KEY_TYPO = CALM_TYPO
WRONG_RECOVERY_KEY = (
    "This recovery key does not match your account's backup, so nothing was opened or kept."
    " Check that it is the latest one you wrote down and try again."
)
NO_BACKUP = (
    "No backup of your account opens with this recovery key, so nothing was restored. Check"
    " the key you wrote down, or set up backup on a device you already use."
)
NO_HISTORY_CARRIED = (
    "This device will read new messages. Messages from before it was added stay on your other"
    " devices. Keep one of them if you want to read those."
)
BACKUP_KEY_NOT_HERE = (
    "This device does not hold your backup key, so the new device reads new messages only."
    " Use your recovery key there to restore history."
)
RESTORE_HERE = (
    "Your other device does not hold your backup key, so this device reads new messages only."
    " Use your recovery key here to restore earlier ones."
)
LINK_REFUSED = (
    "That link did not come from one of your own devices, so nothing was kept. Start linking"
    " again from a device you are signed in on."
)
NOT_OWN_DEVICE = (
    "That device is not one of yours, so nothing was sent. Check the device id shown on your"
    " new device and try again."
)
NO_LINK_YET = (
    "No approval has arrived from your other device yet. Check that you approved this"
    " device there, then try again."
)
UNTRUSTED_BACKUP = (
    "{name}'s backup key is not signed by any of their devices, so your message was not sent."
    " Ask them to turn their backup off and on again, then send it again."
)
PASSWORD_RESET_OWN = (
    "Your password was changed, and every session was signed out; your keys and messages are"  # noqa: S105
    " unchanged. Sign in again with the new password."
)
PASSWORD_RESET_OTHER = (
    "{name} set a new password; their keys and your conversation are unchanged. Keep writing"  # noqa: S105
    " as usual."
)
DEVICE_EXPIRING = (
    "This device will be signed out on {date} unless it is used. Open Haven before then to keep it."
)
ALREADY_ON = (
    "Backup is already on for your account. Keep using your recovery key, and replace it"
    " only if you lost it."
)
LINK_ARRIVED = "Another of your devices approved this one. Wait a moment while it is set up."

CATALOGUE: Mapping[str, str] = {
    "recovery_key_typo": RECOVERY_KEY_TYPO,
    "wrong_recovery_key": WRONG_RECOVERY_KEY,
    "no_backup": NO_BACKUP,
    "no_history_carried": NO_HISTORY_CARRIED,
    "backup_key_not_here": BACKUP_KEY_NOT_HERE,
    "restore_here": RESTORE_HERE,
    "link_refused": LINK_REFUSED,
    "not_own_device": NOT_OWN_DEVICE,
    "no_link_yet": NO_LINK_YET,
    "untrusted_backup": UNTRUSTED_BACKUP.format(name="Sam"),
    "password_reset_own": PASSWORD_RESET_OWN,
    "password_reset_other": PASSWORD_RESET_OTHER.format(name="Sam"),
    "device_expiring": DEVICE_EXPIRING.format(date="1 March"),
    "link_arrived": LINK_ARRIVED,
    "already_on": ALREADY_ON,
}
