"""`python -m naive.serve [daphne options] naive.asgi:application`: plain Daphne, as a
production install of the tutorial chat runs it.

autobahn colours its debug log strings with click when click can be imported, for every frame
sent whether or not debug logging is on. Neither Daphne nor Channels needs click, so a
production install has none; the benchmark's environment has it (schemathesis brings it to
the development lock). Haven's `project.serve` builds these strings plainly for the same
reason (`plain_debug_strings`), and the reference server is measured the same way.
"""

from __future__ import annotations

from autobahn import util
from daphne.cli import CommandLineInterface

if __name__ == "__main__":
    util._HAS_CLICK = False
    CommandLineInterface.entrypoint()
