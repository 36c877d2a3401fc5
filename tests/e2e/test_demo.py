"""`make demo`'s core against real services: both sides read every message decrypted, the
store holds the very messages, as ciphertext only."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from tools.demo import CONVERSATION, run_demo
from tools.demo_stack import Target
from tools.infra import Infra
from tools.stack import Stack


async def test_the_demo_shows_decrypted_messages_and_stores_only_ciphertext(
    shared_stack: Stack, infra: Infra, shared_names: tuple[str, str]
) -> None:
    lines: list[str] = []
    target = Target(shared_stack.gateway_url, infra.mongo_url, shared_names[1], started=False)

    result = await run_demo(target, lines.append)

    bodies = [text for _, text in CONVERSATION]
    assert [m["body"] for m in result["sent"]] == bodies
    assert result["seen"] == {  # each side decrypted what the other wrote
        "coach": [text for author, text in CONVERSATION if author == "client"],
        "client": [text for author, text in CONVERSATION if author == "coach"],
    }
    assert [d["message_id"] for d in result["stored"]] == [m["message_id"] for m in result["sent"]]
    assert result["leaked"] == []
    assert all(d["envelope"]["ciphertext"] for d in result["stored"])
    assert "   plaintext found in the stored documents: none" in lines
    for text in bodies:
        assert any(line.endswith(f"decrypted:   {text}") for line in lines)


async def test_the_demo_against_your_own_stack_removes_the_coach_and_client_it_made(
    shared_stack: Stack, infra: Infra, shared_names: tuple[str, str]
) -> None:
    lines: list[str] = []
    target = Target(shared_stack.gateway_url, infra.mongo_url, shared_names[1], started=False)

    result = await run_demo(target, lines.append)

    handles = result["handles"]
    [said] = [line for line in lines if line.startswith("5. removed")]
    assert handles["client"] in said and handles["coach"] in said
    assert f"the operator {handles['operator']} stays" in said  # said plainly
    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongo_url)
    try:
        accounts = mongo[f"{shared_names[1]}_gateway"]["accounts"]
        for role in ("client", "coach"):
            left = await accounts.find_one({"handle": handles[role]})
            assert left is None or left.get("status") != "active", left
        operator = await accounts.find_one({"handle": handles["operator"]})
        assert operator is not None and operator.get("status", "active") == "active"
    finally:
        await mongo.close()
