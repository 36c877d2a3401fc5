"""Every problem and notice line the `haven` and `haven-admin` commands show, in one catalogue:
plain, calm, and ending with what to do (linted by tests/unit/test_copy_catalogues.py)."""

from __future__ import annotations

from collections.abc import Mapping

STACK_DOWN = (
    "The Haven server at {url} does not answer. Check that it runs (`make up`) and that the"
    " address is right."
)
REVOKED = (
    "This device is signed out: it was signed out or revoked from another device or by an"
    " operator. Sign in again with `haven login`."
)
EXPIRED = "Your session has expired. Sign in again with `haven login`."
WRONG_PASSWORD = "That handle and password do not match. Check them and try again."  # noqa: S105
NOT_SIGNED_IN = "This device is not signed in yet. Sign in with `haven login`."
KEYSTORE_IN_USE = (
    "This device's keystore is open in another haven process, such as a chat. Send from that"
    " chat, or close it first."
)
KEYSTORE_NOT_OPENED = (
    "That passphrase does not open this keystore. Try again with the one you chose."
)
NO_KEYSTORE = "There is no keystore at {path} yet. Sign in with `haven login` to create it."
UNKNOWN_CONVERSATION = (
    "There is no conversation {conversation_id} on this device. Check `haven conversations`."
)
CANNOT_INVITE = (
    "Only coaches (for clients) and operators (for coaches) can invite. Ask your coach or"
    " operator for an invite."
)
EMPTY_MESSAGE = "There is nothing to send yet. Add some text first."
EDITOR_CANCELLED = "The editor closed without saving a message. Start `haven send` again."
NOT_SENT = "Not sent ({detail}). Try again in a moment."
NOT_STORED = "A message could not be stored by the server. Send it again."
CONNECTION_LOST = "The connection dropped and Haven is reconnecting. Wait a moment."
CHAT_CLOSED = "The server closed this chat ({reason}). Start it again with `haven chat`."
CHAT_HELP = (
    "Enter sends; /urgent TEXT marks a message urgent and shows crisis resources at once."
    " Use /quit or Ctrl-D to leave."
)
UNKNOWN_COMMAND = "That is not a chat command. Use /help to see them."
OTHER_CONVERSATION = "A new message arrived in another conversation. Open it with `haven chat`."
KEYS_CHANGED = (
    "{name}'s security keys changed, which happens with a new device. Compare safety numbers"
    " with `haven safety-number` before you continue."
)
RESUMED = "This conversation is open again. Send whenever you are ready."
CRISIS_TITLE = "Reach out now if you are in danger or in crisis."
CRISIS_SUBTITLE = "Your coach may not see this at once. Reach one of these now."
NO_CRISIS_RESOURCES = (
    "No crisis resources are set on this server. Call your local emergency number if you are"
    " in danger."
)
NOT_AN_OPERATOR = "The account {handle} is not an operator. Sign in with an operator account."
NO_SUCH_ACCOUNT = "There is no account {account}. Check `haven-admin accounts list`."
UNREADABLE_FILE = "The file {path} cannot be read ({reason}). Check the path and try again."
NOT_JSON = "The file {path} is not JSON ({reason}). Check its contents and try again."
NOT_RESOURCES = "The file needs a list of resources under the key resources. Check its contents."

CATALOGUE: Mapping[str, str] = {
    "stack_down": STACK_DOWN,
    "revoked": REVOKED,
    "expired": EXPIRED,
    "wrong_password": WRONG_PASSWORD,
    "not_signed_in": NOT_SIGNED_IN,
    "keystore_in_use": KEYSTORE_IN_USE,
    "keystore_not_opened": KEYSTORE_NOT_OPENED,
    "no_keystore": NO_KEYSTORE,
    "unknown_conversation": UNKNOWN_CONVERSATION,
    "cannot_invite": CANNOT_INVITE,
    "empty_message": EMPTY_MESSAGE,
    "editor_cancelled": EDITOR_CANCELLED,
    "not_sent": NOT_SENT,
    "not_stored": NOT_STORED,
    "connection_lost": CONNECTION_LOST,
    "chat_closed": CHAT_CLOSED,
    "chat_help": CHAT_HELP,
    "unknown_command": UNKNOWN_COMMAND,
    "other_conversation": OTHER_CONVERSATION,
    "keys_changed": KEYS_CHANGED,
    "resumed": RESUMED,
    "crisis_title": CRISIS_TITLE,
    "crisis_subtitle": CRISIS_SUBTITLE,
    "no_crisis_resources": NO_CRISIS_RESOURCES,
    "not_an_operator": NOT_AN_OPERATOR,
    "no_such_account": NO_SUCH_ACCOUNT,
    "unreadable_file": UNREADABLE_FILE,
    "not_json": NOT_JSON,
    "not_resources": NOT_RESOURCES,
}
