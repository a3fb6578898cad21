"""Files users upload in forms, read with the bot token."""

from __future__ import annotations

from typing import Any

import httpx
from slack_sdk.web.async_client import AsyncWebClient


async def download(client: AsyncWebClient, file: dict[str, Any], limit: int) -> bytes:
    """A file a user uploaded in a form, read with the bot token (needs files:read)."""
    url = file.get("url_private_download") or file.get("url_private")
    if not url:
        info = await client.files_info(file=file["id"])
        url = info["file"].get("url_private_download") or info["file"]["url_private"]
    async with (
        httpx.AsyncClient(timeout=30, follow_redirects=True) as http,
        http.stream("GET", url, headers={"Authorization": f"Bearer {client.token}"}) as response,
    ):
        response.raise_for_status()
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > limit:
                raise ValueError(f"the file is larger than {limit // 1024 // 1024} MB")
        return bytes(data)
