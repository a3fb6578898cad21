"""Files users upload in forms, read with the bot token."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from slack_sdk.web.async_client import AsyncWebClient

# Where Slack serves uploaded files. The bot token goes to these hosts and nowhere else: a
# file object in a payload names its own URL, and a forged one must not collect the token.
SLACK_FILE_HOSTS = frozenset({"files.slack.com"})
SLACK_FILE_DOMAINS = (".slack-edge.com",)
MAX_REDIRECTS = 3


class NotASlackFile(ValueError):
    """The URL is not on Slack's file hosts; nothing was requested from it."""


def allowed(url: str, api_url: str) -> bool:
    """True for https on Slack's file hosts, or the host (and scheme) of SLACK_API_URL itself
    (a stand-in Slack, as the tests and the console run)."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
        host = (target.hostname or "").lower()
        port = target.port
    except ValueError:  # an unparsable URL or port
        return False
    if target.username or target.password:
        return False
    if target.scheme == api.scheme and host and target.netloc.lower() == api.netloc.lower():
        return True
    if target.scheme != "https" or port not in (None, 443):
        return False
    return host in SLACK_FILE_HOSTS or host.endswith(SLACK_FILE_DOMAINS)


def _refuse(url: str) -> NotASlackFile:
    host = urlsplit(url).hostname if url else None
    return NotASlackFile(
        f"The file's address ({host or 'none'}) is not on Slack's file servers, so the bot did"
        " not download it. Upload the file in the form again."
    )


async def download(client: AsyncWebClient, file: dict[str, Any], limit: int) -> bytes:
    """A file a user uploaded in a form, read with the bot token (needs files:read)."""
    url = file.get("url_private_download") or file.get("url_private")
    if not url:
        info = await client.files_info(file=file["id"])
        url = info["file"].get("url_private_download") or info["file"]["url_private"]
    api_url = client.base_url
    headers = {"Authorization": f"Bearer {client.token}"}
    async with httpx.AsyncClient(timeout=30, follow_redirects=False) as http:
        for _ in range(MAX_REDIRECTS + 1):
            if not isinstance(url, str) or not allowed(url, api_url):
                raise _refuse(url if isinstance(url, str) else "")
            async with http.stream("GET", url, headers=headers) as response:
                if response.is_redirect and "location" in response.headers:
                    # Each hop is checked again: the token follows only to Slack's hosts.
                    url = urljoin(url, response.headers["location"])
                    continue
                response.raise_for_status()
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > limit:
                        raise ValueError(f"the file is larger than {limit // 1024 // 1024} MB")
                return bytes(data)
    raise ValueError("Slack redirected the download too many times; upload the file again.")
