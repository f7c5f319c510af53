"""Compare channels_redis layers for Haven's fan-out: one group of N channels, M messages.

Measures deliveries per second and loss for RedisChannelLayer (raised capacity and pool, as
Haven configures it) and RedisPubSubChannelLayer, on one Redis, in one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from typing import Any

from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


async def run(layer: Any, receivers: int, messages: int) -> dict[str, float]:
    group = f"bench-{uuid.uuid4().hex[:8]}"
    names = [await layer.new_channel() for _ in range(receivers)]
    for name in names:
        await layer.group_add(group, name)
    got = [0] * receivers

    async def consume(index: int, name: str) -> None:
        while got[index] < messages:
            await layer.receive(name)
            got[index] += 1

    consumers = [asyncio.create_task(consume(i, n)) for i, n in enumerate(names)]
    await asyncio.sleep(0.2)
    start = time.perf_counter()
    for seq in range(messages):
        await layer.group_send(group, {"type": "haven.forward", "text": "x" * 200, "seq": seq})
    try:
        await asyncio.wait_for(asyncio.gather(*consumers), timeout=30)
    except TimeoutError:
        for task in consumers:
            task.cancel()
    elapsed = time.perf_counter() - start
    delivered = sum(got)
    for name in names:
        await layer.group_discard(group, name)
    return {
        "deliveries_per_s": delivered / elapsed,
        "loss": 1 - delivered / (receivers * messages),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    parser.add_argument("--receivers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    layers = {
        "RedisChannelLayer": lambda: RedisChannelLayer(
            hosts=[{"address": args.redis, "max_connections": 1000}],
            prefix=f"cmp{uuid.uuid4().hex[:6]}",
            capacity=1500,
        ),
        "RedisPubSubChannelLayer": lambda: RedisPubSubChannelLayer(
            hosts=[args.redis], prefix=f"cmp{uuid.uuid4().hex[:6]}"
        ),
    }
    results: dict[str, dict[str, Any]] = {}
    for name, make in layers.items():
        rates: list[float] = []
        losses: list[float] = []
        for _ in range(args.repeat):
            layer = make()
            result = await run(layer, args.receivers, args.messages)
            rates.append(result["deliveries_per_s"])
            losses.append(result["loss"])
            if hasattr(layer, "flush"):
                await layer.flush()
        results[name] = {
            "median_deliveries_per_s": round(statistics.median(rates)),
            "min": round(min(rates)),
            "max": round(max(rates)),
            "max_loss": max(losses),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
