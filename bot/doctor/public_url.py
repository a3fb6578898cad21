"""PUBLIC_URL: reachable from this host, and serving this bot's /healthz (where Kaleyra calls back)."""

from __future__ import annotations

import httpx

from bot.doctor.checks import Check
from bot.settings import Settings

AREA = "public_url"
NAME = "PUBLIC_URL"
TIMEOUT_SECONDS = 10.0


async def check_public_url(settings: Settings) -> Check:
    if not settings.public_url:
        return Check.skip(AREA, NAME, "not set: call progress is read from Kaleyra by polling")
    url = f"{settings.public_url}/healthz"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=True) as http:
            answer = await http.get(url)
    except httpx.HTTPError as exc:
        return Check.fail(
            AREA,
            NAME,
            f"{url} cannot be reached from this host ({type(exc).__name__}): Kaleyra's call"
            " callbacks to PUBLIC_URL/kaleyra/callback/… would be lost and call cards would"
            " not move",
            f"check DNS, the TLS certificate and the proxy in front of voicebot (`curl -i {url}`);"
            " or unset PUBLIC_URL to poll call status instead. Before `voicebot serve` runs,"
            " use `voicebot doctor --skip public_url`",
        )
    return _healthz(settings, url, answer)


def _healthz(settings: Settings, url: str, answer: httpx.Response) -> Check:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body or "kaleyra" not in body:
        return Check.fail(
            AREA,
            NAME,
            f"{url} answered HTTP {answer.status_code}, but not with voicebot's /healthz",
            "PUBLIC_URL must be the public address of this voicebot (the proxy's route to"
            f" PORT {settings.port}), without a path",
        )
    if answer.status_code == 503:
        return Check.warn(AREA, NAME, f"{url}: voicebot is there but still starting (503)")
    expected = {
        "kaleyra": "sandbox" if settings.uses_sandbox else "live",
        "mode": "socket" if settings.socket_mode else "http",
    }
    seen = {name: body.get(name) for name in expected}
    if seen != expected:
        there = ", ".join(f"{k} {v}" for k, v in seen.items())
        here = ", ".join(f"{k} {v}" for k, v in expected.items())
        return Check.fail(
            AREA,
            NAME,
            f"{url} is another voicebot ({there}; this configuration: {here})",
            "point PUBLIC_URL at the voicebot started with this configuration",
        )
    if str(answer.url) != url:
        final = f"{answer.url.scheme}://{answer.url.netloc.decode()}"
        return Check.warn(
            AREA,
            NAME,
            f"{url} answers only after a redirect to {answer.url}; Kaleyra's callbacks may not"
            " follow redirects",
            f"set PUBLIC_URL to {final}",
        )
    return Check.ok(AREA, NAME, f"{url} answers: this voicebot is serving")
