"""The copy rule for every client-facing catalogue (gateway, SDK, CLI): plain, calm, and ending
with a next step. One reusable function; each component registers its catalogue in
tests/unit/test_copy_catalogues.py."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Words that alarm or blame; client-facing copy says what happened and what to do instead.
BANNED = ("error", "failed", "invalid", "denied")
# A next step starts with what the person can do.
NEXT_STEP_VERBS = frozenset(
    {
        "ask", "carry", "check", "choose", "compare", "contact", "come", "give", "leave",
        "log", "name", "open", "pick", "please", "publish", "read", "reconnect", "reload",
        "remove", "revoke", "send", "sign", "slow", "start", "stay", "sync", "talk", "try",
        "use", "wait", "accept", "call", "reach", "refresh", "keep", "add", "set",
        "register", "reply", "resend", "restart",
    }
)  # fmt: skip
_SENTENCE = re.compile(r"[^.!?]+[.!?]")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text)]


def problems(name: str, text: str) -> list[str]:
    """What is wrong with one entry (empty: it passes)."""
    found = []
    lowered = text.lower()
    for word in BANNED:
        if re.search(rf"\b{word}", lowered):
            found.append(f"{name}: says {word!r}")
    parts = sentences(text)
    if not parts or "".join(parts).replace(" ", "") != text.replace(" ", ""):
        found.append(f"{name}: not whole sentences ending in . ! or ?")
    elif parts[-1].split()[0].lower().strip(",;:") not in NEXT_STEP_VERBS:
        found.append(f"{name}: does not end with a next step ({parts[-1]!r})")
    return found


def lint_catalogue(entries: Mapping[str, str]) -> list[str]:
    """Every problem of a catalogue, for an assertion that lists them all at once."""
    return [problem for name, text in entries.items() for problem in problems(name, text)]
