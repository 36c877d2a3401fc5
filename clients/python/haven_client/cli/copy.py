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
NOT_SENT = "Your message did not go out this time. Send it again with /retry in a moment."
PAUSED_NOT_SENT = (
    "This conversation is paused, so your message was not delivered. Wait for it to resume,"
    " then send it with /retry."
)
ENDED_NOT_SENT = (
    "This conversation has ended, so your message was not delivered. Ask for a new invite to"
    " talk again."
)
AGREEMENT_NOT_SENT = (
    "Your message waits for the messaging agreement. Read and accept it with"
    " `haven agreement accept`, then send it with /retry."
)
KEYS_NOT_SENT = (
    "{name}'s security keys changed, so your message is held here. Compare safety numbers,"
    " then run `haven acknowledge` and send it with /retry."
)
URGENT_NOT_DELIVERED = (
    "This urgent message was not delivered, and your coach has not been told. Reach one of"
    " the resources below if you need someone now."
)
URGENT_NOT_DELIVERED_COACH_TOLD = (
    "This urgent message was not delivered; your coach gets a notice that you tried, without"
    " its words. Reach one of the resources below if you need someone now."
)
DRAFT_KEPT = "Your message is kept as a draft here. Send it with /retry when you are ready."
NO_DEVICE = (
    "{name} has no signed-in device right now; they will see new messages when they sign in"
    " again. Keep writing whenever you like."
)
SENDING_REST = "Sending the rest in a few seconds. Keep writing if you like."
SAFETY_MISMATCH = (
    "These numbers don't match. Don't share anything sensitive until you have compared them"
    " with {name} another way. Check the digits for a typo and try again."
)
SAFETY_VERIFIED = (
    "These numbers match, so {name} is verified on this device. Compare again only if Haven"
    " tells you their keys changed."
)
UNEXPECTED = (
    "Haven stopped because of something unexpected, and the details are in {log}. Try again,"
    " and share that file with your operator if it keeps happening."
)
NOT_FOR_EMERGENCIES = (
    "Haven is not for emergencies, and replies can take a while. Reach one of these any time"
    " if you need someone now:"
)
NEW_SIGN_IN = (
    "New sign-in on your account: {device}. Check `haven devices`, and revoke it there if it"
    " was not you."
)
RETENTION_CHANGED = (
    "Messages in this conversation now disappear after {days} days. Check `haven settings`"
    " to see both of your wishes."
)
RETENTION_KEPT = (
    "Messages in this conversation are now kept until deleted. Check `haven settings` to"
    " see both of your wishes."
)
EARLIER_UNREADABLE = (
    "{count} earlier messages were sent before this device was added, so they cannot be"
    " opened here. Use `haven backup restore` if your account has a backup, or read them on an"
    " earlier device."
)
NO_SUCH_MESSAGE = "There is no message {message_id} here. Check `haven history --json`."
AMBIGUOUS_HANDLE = (
    "You have more than one conversation with {handle}. Use a conversation id from"
    " `haven conversations`."
)
PASSWORD_RULE = (
    "Your password needs at least 10 characters; a few unrelated words work well. Choose one"  # noqa: S105
    " you use nowhere else."
)
PASSPHRASE_RULE = (
    "The keystore passphrase protects this device's keys and never leaves it; it is not your"  # noqa: S105
    " account password. Choose one you will remember, because Haven cannot reset it."
)
PASSPHRASES_DIFFER = "The two passphrases differ. Start again and type the same one twice."
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
CRISIS_TITLE = "If you'd like to talk to someone right now, these are open any time."
CRISIS_SUBTITLE = "Call your local emergency number if you are in danger."
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
    "paused_not_sent": PAUSED_NOT_SENT,
    "ended_not_sent": ENDED_NOT_SENT,
    "agreement_not_sent": AGREEMENT_NOT_SENT,
    "keys_not_sent": KEYS_NOT_SENT,
    "urgent_not_delivered": URGENT_NOT_DELIVERED,
    "urgent_not_delivered_coach_told": URGENT_NOT_DELIVERED_COACH_TOLD,
    "draft_kept": DRAFT_KEPT,
    "no_device": NO_DEVICE,
    "sending_rest": SENDING_REST,
    "safety_mismatch": SAFETY_MISMATCH,
    "safety_verified": SAFETY_VERIFIED,
    "unexpected": UNEXPECTED,
    "new_sign_in": NEW_SIGN_IN,
    "retention_changed": RETENTION_CHANGED,
    "retention_kept": RETENTION_KEPT,
    "earlier_unreadable": EARLIER_UNREADABLE,
    "no_such_message": NO_SUCH_MESSAGE,
    "ambiguous_handle": AMBIGUOUS_HANDLE,
    "password_rule": PASSWORD_RULE,
    "passphrase_rule": PASSPHRASE_RULE,
    "passphrases_differ": PASSPHRASES_DIFFER,
    "not_stored": NOT_STORED,
    "connection_lost": CONNECTION_LOST,
    "chat_closed": CHAT_CLOSED,
    "chat_help": CHAT_HELP,
    "unknown_command": UNKNOWN_COMMAND,
    "other_conversation": OTHER_CONVERSATION,
    "keys_changed": KEYS_CHANGED,
    "resumed": RESUMED,
    # The crisis box is read as one: an offer (title), then the emergency line (subtitle).
    "crisis_box": f"{CRISIS_TITLE} {CRISIS_SUBTITLE}",
    # Shown with the resources listed right after it.
    "not_for_emergencies": NOT_FOR_EMERGENCIES.removesuffix(":") + ".",
    "no_crisis_resources": NO_CRISIS_RESOURCES,
    "not_an_operator": NOT_AN_OPERATOR,
    "no_such_account": NO_SUCH_ACCOUNT,
    "unreadable_file": UNREADABLE_FILE,
    "not_json": NOT_JSON,
    "not_resources": NOT_RESOURCES,
}
