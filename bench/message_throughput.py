"""End-to-end send throughput through the running services: HTTP accept rate and time until
every message is stored (seen through `last_seq`). Prints figures; asserts nothing.

    .venv/bin/python -m bench.message_throughput --conversations 8 --messages 50
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from tests.support.api import Api, Session, device_keys_of, seal_for
from tests.support.infra import session_infra
from tests.support.stack import BOOTSTRAP_OPERATOR, running_stack, stack_env


async def setup(api: Api, conversations: int) -> list[tuple[Session, str, dict[str, bytes]]]:
    operator = await api.login(*BOOTSTRAP_OPERATOR)
    coach = await api.onboard(operator, "coach", "bench_coach")
    pairs = []
    for n in range(conversations):
        client = await api.onboard(coach, "client", f"bench_client_{n}")
        listed = await api.call("GET", "/v1/conversations", token=client.access_token)
        cid = listed.body["conversations"][0]["conversation_id"]
        devices = await device_keys_of(api, client, coach.account_id, client.account_id)
        pairs.append((client, cid, devices))
    return pairs


async def measure(base: str, conversations: int, messages: int) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, base)
        pairs = await setup(api, conversations)
        envelopes = [
            [seal_for(client, cid, devices, f"bench {i}") for i in range(messages)]
            for client, cid, devices in pairs
        ]
        started = time.perf_counter()

        async def sender(index: int) -> None:
            client, cid, _ = pairs[index]
            for envelope in envelopes[index]:
                reply = await api.call(
                    "POST",
                    f"/v1/conversations/{cid}/messages",
                    {"envelope": envelope},
                    client.access_token,
                )
                assert reply.status == 202, reply.body

        await asyncio.gather(*(sender(i) for i in range(conversations)))
        accepted = time.perf_counter() - started
        while True:
            seqs = []
            for client, _, _ in pairs:
                listed = await api.call("GET", "/v1/conversations", token=client.access_token)
                seqs.append(listed.body["conversations"][0]["last_seq"])
            if all(s >= messages for s in seqs):
                break
            await asyncio.sleep(0.2)
        stored = time.perf_counter() - started
    total = conversations * messages
    print(
        f"{total} messages in {conversations} conversations "
        f"({len(envelopes[0][0]['ciphertext'])} base64 chars of ciphertext each)"
    )
    print(f"accepted (202) in {accepted:.2f}s = {total / accepted:.0f}/s")
    print(f"all stored in {stored:.2f}s = {total / stored:.0f}/s end to end")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=8)
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, session_infra(tmp) as infra:
        tag = uuid.uuid4().hex[:8]
        env = stack_env(infra.amqp_url, infra.mongo_url, f"b{tag}.", f"b{tag}", Path(tmp))
        with running_stack(env, Path(tmp)) as stack:
            asyncio.run(measure(stack.gateway_url, args.conversations, args.messages))


if __name__ == "__main__":
    main()
