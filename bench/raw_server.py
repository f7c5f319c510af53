"""Reference server "raw": a plain `websockets` broadcast server, the limit of the transport.

Groups live in this process, keyed by the request path. A `message.send` gets an `ack` to the
sender and a `message` broadcast (one serialisation, `websockets.broadcast`) to everyone in the
group, with a per-group `seq`. No persistence, no authentication, no replay: `resume` answers
`resume.done` at once.

    python bench/raw_server.py --port 8301
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections import defaultdict
from typing import Any

import websockets
from websockets.asyncio.server import ServerConnection, serve

groups: defaultdict[str, set[ServerConnection]] = defaultdict(set)
counters: defaultdict[str, int] = defaultdict(int)


def dumps(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


async def handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else "/"
    members = groups[path]
    members.add(ws)
    try:
        await ws.send(dumps({"type": "session.state", "last_seq": counters[path]}))
        async for text in ws:
            try:
                content = json.loads(text)
            except ValueError:
                await ws.send(dumps({"type": "error", "code": "invalid_json"}))
                continue
            kind = content.get("type") if isinstance(content, dict) else None
            if kind == "message.send":
                counters[path] += 1
                seq = counters[path]
                client_id = content.get("client_id")
                # Not `await ws.send`: while a send waits for the buffer to drain, broadcast()
                # skips that connection, and the sender would miss its own messages.
                websockets.broadcast(
                    (ws,), dumps({"type": "ack", "client_id": client_id, "seq": seq})
                )
                websockets.broadcast(
                    members,
                    dumps(
                        {
                            "type": "message",
                            "seq": seq,
                            "client_id": client_id,
                            "body": content.get("body"),
                        }
                    ),
                )
            elif kind == "resume":
                await ws.send(dumps({"type": "resume.done", "last_seq": counters[path]}))
            else:
                await ws.send(dumps({"type": "error", "code": "unknown_type"}))
    except websockets.ConnectionClosed:
        pass
    finally:
        members.discard(ws)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler, host, port, compression=None, ping_interval=None, max_size=2**16, backlog=4096
    ):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="raw websockets broadcast server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8301)
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args()
    runner: Any = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    runner(main(args.host, args.port))
