"""docker-compose.cluster.yml on top of docker-compose.yml, checked statically (no Docker
engine here): three RabbitMQ nodes that form one cluster with quorum defaults, a three-member
MongoDB replica set with keyfile authentication and an init step, the Haven services pointed
at all of them (writing with w=majority), and the least-privilege rules of the single-node
file still true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.broker_users import SERVICES, VHOST, user_name
from services.deploy_secrets import ensure
from shared.settings import CommonSettings
from shared.urls import amqp_nodes, node_address
from tests.unit.test_compose import PINNED, ROOT, SECRETS_OF, _resolve

RABBITMQ_NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
MONGODB_MEMBERS = ("mongodb", "mongodb-2", "mongodb-3")
CLUSTER_SECRETS = {
    **SECRETS_OF,
    **{node: {"rabbitmq_definitions", "rabbitmq_erlang_cookie"} for node in RABBITMQ_NODES},
    "mongodb": SECRETS_OF["mongodb"] | {"mongo_keyfile"},
    "mongodb-2": {"mongo_keyfile"},
    "mongodb-3": {"mongo_keyfile"},
    "mongodb-init": {"mongo_root_password"},
}
REPLACED = {"command", "entrypoint", "test"}  # compose replaces these lists; merges the others


def merge(base: Any, override: Any, key: str = "") -> Any:
    """What `docker compose -f base -f override` makes of two values (the parts this file
    uses): mappings merge, `command`-like lists are replaced, other lists are joined."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = merge(base[name], value, name) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in REPLACED:
        return base + [item for item in override if item not in base]
    return override


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cluster = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())
    merged = merge(base, cluster)
    assert isinstance(merged, dict)
    return merged


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    assert set(found) == set(CLUSTER_SECRETS)
    return found


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: _resolve(str(v)) for k, v in (service.get("environment") or {}).items()}


def test_each_container_gets_only_its_own_secrets_and_every_one_is_made(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    assert {name: set(s.get("secrets", [])) for name, s in services.items()} == CLUSTER_SECRETS
    made = set(ensure(tmp_path))
    files = {Path(v["file"]).name for v in compose["secrets"].values()}
    assert files <= made
    cookie = (tmp_path / "rabbitmq_erlang_cookie").read_text()
    assert re.fullmatch(r"[A-Z0-9]{64}", cookie)
    keyfile = (tmp_path / "mongo_keyfile").read_text()
    assert re.fullmatch(r"[A-Za-z0-9+/=]{6,1024}", keyfile)


def test_the_three_broker_nodes_form_one_cluster_with_quorum_defaults(
    services: dict[str, dict[str, Any]],
) -> None:
    conf = (ROOT / "deploy/rabbitmq/cluster.conf").read_text()
    settings = dict(
        line.split(" = ", 1) for line in conf.splitlines() if line and not line.startswith("#")
    )
    assert settings["cluster_formation.peer_discovery_backend"] == "classic_config"
    listed = sorted(v for k, v in settings.items() if k.startswith("cluster_formation.classic"))
    assert listed == [f"rabbit@{node}" for node in RABBITMQ_NODES]
    assert settings["default_queue_type"] == "quorum"
    assert settings["quorum_queue.continuous_membership_reconciliation.target_group_size"] == "3"
    assert settings["cluster_partition_handling"] == "pause_minority"
    volumes = set()
    for node in RABBITMQ_NODES:
        service = services[node]
        assert service["hostname"] == node  # the node name, hence its data directory, is fixed
        assert PINNED["rabbitmq"].fullmatch(_resolve(service["image"]))
        mounts = service["volumes"]
        assert "./deploy/rabbitmq/cluster.conf:/etc/rabbitmq/conf.d/95-haven-cluster.conf:ro" in (
            mounts
        )
        assert "./deploy/rabbitmq/rabbitmq.conf:/etc/rabbitmq/conf.d/90-haven.conf:ro" in mounts
        [data] = [m for m in mounts if m.endswith(":/var/lib/rabbitmq")]
        volumes.add(data)
        # The shared cookie, owner-only as Erlang demands, before the node starts.
        script = service["command"][-1]
        assert "install -m 0400 -o rabbitmq -g rabbitmq /run/secrets/rabbitmq_erlang_cookie" in (
            script
        )
        assert script.endswith("exec docker-entrypoint.sh rabbitmq-server")
    assert len(volumes) == 3  # a data volume each


def test_the_three_database_members_are_one_replica_set_with_keyfile_authentication(
    services: dict[str, dict[str, Any]],
) -> None:
    volumes = set()
    for member in MONGODB_MEMBERS:
        service = services[member]
        assert PINNED["mongodb"].fullmatch(_resolve(service["image"]))
        script = service["command"][-1]
        assert "install -m 0400 -o mongodb -g mongodb /run/secrets/mongo_keyfile" in script
        assert re.search(r"mongod --replSet rs0 --keyFile /data/keyfile\b", script)
        [data] = [m for m in service.get("volumes", []) if m.endswith(":/data/db")]
        volumes.add(data)
    assert len(volumes) == 3
    # Only the first member creates the users (on its first start); the others copy them.
    assert "MONGO_INITDB_ROOT_USERNAME" in env_of(services["mongodb"])
    for member in MONGODB_MEMBERS[1:]:
        assert not env_of(services[member])
        assert not any("create-users" in m for m in services[member].get("volumes", []))


def test_a_one_shot_initiates_the_replica_set_once_all_members_run(
    services: dict[str, dict[str, Any]],
) -> None:
    init = services["mongodb-init"]
    assert init["restart"] == "no"
    assert init["depends_on"] == {m: {"condition": "service_healthy"} for m in MONGODB_MEMBERS}
    assert init["command"][-1] == "/etc/haven/init-replica-set.js"
    assert (
        "./deploy/mongodb/init-replica-set.js:/etc/haven/init-replica-set.js:ro"
        in (init["volumes"])
    )
    script = (ROOT / "deploy/mongodb/init-replica-set.js").read_text()
    assert 'const SET = "rs0";' in script
    assert 'const MEMBERS = ["mongodb:27017", "mongodb-2:27017", "mongodb-3:27017"];' in script
    assert 'readFileSync("/run/secrets/mongo_root_password"' in script  # never argv
    assert "rs.initiate(" in script and "NotYetInitialized" in script  # once only
    assert not any("password" in str(arg).lower() for arg in init["command"])


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_uses_every_node_and_the_replica_set_with_majority_writes(
    services: dict[str, dict[str, Any]], service: str, tmp_path: Path
) -> None:
    env = env_of(services[service])
    nodes = amqp_nodes(env["HAVEN_AMQP_URL"])
    assert [node_address(n) for n in nodes] == [f"{node}:5672" for node in RABBITMQ_NODES]
    assert set(nodes) == {f"amqp://{user_name(service)}@{n}:5672/{VHOST}" for n in RABBITMQ_NODES}
    database = f"haven_{service}"
    hosts = ",".join(f"{member}:27017" for member in MONGODB_MEMBERS)
    assert env["HAVEN_MONGO_URL"] == (
        f"mongodb://{database}@{hosts}/?authSource={database}&replicaSet=rs0&w=majority"
    )
    assert env["HAVEN_AMQP_PASSWORD_FILE"] == f"/run/secrets/{service}_amqp_password"
    assert env["HAVEN_MONGO_PASSWORD_FILE"] == f"/run/secrets/{service}_mongo_password"
    # The service takes both URLs with its password files (each node gets the password).
    for kind in ("amqp", "mongo"):
        (tmp_path / kind).write_text(f"{kind}-secret-1234\n")
    settings = CommonSettings(
        amqp_url=env["HAVEN_AMQP_URL"],
        mongo_url=env["HAVEN_MONGO_URL"],
        amqp_password_file=str(tmp_path / "amqp"),
        mongo_password_file=str(tmp_path / "mongo"),
    )
    assert all(":amqp-secret-1234@" in n for n in amqp_nodes(settings.amqp_url))
    assert f"{database}:mongo-secret-1234@{hosts}/" in settings.mongo_url


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_starts_once_the_whole_cluster_is_there(
    services: dict[str, dict[str, Any]], service: str
) -> None:
    waits = services[service]["depends_on"]
    assert {n: waits[n] for n in (*RABBITMQ_NODES, *MONGODB_MEMBERS)} == {
        n: {"condition": "service_healthy"} for n in (*RABBITMQ_NODES, *MONGODB_MEMBERS)
    }
    assert waits["mongodb-init"] == {"condition": "service_completed_successfully"}


def test_no_password_in_any_environment_and_only_the_gateway_published(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            text = _resolve(str(value))
            assert not re.search(r"://[^/@:,]+:[^/@,]+@", text), (name, key)
        assert not service.get("ports") or name == "gateway", name
        assert "env_file" not in service


def test_every_long_running_container_has_a_health_check_and_a_memory_limit(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit", ""))), name
        if "tools" in service.get("profiles", []) or service.get("restart") == "no":
            continue  # on-demand and one-shot containers
        assert service["healthcheck"]["test"][0] == "CMD", name
