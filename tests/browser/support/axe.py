"""axe-core (tests/browser/package.json) run inside a page: serious or critical violations
fail the test, each reported with its rule, help text and the elements concerned."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING = {"serious", "critical"}


@cache
def _source() -> str:
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `make web` (npm ci in tests/browser)")
    return AXE.read_text()


async def axe_violations(page: Page, impacts: set[str] = FAILING) -> list[dict[str, Any]]:
    """The page's violations of `impacts`. axe is evaluated through the DevTools protocol, which
    the page's CSP does not govern, so the policy under test stays as strict as served."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(_source())
    result: dict[str, Any] = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        TAGS,
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [json.dumps(n["target"]) for n in v["nodes"][:5]]
        lines.append(f"{v['impact']} {v['id']}: {v['help']} — {', '.join(targets)}")
    return "\n".join(lines)


async def assert_accessible(page: Page, screen: str) -> None:
    """Fail when axe finds a serious or critical violation on the screen shown now."""
    found = await axe_violations(page)
    assert not found, f"axe on {screen!r} ({page.url}):\n{describe(found)}"
