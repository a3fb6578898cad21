"""The client's sockets (aiohttp under httpx): answers arrive intact, failures keep their meaning.

A refused connection sent nothing; a connection that breaks after the request went out, or an
answer that never comes, leaves a call-placing request's outcome unknown (never re-sent).
Servers here are raw asyncio sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import Awaitable, Callable

import pytest

from bot.kaleyra import KaleyraClient, KaleyraConnectionError, KaleyraTimeout
from bot.kaleyra.models import ClickToCallRequest

DIAL = ClickToCallRequest(caller="9876543210", receiver="9123456789")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler) -> tuple[asyncio.base_events.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/"


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


def answer(body: bytes, *extra: bytes) -> bytes:
    lines = [b"HTTP/1.1 200 OK", b"Content-Type: application/json", *extra]
    lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


async def test_form_headers_and_gzip_answer_go_through() -> None:
    seen: list[tuple[bytes, bytes]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        payload = json.dumps({"status": "200", "message": "OK", "data": {"id": "c2c_9"}})
        writer.write(answer(gzip.compress(payload.encode()), b"Content-Encoding: gzip"))
        await writer.drain()
        writer.close()

    server, url = await serve(handler)
    client = KaleyraClient(api_key="secret-key", voice_url=url)
    try:
        result = await client.click_to_call(DIAL)
    finally:
        await client.aclose()
        server.close()
    assert result.id == "c2c_9"
    head, body = seen[0]
    assert b"x-api-key: secret-key" in head.lower()
    assert head.lower().count(b"host:") == 1 and head.lower().count(b"content-length:") == 1
    assert b"method=dial.click2call" in body and b"receiver=9123456789" in body


async def test_refused_connection_means_nothing_was_sent() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = KaleyraClient(api_key="k", voice_url=f"http://127.0.0.1:{port}/v1/")
    try:
        with pytest.raises(KaleyraConnectionError) as err:
            await client.click_to_call(DIAL)
    finally:
        await client.aclose()
    assert err.value.outcome_unknown is False
    assert "nothing was sent" in err.value.user_message


async def test_connection_broken_after_the_request_leaves_the_dial_unknown() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()  # the request arrived; no answer

    server, url = await serve(handler)
    client = KaleyraClient(api_key="k", voice_url=url)
    try:
        with pytest.raises(KaleyraConnectionError) as err:
            await client.click_to_call(DIAL)
    finally:
        await client.aclose()
        server.close()
    assert err.value.outcome_unknown is True


async def test_no_answer_in_time_leaves_the_dial_unknown_and_is_sent_once() -> None:
    arrived: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        arrived.append((await read_request(reader))[1])
        await asyncio.sleep(5)
        writer.close()

    server, url = await serve(handler)
    client = KaleyraClient(api_key="k", voice_url=url, timeout=0.3)
    try:
        with pytest.raises(KaleyraTimeout) as err:
            await client.click_to_call(DIAL)
    finally:
        await client.aclose()
        server.close()
    assert err.value.outcome_unknown is True and len(arrived) == 1


async def test_many_requests_in_flight_share_the_pool() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            await asyncio.sleep(0.05)
            writer.write(answer(b'{"status":"200","message":"OK","data":{"id":"c2c_1"}}'))
            await writer.drain()
        writer.close()

    server, url = await serve(handler)
    client = KaleyraClient(api_key="k", voice_url=url, calls_in_flight=100)
    try:
        results = await asyncio.gather(*(client.click_to_call(DIAL) for _ in range(150)))
    finally:
        await client.aclose()
        server.close()
    assert [r.id for r in results] == ["c2c_1"] * 150
