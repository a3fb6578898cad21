"""An httpx transport over aiohttp's connection pool, for the client's network requests.

The client keeps one code path (httpx requests, responses and exceptions: tests substitute
`httpx.MockTransport`, the embedded sandbox `httpx.ASGITransport`); only the sockets are
aiohttp's. Measured here with 200 requests in flight (bench/README.md), httpcore's pool cost
2.4 to 5 ms of CPU a request (it walks and polls every pooled connection on each request, and
re-queues waiters that lose a race for a freed connection); aiohttp's costs 0.4 to 0.9 ms.
Errors are mapped to the httpx exceptions the client already tells apart: nothing was sent
(connect errors and timeouts) or the outcome is unknown (read timeouts, broken connections).
"""

from __future__ import annotations

import aiohttp
import httpx

# Set by aiohttp itself; passing httpx's copies would send them twice.
_OWN_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding", b"connection"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, connections: int = 250, keepalive_seconds: float = 15.0) -> None:
        self._connections = max(1, connections)
        self._keepalive = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop (aiohttp binds a session to its loop).
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._connections, limit_per_host=0, keepalive_timeout=self._keepalive
            )
            # httpx decodes Content-Encoding itself, so the body is handed over as it came.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        limits = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.get("pool"),
            sock_connect=timeout.get("connect"),
            sock_read=timeout.get("read"),
        )
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            if k.lower() not in _OWN_HEADERS
        ]
        body = await request.aread()
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                data=body or None,
                headers=headers,
                timeout=limits,
                allow_redirects=False,
            ) as answer:
                content = await answer.read()
                status, raw_headers = answer.status, list(answer.raw_headers)
        except aiohttp.ConnectionTimeoutError as exc:  # no connection: nothing was sent
            raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc) or "connect error", request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
        except aiohttp.ClientError as exc:  # sent, then the connection broke
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        return httpx.Response(status, headers=raw_headers, content=content, request=request)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
