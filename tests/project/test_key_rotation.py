"""A rolling rotation of FIELD_ENCRYPTION_KEYS never makes a broadcast unreadable.

The channel layer encrypts what rests in Redis with the whole `FIELD_ENCRYPTION_KEYS` list
(MultiFernet: the first key encrypts, every key decrypts). While processes are restarted one by
one, two neighbouring stages of the rotation run side by side; each must read what the other
sends. Real Redis (REDIS_URL), both of Haven's layer backends, each layer built from
`project.config.channel_layers_config` as settings build it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.utils.module_loading import import_string

from project import config
from tests.project.test_settings import settings_of

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
OLD = Fernet.generate_key().decode("ascii")
NEW = Fernet.generate_key().decode("ascii")
# The stages of a rolling rotation (README "Rotating the field key"), in order.
STAGES = {
    "before": [OLD],
    "step 1: new key last": [OLD, NEW],
    "step 2: new key first": [NEW, OLD],
    "step 3: old key dropped": [NEW],
}
NEIGHBOURS = list(zip(STAGES, list(STAGES)[1:], strict=False))

needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs REDIS_URL")


def a_layer(keys: list[str], *, prefix: str, backend: str) -> Any:
    """A layer as one Daphne process would build it from its environment."""
    env = {"REDIS_URL": REDIS_URL, "HAVEN_CHANNEL_LAYER": backend}
    layer = config.channel_layers_config(env, prefix=prefix, encryption_keys=keys)["default"]
    return import_string(layer["BACKEND"])(**layer["CONFIG"])


async def broadcast(sender_keys: list[str], receiver_keys: list[str], backend: str) -> Any:
    """Send a group message from a process on `sender_keys` to one on `receiver_keys`; what
    the receiver's consumer gets (or the error it raises)."""
    prefix = f"rot{uuid.uuid4().hex[:8]}"
    sender = a_layer(sender_keys, prefix=prefix, backend=backend)
    receiver = a_layer(receiver_keys, prefix=prefix, backend=backend)
    group = "session.1"
    channel = await receiver.new_channel()
    await receiver.group_add(group, channel)
    try:
        await sender.group_send(group, {"type": "haven.forward", "text": "still here"})
        return await asyncio.wait_for(receiver.receive(channel), 5)
    finally:
        await receiver.group_discard(group, channel)
        await receiver.flush()
        await sender.flush()


def test_the_layer_is_given_every_key_newest_first():
    layer = config.channel_layers_config(
        {"REDIS_URL": "redis://cache.internal:6379/2"}, encryption_keys=[NEW, OLD]
    )["default"]

    assert layer["CONFIG"]["symmetric_encryption_keys"] == [NEW, OLD]


def test_a_single_key_string_is_refused_rather_than_split_into_characters():
    with pytest.raises(TypeError):
        config.channel_layers_config({"REDIS_URL": "redis://h:6379/0"}, encryption_keys=NEW)


def test_the_settings_give_the_channel_layer_the_whole_field_key_list(tmp_path):
    values = settings_of(
        tmp_path,
        "CHANNEL_LAYERS",
        REDIS_URL="redis://cache.internal:6379/2",
        FIELD_ENCRYPTION_KEYS=f"{NEW}, {OLD}",
    )

    assert values["CHANNEL_LAYERS"]["default"]["CONFIG"]["symmetric_encryption_keys"] == [NEW, OLD]


@needs_redis
@pytest.mark.parametrize("backend", ["pubsub", "core"])
async def test_a_process_on_new_and_old_keys_reads_a_broadcast_sent_under_the_old_key(backend):
    received = await broadcast([OLD], [NEW, OLD], backend)

    assert received == {"type": "haven.forward", "text": "still here"}


@needs_redis
@pytest.mark.parametrize("backend", ["pubsub", "core"])
@pytest.mark.parametrize(("earlier", "later"), NEIGHBOURS)
async def test_neighbouring_stages_of_a_rolling_rotation_read_each_others_broadcasts(
    backend, earlier, later
):
    for sender, receiver in ((earlier, later), (later, earlier)):
        received = await broadcast(STAGES[sender], STAGES[receiver], backend)

        assert received == {"type": "haven.forward", "text": "still here"}, (sender, receiver)


@needs_redis
async def test_a_process_that_knows_only_the_old_key_cannot_read_the_new_one():
    """Why step 1 puts the new key last: a process still on [old] beside one that already
    encrypts with the new key would fail on every broadcast it receives."""
    with pytest.raises(InvalidToken):
        await broadcast([NEW, OLD], [OLD], "pubsub")
