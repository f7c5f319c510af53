"""`python -m project.serve [daphne options] project.asgi:application`: Daphne on uvloop.

Daphne runs Twisted on an asyncio event loop; with uvloop's loop under it, the event-loop and
socket work of every delivered frame costs less CPU (docs/performance.md). Without uvloop
installed this is plain Daphne.
"""

from __future__ import annotations

import asyncio


def main() -> None:
    try:
        import uvloop
    except ImportError:
        pass
    else:
        # Before Daphne creates its loop (on import of daphne.server).
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
