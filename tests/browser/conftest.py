"""Browser fixtures: one running stack per module serving the built Haven Web, Debian's
Chromium (one per session) with fresh guarded contexts per test, people made through the
API, axe-core and screenshots. tests/browser/README.md describes each fixture."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from pymongo import AsyncMongoClient

from services.gateway.edge.webapp import DEFAULT_DIR
from tests.browser.support.axe import assert_accessible
from tests.browser.support.browser import EXIT_URL, Guard, chromium, close_quietly, guarded_context
from tests.browser.support.people import People
from tests.support import leaks
from tests.support.isolation import drop_databases, drop_topology, new_isolation
from tools.api import Api
from tools.infra import Infra
from tools.stack import Stack, running_stack, stack_env

# The shared stack's settings on top of the test defaults: what some modules need and the
# others never notice (a 2 MiB upload limit, Web Push with a loopback receiver). A module
# whose `web_overrides` are all among these runs on the shared stack.
SHARED_OVERRIDES = {
    "HAVEN_ATTACHMENT_MAX_BYTES": str(2 * 1024 * 1024),
    "HAVEN_VAPID_SUBJECT": "mailto:operator@haven.example",
    "HAVEN_PUSH_INSECURE_ALLOW_LOOPBACK": "1",
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NewContext = Callable[..., Awaitable[BrowserContext]]


def _require_build() -> None:
    if not (DEFAULT_DIR / "index.html").is_file():
        pytest.fail(f"{DEFAULT_DIR} has no build: run `make web` (make test does)", pytrace=False)


# --- the stack ----------------------------------------------------------------------------


async def _drop_names(infra: Infra, namespace: str, prefix: str) -> None:
    await drop_topology(infra.amqp_url, namespace)
    client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url)
    try:
        await drop_databases(client, prefix)
    finally:
        await client.close()


@contextlib.contextmanager
def _web_stack(
    infra: Infra, names: tuple[str, str], overrides: dict[str, str], directory: Path
) -> Iterator[Stack]:
    """The three services as processes serving the build (stopped together by `running_stack`:
    each shuts down while the others do)."""
    _require_build()
    env = stack_env(infra.amqp_url, infra.mongo_url, *names, directory)
    env = {**env, "HAVEN_WEB_EXIT_URL": EXIT_URL, **overrides}
    with running_stack(env, directory) as value:
        yield value


@contextlib.asynccontextmanager
async def _names(infra: Infra) -> AsyncIterator[tuple[str, str]]:
    """A new AMQP namespace and database prefix, removed afterwards."""
    namespace, prefix = new_isolation()
    try:
        yield namespace, prefix
    finally:
        await _drop_names(infra, namespace, prefix)


@pytest.fixture(scope="session")
async def shared_web_names(infra: Infra) -> AsyncIterator[tuple[str, str]]:
    """The shared stack's AMQP namespace and database prefix; removed after the session."""
    async with _names(infra) as names:
        yield names


@pytest.fixture(scope="session")
def shared_web_stack(
    infra: Infra,
    shared_web_names: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """One stack (SHARED_OVERRIDES) for every module of the session (of this xdist worker) that
    asks for nothing else: booting three services costs seconds, and the tests tell themselves
    apart by unique handles anyway."""
    directory = tmp_path_factory.mktemp("web_stack")
    with _web_stack(infra, shared_web_names, SHARED_OVERRIDES, directory) as value:
        yield value


@pytest.fixture(scope="module")
async def web_names(infra: Infra) -> AsyncIterator[tuple[str, str]]:
    """A module's own AMQP namespace and database prefix; removed after its last test."""
    async with _names(infra) as names:
        yield names


@pytest.fixture(scope="module")
def web_overrides() -> dict[str, str]:
    """HAVEN_* variables on top of the browser defaults; a module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def web_stack(
    infra: Infra,
    web_overrides: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Stack]:
    """The three services as processes for the module's tests, the gateway serving the build
    in clients/web/dist at /app/; tests tell themselves apart by unique handles. A module whose
    `web_overrides` the shared stack already has gets that one; any other, its own."""
    if web_overrides.items() <= SHARED_OVERRIDES.items():
        yield request.getfixturevalue("shared_web_stack")
        return
    names = request.getfixturevalue("web_names")
    directory = tmp_path_factory.mktemp("web_stack")
    with _web_stack(infra, names, web_overrides, directory) as value:
        yield value


@pytest.fixture(scope="module")
def app_url(web_stack: Stack) -> str:
    """Where Haven Web opens: http://127.0.0.1:<port>/app/."""
    return f"{web_stack.gateway_url}/app/"


@pytest.fixture
async def api(web_stack: Stack) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as http:
        yield Api(http, web_stack.gateway_url)


@pytest.fixture
def people(api: Api) -> People:
    """Operator invites, ready coaches and client invites through the API."""
    return People(api)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # Playwright's connection task outlives every test: it belongs to this fixture (set here,
    # inside the coroutine, because pytest-asyncio runs it in a context copied earlier).
    leaks.OWNER.set("session:browser")
    async with chromium() as value:
        yield value


@pytest.fixture
async def guards() -> dict[BrowserContext, Guard]:
    """The guard of every context `new_context` made in this test."""
    return {}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, object]:
    """Keeps each phase's report on the test item (for the failure screenshots below)."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


async def _failure_screenshots(contexts: list[BrowserContext], directory: Path) -> list[str]:
    paths = []
    for i, page in enumerate(p for c in contexts for p in c.pages):
        path = directory / f"failure-{i}.png"
        with contextlib.suppress(PlaywrightError):
            await page.screenshot(path=str(path))
            paths.append(f"{path} ({page.url})")
    return paths


@pytest.fixture
async def new_context(
    browser: Browser,
    guards: dict[BrowserContext, Guard],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> AsyncIterator[NewContext]:
    """`await new_context(**options)`: a fresh context (another person's browser profile).
    After the test, any uncaught page error, CSP violation or request that left 127.0.0.1 in
    any of them fails it; when the test failed, each open page is saved as a screenshot."""

    async def make(**options: object) -> BrowserContext:
        context, guard = await guarded_context(browser, **options)
        guards[context] = guard
        return context

    yield make
    call = getattr(request.node, "report_call", None)
    if call is None or call.failed:
        for line in await _failure_screenshots(list(guards), tmp_path):
            print(f"screenshot of a failed test: {line}")
    problems = [p for guard in guards.values() for p in guard.problems()]
    for context in guards:
        await close_quietly(context)
    if problems:
        pytest.fail("the browser did what it must not:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
async def page(new_context: NewContext) -> Page:
    """A page in a fresh guarded context."""
    context = await new_context()
    return await context.new_page()


@pytest.fixture
def axe() -> Callable[[Page, str], Awaitable[None]]:
    """`await axe(page, "screen name")`: fails on any serious or critical violation."""
    return assert_accessible


@pytest.fixture
def screenshot() -> Callable[[Page, str], Awaitable[Path]]:
    """`await screenshot(page, "sign-in")` writes docs/screenshots/sign-in.png (viewport)."""

    async def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=str(path), animations="disabled", caret="hide")
        return path

    return take
