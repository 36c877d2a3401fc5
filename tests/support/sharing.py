"""One in-process stack for all the tests of a module that asks for it, instead of one each.

A module opts in with a module-level `SHARED_STACK = {...}` (its environment on top of the test
defaults, often `{}`): then `app_stack`, `isolation`, `stack_environment`, `clean_broker` and
`mongo_client` of its tests are the module's, set up before its first test and removed after
its last (as aio-pika's tests share a connection and clean up per fixture). Its tests tell
themselves apart by their own handles, never by assuming an empty database; the stack's log
lines are cleared after each test, so a test sees its own (the first one also start-up's).
A test that changes the stack's environment (parametrizing `stack_overrides`) or is marked
`fresh_stack` still gets a stack of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

ATTRIBUTE = "SHARED_STACK"


def shares_stack(request: pytest.FixtureRequest) -> bool:
    """Whether this test runs on its module's shared stack."""
    if getattr(request.module, ATTRIBUTE, None) is None:
        return False
    if request.node.get_closest_marker("fresh_stack") is not None:
        return False
    callspec: Any = getattr(request.node, "callspec", None)
    return callspec is None or "stack_overrides" not in callspec.params


def module_overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    return dict(getattr(request.module, ATTRIBUTE, None) or {})
