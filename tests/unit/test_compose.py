"""docker-compose.yml, checked statically (no Docker engine here): least privilege between
services, pinned images, health checks, memory limits, and only the gateway published."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.broker_users import SERVICES, VHOST, user_name
from services.deploy_secrets import PASSWORDS

ROOT = Path(__file__).resolve().parents[2]
SECRETS_OF = {
    "gateway": {
        "token_signing_key",
        "receipt_signing_key",
        "gateway_amqp_password",
        "gateway_mongo_password",
    },
    "messaging": {"messaging_amqp_password", "messaging_mongo_password"},
    "notification": {
        "push_secret_key",
        "notification_amqp_password",
        "notification_mongo_password",
    },
    "rabbitmq": {"rabbitmq_definitions"},
    "mongodb": {"mongo_root_password", *(f"{s}_mongo_password" for s in SERVICES)},
    "cli": set(),
}
PINNED = {
    "rabbitmq": re.compile(r"rabbitmq:4\.\d+\.\d+-management"),
    "mongodb": re.compile(r"mongo:8\.\d+\.\d+"),
}


def _resolve(value: str) -> str:
    """`${NAME:-default}` → default, as compose does with an unset variable."""
    return re.sub(r"\$\{\w+(?::-([^}]*))?\}", lambda m: m.group(1) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert set(found) == set(SECRETS_OF)
    return found


def test_no_service_gets_a_shared_env_file(services: dict[str, dict[str, Any]]) -> None:
    assert [name for name, s in services.items() if "env_file" in s] == []


def test_each_container_gets_only_its_own_secrets(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    given = {name: set(s.get("secrets", [])) for name, s in services.items()}
    assert given == SECRETS_OF
    files = {name: Path(v["file"]).name for name, v in compose["secrets"].items()}
    made = {
        *PASSWORDS,
        "token_signing_key",
        "receipt_signing_key",
        "push_secret_key",
        "rabbitmq_definitions.json",
    }
    # Every secret is one services.deploy_secrets writes; the broker administrator's password
    # is the operator's own (its hash is in the definitions), mounted nowhere.
    assert set(files.values()) == made - {"rabbitmq_admin_password"}


def test_no_password_in_any_environment(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            text = _resolve(str(value))
            assert not re.search(r"://[^/@:]+:[^/@]+@", text), (name, key)  # no user:pw@ URLs
            if (
                re.search("PASS|SECRET|_KEY(_|$)", key)
                and key != "HAVEN_BOOTSTRAP_OPERATOR_PASSWORD"
            ):
                assert key.endswith("_FILE") and text.startswith("/run/secrets/"), (name, key)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_own_broker_and_database_user(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    env = {k: _resolve(str(v)) for k, v in services[service]["environment"].items()}
    assert env["HAVEN_AMQP_URL"] == f"amqp://{user_name(service)}@rabbitmq:5672/{VHOST}"
    assert env["HAVEN_AMQP_PASSWORD_FILE"] == f"/run/secrets/{service}_amqp_password"
    database = f"haven_{service}"
    assert env["HAVEN_MONGO_URL"] == f"mongodb://{database}@mongodb:27017/?authSource={database}"
    assert env["HAVEN_MONGO_PASSWORD_FILE"] == f"/run/secrets/{service}_mongo_password"
    assert "HAVEN_DB_PREFIX" not in env  # databases are haven_<service>, as the users are


def test_the_database_users_are_limited_to_their_own_database() -> None:
    script = (ROOT / "deploy/mongodb/create-users.js").read_text()
    assert re.search(r'\["gateway", "messaging", "notification"\]', script)
    assert "const database = `haven_${service}`;" in script
    assert 'roles: [{ role: "readWrite", db: database }]' in script
    assert "/run/secrets/${service}_mongo_password" in script


def test_the_broker_loads_its_users_from_the_definitions_secret(
    services: dict[str, dict[str, Any]],
) -> None:
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text()
    assert "load_definitions = /run/secrets/rabbitmq_definitions" in conf.splitlines()
    assert "RABBITMQ_DEFAULT_PASS" not in str(services["rabbitmq"].get("environment"))


@pytest.mark.parametrize("service", ["rabbitmq", "mongodb"])
def test_broker_and_database_images_are_pinned(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    image = _resolve(services[service]["image"])
    assert PINNED[service].fullmatch(image), image
    sample = (ROOT / ".env.example").read_text()
    variable = {"rabbitmq": "HAVEN_RABBITMQ_IMAGE", "mongodb": "HAVEN_MONGO_IMAGE"}[service]
    assert f"{variable}={image}" in sample.splitlines()  # the sample agrees with the default


def test_only_the_gateway_is_published_and_on_loopback_by_default(
    services: dict[str, dict[str, Any]],
) -> None:
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert list(published) == ["gateway"]
    assert [_resolve(p) for p in published["gateway"]] == ["127.0.0.1:8080:8080"]


def test_every_long_running_service_has_a_health_check_and_a_memory_limit(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit", ""))), name
        if "tools" in service.get("profiles", []):
            continue  # on-demand commands, not a service
        assert service["healthcheck"]["test"][0] == "CMD", name
        if name in SERVICES:
            assert service["depends_on"] == {
                "rabbitmq": {"condition": "service_healthy"},
                "mongodb": {"condition": "service_healthy"},
            }


def test_the_cli_container_has_a_network_of_its_own_that_reaches_only_the_gateway(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    cli = services["cli"]
    # Not the gateway's namespace (which sits on the backend network beside the broker and
    # the database): a network holding only the cli and the gateway, with no way out.
    assert "network_mode" not in cli
    assert cli["networks"] == ["cli"]
    on_cli = sorted(name for name, s in services.items() if "cli" in (s.get("networks") or []))
    assert on_cli == ["cli", "gateway"]
    assert compose["networks"]["cli"]["internal"] is True
    assert _resolve(cli["environment"]["HAVEN_SERVER"]) == "http://gateway:8080"


def test_the_image_builds_haven_web_from_the_lockfiles_and_serves_it() -> None:
    """Under compose the gateway serves /app/ from the image: a Node stage builds clients/web
    with `npm ci` (the committed lockfiles), the runtime image gets only dist/, and
    HAVEN_WEB_DIR points there (else /app/ answers 503)."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^FROM \$\{NODE_IMAGE\} AS web$", dockerfile, re.M)
    assert "npm ci" in dockerfile and "npm run build" in dockerfile
    assert "npm install" not in dockerfile
    copied = re.search(r"^COPY --from=web (\S+) (\S+)$", dockerfile, re.M)
    assert copied and copied.group(1).endswith("clients/web/dist")
    assert f"HAVEN_WEB_DIR={copied.group(2)}" in dockerfile
    for lockfile in ("clients/js/package-lock.json", "clients/web/package-lock.json"):
        assert (ROOT / lockfile).is_file()
    assert "**/node_modules" in (ROOT / ".dockerignore").read_text()
