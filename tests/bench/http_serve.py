"""Serve a baseline app the way `cqi serve` serves ours: same server software, same workers.

    python -m tests.bench.http_serve MODULE:FACTORY --port P --workers N

granian (ASGI, uvloop when installed, no access log) when it is installed, as `cqi serve` uses;
uvicorn otherwise. The apps read their settings from the environment in each worker.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    options = parser.parse_args()
    try:
        from granian.constants import Interfaces, Loops
        from granian.server import Server
    except ImportError:
        import uvicorn

        uvicorn.run(options.target, factory=True, host=options.host, port=options.port,
                    workers=options.workers, log_level="warning", server_header=False)
        return
    try:
        import uvloop  # noqa: F401

        loop = Loops.uvloop
    except ImportError:
        loop = Loops.asyncio
    Server(options.target, factory=True, interface=Interfaces.ASGI, address=options.host,
           port=options.port, workers=options.workers, loop=loop, log_access=False,
           workers_kill_timeout=10).serve()


if __name__ == "__main__":
    main()
