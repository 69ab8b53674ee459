"""The load generator: HTTP/1.1 keep-alive clients on raw asyncio streams, in their own process.

`python -m tests.bench.http_load` reads a JSON spec on standard input and prints a JSON result:

    {"host": "127.0.0.1", "port": 8000, "connections": 32, "warmup_s": 2, "duration_s": 10,
     "requests": [{"method": "PUT", "path": "/x/1", "headers": {...}, "body": "...",
                   "key": "1"}, ...],
     "visible": {"dsn": "postgresql://...", "sql": "SELECT ... $1 ... $2"}}

Connection i sends `requests[i % len(requests)]` over and over, one at a time. In a body,
`@N@` becomes the connection's running count and `@I@` its index, so that every command
differs. With `visible`, after each acknowledged request the client polls the view (asyncpg,
straight to the database) with `sql` ($1: the request's `key`, $2: the body's `title`) until it
returns true: the time from the acknowledgement to the effect being visible.

Only requests sent after the warm-up and answered before the end are counted; every non-2xx
answer and every connection error is counted as an error, warm-up included.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    visible_ms: list[float] = field(default_factory=list)
    """From the acknowledgement to the effect visible in the view."""
    sent_to_visible_ms: list[float] = field(default_factory=list)
    """From sending the command to the effect visible (the command's own latency included)."""
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    bytes_in: int = 0

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(what[:300])


class ProtocolError(Exception):
    pass


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response: its status and body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size + 2)
            del body[-2:]
        return status, bytes(body)
    if length is None:
        if status in (204, 304) or 100 <= status < 200:
            return status, b""
        raise ProtocolError("a response without Content-Length on a keep-alive connection")
    return status, await reader.readexactly(length) if length else b""


def request_bytes(spec: dict[str, Any], host: str, index: int, count: int) -> tuple[bytes, str]:
    """The request to send, and the title in its body (for the visibility check)."""
    body = spec.get("body", "").replace("@N@", str(count)).replace("@I@", str(index))
    payload = body.encode()
    head = [f"{spec['method']} {spec['path']} HTTP/1.1", f"Host: {host}"]
    head += [f"{k}: {v}" for k, v in spec.get("headers", {}).items()]
    if payload or spec["method"] in ("POST", "PUT", "PATCH"):
        head.append(f"Content-Length: {len(payload)}")
    title = ""
    if body and spec.get("key") is not None:
        title = json.loads(body).get("title", "")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload, title


async def client(index: int, spec: dict[str, Any], request: dict[str, Any], tally: Tally,
                 window: tuple[float, float], pool: Any) -> None:
    host, port = spec["host"], spec["port"]
    start, end = window
    count = 0
    reader = writer = None
    while time.perf_counter() < end:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as error:
                tally.error(f"connect: {error!r}")
                await asyncio.sleep(0.05)
                continue
        assert reader is not None
        count += 1
        data, title = request_bytes(request, f"{host}:{port}", index, count)
        sent = time.perf_counter()
        try:
            writer.write(data)
            status, body = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ProtocolError, ValueError) as error:
            tally.error(f"{request['method']} {request['path']}: {error!r}")
            writer.close()
            reader = writer = None
            continue
        acked = time.perf_counter()
        counted = start <= sent and acked <= end
        tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if not 200 <= status < 300:
            tally.error(f"{request['method']} {request['path']}: {status} {body[:200]!r}")
            continue
        if counted:
            tally.latencies_ms.append((acked - sent) * 1000)
            tally.bytes_in += len(body)
        if pool is not None:
            sql = spec["visible"]["sql"]
            async with pool.acquire() as conn:
                while not await conn.fetchval(sql, request["key"], title):
                    if time.perf_counter() - acked > 10:
                        tally.error(f"not visible 10 s after its acknowledgement: {title}")
                        break
            seen = time.perf_counter()
            if counted:
                tally.visible_ms.append((seen - acked) * 1000)
                tally.sent_to_visible_ms.append((seen - sent) * 1000)
    if writer is not None:
        writer.close()


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    pool = None
    if spec.get("visible"):
        import asyncpg

        pool = await asyncpg.create_pool(spec["visible"]["dsn"], min_size=1,
                                         max_size=spec["connections"])
    tally = Tally()
    began = time.perf_counter()
    start = began + spec.get("warmup_s", 0)
    end = start + spec["duration_s"]
    requests = spec["requests"]
    try:
        await asyncio.gather(*(
            client(i, spec, requests[i % len(requests)], tally, (start, end), pool)
            for i in range(spec["connections"])
        ))
    finally:
        if pool is not None:
            await pool.close()
    return {
        "requests": len(tally.latencies_ms),
        "seconds": spec["duration_s"],
        "rate": len(tally.latencies_ms) / spec["duration_s"],
        "latencies_ms": tally.latencies_ms,
        "visible_ms": tally.visible_ms,
        "sent_to_visible_ms": tally.sent_to_visible_ms,
        "errors": tally.errors,
        "error_samples": tally.error_samples,
        "statuses": {str(k): v for k, v in tally.statuses.items()},
        "mean_body_bytes": tally.bytes_in / len(tally.latencies_ms) if tally.latencies_ms else 0,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(spec))
    else:
        result = uvloop.run(run(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
