"""The shipped contract stays true: docs/api.md lists exactly the operations the served OpenAPI
document has, that document is complete (query parameters, success schemas, problems) and real
answers match its schemas; the served AsyncAPI document is the valid one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema

from services.gateway.edge.asyncapi import build_asyncapi
from tests.support.history import publish_backup
from tools.api import Api, Session

ROOT = Path(__file__).parents[3]
API_MD = ROOT / "docs" / "api.md"
ASYNCAPI_SCHEMA = ROOT / "tests" / "support" / "schemas" / "asyncapi-3.0.0.json"
ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE|PATCH)` \| `(/[^`]*)` \|", re.MULTILINE)
METHODS = {"get", "post", "put", "delete", "patch"}
SHARED_STACK: dict[str, str] = {}  # one stack for this module (tests/support/sharing.py)


def documented() -> set[tuple[str, str]]:
    return {(method, path) for method, path in ROW.findall(API_MD.read_text())}


def served(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in METHODS
    }


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, ops in spec["paths"].items()
        for method, operation in ops.items()
        if method in METHODS
    ]


async def openapi(api: Api) -> dict[str, Any]:
    reply = await api.call("GET", "/v1/openapi.json")
    assert reply.status == 200
    return dict(reply.body)


async def test_api_md_lists_exactly_the_served_operations(api: Api) -> None:
    spec = await openapi(api)
    in_docs, in_spec = documented(), served(spec)
    assert len(in_docs) > 40
    assert in_spec - in_docs == set(), "served but not in docs/api.md"
    assert in_docs - in_spec == set(), "in docs/api.md but not served"


async def test_every_success_has_a_schema_and_every_operation_its_problems(api: Api) -> None:
    spec = await openapi(api)
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        success = [status for status in responses if status.startswith(("1", "2", "3"))]
        assert len(success) == 1, (method, path)
        if success[0] not in ("101", "204", "302"):
            content = responses[success[0]]["content"]
            assert all("schema" in media for media in content.values()), (method, path)
        for status, answer in responses.items():
            if status.startswith(("4", "5")) and path not in ("/readyz",):
                assert "application/problem+json" in answer["content"], (method, path, status)
        if operation.get("security"):
            assert "401" in responses, (method, path)


async def test_history_names_its_query_parameters(api: Api) -> None:
    spec = await openapi(api)
    history = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["get"]
    query = {p["name"]: p["schema"] for p in history["parameters"] if p["in"] == "query"}
    assert set(query) == {"after_seq", "before_seq", "limit"}
    assert query["limit"]["maximum"] == 200 and query["after_seq"]["minimum"] == 0
    send = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["post"]["responses"]
    codes = send["409"]["content"]["application/problem+json"]["schema"]["allOf"][1]
    assert set(codes["properties"]["code"]["enum"]) == {"conflict", "paused", "device_mismatch"}


async def test_every_reference_of_the_openapi_document_resolves(api: Api) -> None:
    spec = await openapi(api)
    for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(spec)):
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


async def test_real_answers_match_the_served_schemas(api: Api, operator: Session) -> None:
    spec = await openapi(api)
    token = operator.access_token
    await api.call("PUT", "/v1/admin/agreement", {"version": "v1", "text": "terms"}, token)
    calls = [
        ("GET", "/v1/me", None),
        ("GET", "/v1/conversations", None),
        ("GET", "/v1/crisis-resources", None),
        ("GET", "/v1/keys", None),
        ("GET", "/v1/admin/audit?limit=5", None),
        ("GET", "/v1/admin/accounts", None),
        ("GET", "/v1/agreement", None),
        ("GET", "/v1/me/notification-settings", None),
        ("GET", f"/v1/devices/{operator.device_id}", None),
        ("GET", f"/v1/devices/{operator.device_id}/push", None),
        ("POST", "/v1/invites", {"kind": "coach"}),
    ]
    for method, url, body in calls:
        reply = await api.call(method, url, body, token)
        path = url.split("?")[0].replace(operator.device_id, "{device_id}")
        answer = spec["paths"][path][method.lower()]["responses"][str(reply.status)]
        schema = {**answer["content"]["application/json"]["schema"], **spec}
        errors = [
            e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(reply.body)
        ]
        assert errors == [], (method, url, errors)
    problem = await api.call("GET", "/v1/conversations/nope/messages?limit=0", token=token)
    answer = spec["paths"]["/v1/conversations/{conversation_id}/messages"]["get"]["responses"]
    schema = {**answer[str(problem.status)]["content"]["application/problem+json"]["schema"]}
    assert jsonschema.Draft202012Validator({**schema, **spec}).is_valid(problem.body)


async def test_the_served_asyncapi_document_is_valid_asyncapi_3(api: Api) -> None:
    reply = await api.call("GET", "/v1/asyncapi.json")
    assert reply.status == 200 and reply.body == json.loads(json.dumps(build_asyncapi()))
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    assert [e.message for e in validator.iter_errors(reply.body)] == []


async def test_history_answers_match_the_served_schemas(api: Api, operator: Session) -> None:
    """The backup key in the listings (a union of device and backup entries), the backup key
    itself and the links list, as served."""
    spec = await openapi(api)
    token = operator.access_token
    _, published = await publish_backup(api, operator)
    calls = [
        ("PUT", "/v1/me/backup", published),
        ("GET", "/v1/me/backup", await api.call("GET", "/v1/me/backup", token=token)),
        ("GET", "/v1/me", await api.call("GET", "/v1/me", token=token)),
        ("GET", "/v1/me/links", await api.call("GET", "/v1/me/links", token=token)),
        (
            "GET",
            "/v1/accounts/{account_id}/devices",
            await api.call("GET", f"/v1/accounts/{operator.account_id}/devices", token=token),
        ),
    ]
    for method, path, reply in calls:
        assert reply.status == 200, (path, reply.body)
        answer = spec["paths"][path][method.lower()]["responses"]["200"]
        schema = {**answer["content"]["application/json"]["schema"], **spec}
        errors = [
            e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(reply.body)
        ]
        assert errors == [], (method, path, errors)
    me = calls[2][2].body
    assert [d["kind"] for d in me["devices"]][-1] == "backup"
    assert (await api.call("DELETE", "/v1/me/backup", token=token)).status == 204
