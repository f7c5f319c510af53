"""Redis Sentinel (HAVEN_REDIS_SENTINELS, HAVEN_REDIS_SENTINEL_MASTER): both channel layers and
Django's cache find the master through a real `redis-server --sentinel` on loopback.

REDIS_URL points at a port where nothing listens: whatever gets through went by way of the
sentinel to the private master it names.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache.backends.redis import RedisCache
from django.utils.module_loading import import_string

from project import config
from tests.e2e.conftest import Process, RedisServer, free_port, spawn, tail

pytestmark = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]
MASTER = "havenmaster"


class Sentinel:
    def __init__(self, master: RedisServer, folder: Path) -> None:
        self.port = free_port()
        conf = folder / "sentinel.conf"
        # Sentinel rewrites its own file, so it gets a writable copy in the test's folder.
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 5000\n"
        )
        self.process: Process = spawn(
            "sentinel",
            ["redis-server", str(conf), "--sentinel"],
            port=self.port,
            env={},
            logs=folder,
        )
        self.process.wait_ready()

    def master_address(self) -> list[str]:
        asked = subprocess.run(
            ["redis-cli", "-p", str(self.port), "sentinel", "get-master-addr-by-name", MASTER],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return asked.stdout.split()


@pytest.fixture
def sentinel(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[RedisServer, Sentinel]]:
    watcher = Sentinel(redis_server, tmp_path)
    try:
        yield redis_server, watcher
    finally:
        watcher.process.stop()
        print(f"--- sentinel ---\n{tail(watcher.process.log, 20)}")


def sentinel_env(watcher: Sentinel, **extra: str) -> dict[str, str]:
    return {
        # Nothing listens on port 1: only the sentinel's answer leads anywhere.
        "REDIS_URL": "redis://127.0.0.1:1/3",
        "HAVEN_REDIS_SENTINELS": f"127.0.0.1:{watcher.port}",
        "HAVEN_REDIS_SENTINEL_MASTER": MASTER,
        **extra,
    }


def master_keys(master: RedisServer, pattern: str) -> list[str]:
    listed = subprocess.run(
        ["redis-cli", "-p", str(master.port), "-n", "3", "--scan", "--pattern", pattern],
        capture_output=True,
        text=True,
        timeout=5,
    )
    return listed.stdout.split()


@pytest.mark.parametrize("kind", ["pubsub", "core"])
async def test_a_group_message_goes_through_the_layer_by_way_of_the_sentinel(sentinel, kind):
    master, watcher = sentinel
    assert watcher.master_address() == ["127.0.0.1", str(master.port)]
    layers = config.channel_layers_config(
        sentinel_env(watcher, HAVEN_CHANNEL_LAYER=kind), prefix=f"sentinel-{kind}"
    )["default"]
    layer = import_string(layers["BACKEND"])(**layers["CONFIG"])
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "haven.test", "n": 1})
        received = await asyncio.wait_for(layer.receive(channel), 5)
    finally:
        await layer.flush()

    assert received == {"type": "haven.test", "n": 1}


def test_the_cache_reads_and_writes_on_the_master_the_sentinel_names(sentinel):
    master, watcher = sentinel
    settings = config.cache_config(sentinel_env(watcher), prefix="sentinel")["default"]
    cache = RedisCache(settings["LOCATION"], settings)

    cache.set("counted", 7, timeout=60)

    assert cache.get("counted") == 7
    assert master_keys(master, "sentinel-cache:*") == ["sentinel-cache:1:counted"]


@pytest.mark.parametrize(
    "env",
    [
        {"HAVEN_REDIS_SENTINELS": "127.0.0.1:26379"},
        {"HAVEN_REDIS_SENTINEL_MASTER": MASTER},
        {"HAVEN_REDIS_SENTINELS": "127.0.0.1", "HAVEN_REDIS_SENTINEL_MASTER": MASTER},
        {"HAVEN_REDIS_SENTINELS": "127.0.0.1:99999", "HAVEN_REDIS_SENTINEL_MASTER": MASTER},
    ],
)
def test_a_half_or_unreadable_sentinel_setting_stops_the_start_naming_it(env):
    with pytest.raises(config.ConfigurationError, match="HAVEN_REDIS_SENTINEL"):
        config.channel_layers_config({"REDIS_URL": "redis://127.0.0.1:6379/0", **env})


def test_sentinel_without_redis_url_stops_the_start():
    env = {"HAVEN_REDIS_SENTINELS": "127.0.0.1:26379", "HAVEN_REDIS_SENTINEL_MASTER": MASTER}

    with pytest.raises(config.ConfigurationError, match="needs REDIS_URL"):
        config.cache_config(env)
