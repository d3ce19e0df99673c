"""The Redis transport of the event bus: pub/sub channels are global to a Redis server,
so each installation's channels carry its database number (two installations, or two
test runs, on one server never hear each other). Needs a real Redis (REDIS_URL)."""

from __future__ import annotations

import asyncio
import os

import pytest

from core.bus import RedisPublisher, RedisSubscription, redis_channel_prefix

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs a real Redis (REDIS_URL)")


def _on_database(number: int) -> str:
    return REDIS_URL.rsplit("/", 1)[0] + f"/{number}"


def test_channel_prefixes_carry_the_database_number():
    assert redis_channel_prefix("redis://127.0.0.1:6379/3") == b"openalgo.bus.3."
    assert redis_channel_prefix("redis://127.0.0.1:6379") == b"openalgo.bus.0."
    assert redis_channel_prefix("unix:///run/redis.sock?db=5") == b"openalgo.bus.5."


def test_an_installation_on_another_database_does_not_hear_the_events():
    ours, theirs = _on_database(11), _on_database(12)

    async def scenario() -> tuple[list, list]:
        mine, other = RedisSubscription(b"ev.ui.", ours), RedisSubscription(b"ev.ui.", theirs)
        heard: dict[str, list] = {"mine": [], "other": []}

        async def listen(name, subscription):
            while True:
                heard[name].append(await subscription.receive())

        tasks = [asyncio.create_task(listen("mine", mine)), asyncio.create_task(listen("other", other))]
        publisher, their_publisher = RedisPublisher(ours), RedisPublisher(theirs)
        try:
            assert await mine.wait_joined(publisher) and await other.wait_joined(their_publisher)
            publisher.publish(b"ev.ui.7", b'{"type": "apikey_revoked", "key_id": 1}')
            their_publisher.publish(b"ev.ui.7", b'{"type": "theirs"}')
            deadline = asyncio.get_running_loop().time() + 3
            while (not heard["mine"] or not heard["other"]) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # anything crossing over would have arrived by now
        finally:
            for task in tasks:
                task.cancel()
            mine.close()
            other.close()
            publisher.close()
            their_publisher.close()
        return heard["mine"], heard["other"]

    mine, other = asyncio.run(scenario())
    assert mine == [(b"ev.ui.7", b'{"type": "apikey_revoked", "key_id": 1}')]
    assert other == [(b"ev.ui.7", b'{"type": "theirs"}')]
