"""`python -m project.serve [daphne options] project.asgi:application`: Daphne on uvloop.

Daphne runs Twisted on an asyncio event loop; with uvloop's loop under it, the event-loop and
socket work of every delivered frame costs less CPU (docs/performance.md). Without uvloop
installed this is plain Daphne.

It also tunes the garbage collector for a server that holds thousands of long-lived connections
(`tune_gc`): with CPython's default thresholds, full collections over every connection's objects
ran every few seconds under load and stopped the event loop for 100-490 ms each, which was most
of the live room's p99 latency (docs/performance.md); and it makes each idle WebSocket connection
hold less memory (`server_class`, `share_protocol_options`, `project.layers.LeanQueue`) and cost
less CPU to open (`lazy_connection_log`): docs/performance.md, "S4 memory".
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from daphne.access import AccessLogGenerator

from project import config
from project.layers import LeanQueue

logger = logging.getLogger("project.serve")

# Young-generation threshold: collect after this many net new container objects rather than
# 700, so the short-lived objects of each delivered frame die by reference counting before a
# collection would promote them; the older generations keep CPython's ratios.
GC_GEN0_THRESHOLD = 50_000
GC_GEN1_THRESHOLD = 20
GC_GEN2_THRESHOLD = 10


def tune_gc() -> None:
    """Fewer, cheaper garbage collections once the application is loaded.

    `gc.freeze()` moves everything alive at start (Django, the URL conf, the models, the
    libraries: ~60 ms of every full collection here) out of the collector's sight for good;
    the higher young threshold makes full collections rare. Cyclic garbage is still collected,
    and CPython still runs a full collection only once a quarter of the long-lived objects are
    new, which bounds what waits for it.
    """
    gc.set_threshold(GC_GEN0_THRESHOLD, GC_GEN1_THRESHOLD, GC_GEN2_THRESHOLD)
    gc.collect()
    gc.freeze()


def _log_stall(kind: str, ms: float) -> None:
    logger.warning("stall: %s %.1f ms", kind, ms)


def watch_stalls(
    threshold_ms: float,
    report: Callable[[str, float], None] = _log_stall,
    *,
    tick_seconds: float = 0.01,
) -> Callable[[], None]:
    """Report every event-loop stall and garbage collection of at least `threshold_ms`.

    A diagnostic (HAVEN_STALL_LOG_MS logs them): a stalled loop delays every connection of the
    process at once, which is what a p99 latency is made of. Durations only, nothing of anyone.
    `report(kind, ms)` gets "event loop late" or "gc generation N"; the benchmark's generator
    counts its own pauses with it. Returns a function that stops watching.
    """
    started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        if ms >= threshold_ms:
            report(f"gc generation {info['generation']}", ms)

    async def watch_loop() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(tick_seconds)
            late = (time.perf_counter() - before - tick_seconds) * 1000
            if late >= threshold_ms:
                report("event loop late", late)

    gc.callbacks.append(on_gc)
    task = asyncio.get_running_loop().create_task(watch_loop())

    def stop() -> None:
        task.cancel()
        if on_gc in gc.callbacks:
            gc.callbacks.remove(on_gc)

    return stop


# How often a process copies its stalls and database pool numbers into the metrics
# (HAVEN_METRICS).
METRICS_SAMPLE_SECONDS = 15.0


def stall_reporter(*, log_ms: float, count_ms: float) -> Callable[[str, float], None]:
    """Count stalls of `count_ms` or more in the metrics; log those of `log_ms` or more (0:
    none)."""
    from project import metrics

    def report(kind: str, ms: float) -> None:
        if ms >= count_ms:
            metrics.stalled(kind)
        if log_ms and ms >= log_ms:
            _log_stall(kind, ms)

    return report


async def _sample_metrics() -> None:
    from project import metrics

    while True:
        metrics.sample()
        await asyncio.sleep(METRICS_SAMPLE_SECONDS)


# How long a stopping process gives its running database calls and the closing of its
# attendance before it exits anyway (its rows then stop counting with the presence window).
SHUTDOWN_CLOSE_SECONDS = 10.0


async def close_attendance(timeout: float = SHUTDOWN_CLOSE_SECONDS) -> int | None:
    """This process stops: close the attendance rows of the connections it still holds
    (Daphne cancels them without their `disconnect`), after its last other database call.
    Returns how many were closed; None if that could not be done in time."""
    from facilitation import services
    from project import realtime

    try:
        closed = await asyncio.wait_for(
            realtime.run_last_in_db(services.room_close_process), timeout
        )
    except Exception:  # stopping all the same; the presence window ends them later
        logger.warning("shutdown: this process's open attendance could not be closed")
        return None
    logger.info("shutdown: closed %d open attendance rows", closed)
    return closed


def _close_attendance_on_shutdown() -> Any:
    """Twisted's "before shutdown" trigger: the reactor waits for the returned Deferred."""
    from twisted.internet import defer

    return defer.Deferred.fromFuture(asyncio.ensure_future(close_attendance()))


def _on_start() -> None:
    from django.conf import settings

    tune_gc()
    threshold = config.env_float(os.environ, "HAVEN_STALL_LOG_MS", default=0.0, minimum=0.0)
    from twisted.internet import reactor

    # After Daphne's own trigger, which cancels every connection's application instance.
    reactor.addSystemEventTrigger("before", "shutdown", _close_attendance_on_shutdown)
    if settings.HAVEN_METRICS:
        from project import metrics

        metrics.forget_dead_processes()
        reactor.addSystemEventTrigger("before", "shutdown", metrics.process_exit)
        report = stall_reporter(log_ms=threshold, count_ms=metrics.STALL_MS)
        watch_stalls(min(threshold or metrics.STALL_MS, metrics.STALL_MS), report)
        asyncio.get_running_loop().create_task(_sample_metrics())
    elif threshold > 0:
        watch_stalls(threshold)


# The one kind of URL that carries a secret: an invite code. Query strings are dropped whole.
_INVITE_CODE = re.compile(r"(/invites/)[^/?]+")


def redact_request(request: str) -> str:
    """An access-log request line without query strings or invite codes."""
    return _INVITE_CODE.sub(r"\1[redacted]", request.split("?", 1)[0])


class RedactedAccessLog(AccessLogGenerator):
    """Daphne's access log, with every request line through `redact_request`."""

    def write_entry(self, host: Any, date: Any, request: str, *args: Any, **kwargs: Any) -> None:
        super().write_entry(host, date, redact_request(request), *args, **kwargs)


def access_log(stream: Any) -> RedactedAccessLog | None:
    """Daphne's access-log writer for `stream` (`RedactedAccessLog`), or none at all for
    `os.devnull`, Haven's default (`access_log_argv`): Daphne then formats no line per request
    and per WebSocket event only to throw it away (2-3 % of the server's CPU while a fleet
    of connections opens, docs/performance.md, issue 20)."""
    if getattr(stream, "name", None) == os.devnull:
        stream.close()
        return None
    return RedactedAccessLog(stream)


def access_log_argv(argv: list[str]) -> list[str]:
    """Daphne writes an access log to stdout unless told otherwise: Haven writes none unless
    `--access-log` is given (and then redacted, `RedactedAccessLog`)."""
    if any(arg == "--access-log" or arg.startswith("--access-log=") for arg in argv[1:]):
        return argv
    return [argv[0], "--access-log", os.devnull, *argv[1:]]


def proxy_headers_argv(argv: list[str]) -> list[str]:
    """Daphne's `--proxy-headers` takes the leftmost X-Forwarded-For hop, which the client
    writes, so behind a proxy every request could claim a new address and escape the sign-in
    lockout. Haven reads the header itself (project/clientip.py, HAVEN_TRUSTED_PROXIES); the
    option is dropped, with a warning, so a start command written for plain Daphne stays safe."""
    kept = [arg for arg in argv if arg != "--proxy-headers"]
    if len(kept) != len(argv):
        print(
            "project.serve: --proxy-headers ignored: Haven reads X-Forwarded-For itself from "
            "the proxies in HAVEN_TRUSTED_PROXIES.",
            file=sys.stderr,
        )
    return kept


# Daphne refuses a WebSocket whose application has not accepted it within 5 s. When a process
# that held 2,000 members stops, they all come back at once and queue for the database threads;
# at 200 entries a second the last waits 10 s, so Daphne's default refused most of a storm after
# doing their entry's work, and every refused phone came back again (docs/performance.md,
# issue 20). Browsers wait far longer for a handshake; so does Haven now.
WEBSOCKET_CONNECT_TIMEOUT = 60


def connect_timeout_argv(argv: list[str]) -> list[str]:
    """Daphne's `--websocket_connect_timeout` is WEBSOCKET_CONNECT_TIMEOUT seconds unless the
    start command gives one."""
    if any(
        arg == "--websocket_connect_timeout" or arg.startswith("--websocket_connect_timeout=")
        for arg in argv[1:]
    ):
        return argv
    return [argv[0], "--websocket_connect_timeout", str(WEBSOCKET_CONNECT_TIMEOUT), *argv[1:]]


def share_protocol_options(factory: Any) -> None:
    """Give the WebSocket factory's options to its protocol class instead of to each
    connection.

    autobahn's `_connectionMade` copies every option in `CONFIG_ATTRS` (about 40) from the
    factory onto each new protocol instance, unless the instance already has it; that made
    every connection's `__dict__` a table of over a hundred entries. Here a subclass holds
    the factory's values, once, as class attributes: each connection finds them and copies
    nothing, and reads the same values. Nothing changes the factory's options after Daphne
    sets them (`Server.run`), and an option a connection sets for itself still lands on the
    instance, as before.
    """
    base = factory.protocol
    options = {name: getattr(factory, name) for name in base.CONFIG_ATTRS}
    # A function held by a class becomes a method of its instances: an option that is a
    # function (perMessageCompressionAccept) must stay the plain function it was.
    options = {
        name: staticmethod(value) if callable(value) else value for name, value in options.items()
    }
    factory.protocol = type(base.__name__, (base,), {**options, "__module__": __name__})


class _Pretty:
    """`pformat(obj)`, done only if it is formatted (`lazy_connection_log`)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __str__(self) -> str:
        from pprint import pformat

        return pformat(self.obj)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def lazy_connection_log() -> None:
    """autobahn's `WebSocketProtocol._connectionMade` pretty-prints every connection's ~40
    options for a debug log line, whether or not debug logging is on: 3% of the server's CPU
    while a fleet connects (docs/performance.md). Its module's `pformat` becomes one that, for
    that one caller, defers the work until the line is really written (a debug log still
    shows the same text); every other caller gets `pprint.pformat` as before."""
    from autobahn.websocket import protocol

    if getattr(protocol.pformat, "haven_lazy", False):
        return
    eager = protocol.pformat
    caller = protocol.WebSocketProtocol._connectionMade.__code__

    def pformat(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs and sys._getframe(1).f_code is caller:
            return _Pretty(obj)
        return eager(obj, *args, **kwargs)

    pformat.haven_lazy = True  # type: ignore[attr-defined]
    protocol.pformat = pformat


def plain_debug_strings() -> None:
    """autobahn colours the values of its debug log lines with click when click can be
    imported, and builds them for every frame sent whether or not debug logging is on. A
    production install has no click (requirements.lock); the development one does (schemathesis
    brings it), and there it cost 1-2 % of the server's CPU (docs/performance.md, issue 20).
    Serve as production does: plain strings, the same text without colour codes."""
    from autobahn import util

    util._HAS_CLICK = False


def server_class() -> type:
    """Daphne's server, with less memory held by each connection (docs/performance.md,
    "S4 memory"). A function: importing `daphne.server` creates the event loop, which must
    come after uvloop's policy is set (`main`)."""
    from daphne.server import Server
    from twisted.internet import reactor

    class HavenServer(Server):
        def run(self) -> None:
            # Daphne makes and configures its WebSocket factory in `run`, before the reactor
            # runs and before any connection is accepted.
            reactor.callWhenRunning(lambda: share_protocol_options(self.ws_factory))
            super().run()

        def create_application(self, protocol: Any, scope: dict[str, Any]) -> LeanQueue | None:
            """As Daphne 4.2 does it, with a `LeanQueue` for the application's input instead
            of an `asyncio.Queue` (3 KiB less on every connection)."""
            assert "application_instance" not in self.connections[protocol]
            input_queue = LeanQueue()
            scope.setdefault("asgi", {"version": "3.0"})
            application_instance = self.application(
                scope=scope,
                receive=input_queue.get,
                send=functools.partial(self.handle_reply, protocol),
            )
            if protocol not in self.connections:
                return None
            self.connections[protocol]["application_instance"] = asyncio.ensure_future(
                application_instance, loop=asyncio.get_event_loop()
            )
            return input_queue

    return HavenServer


def main() -> None:
    try:
        import uvloop
    except ImportError:
        pass
    else:
        # Before Daphne creates its loop (on import of daphne.server).
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    from daphne import cli
    from twisted.internet import reactor

    cli.AccessLogGenerator = access_log
    cli.CommandLineInterface.server_class = server_class()
    lazy_connection_log()
    plain_debug_strings()
    sys.argv = connect_timeout_argv(access_log_argv(proxy_headers_argv(sys.argv)))

    # Daphne has imported and set up the application by the time the reactor runs.
    reactor.callWhenRunning(_on_start)
    cli.CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
