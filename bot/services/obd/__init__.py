"""Broadcasts as durable campaigns: plan, confirm, send chunk by chunk, pause, resume, cancel,
pace, follow the calls, report the results and call the unreached again.

Nothing about a campaign lives only in memory. Its row and one row per Kaleyra request (chunk)
are in the store: a chunk is marked *sending* before its request and settled after it, each in
its own transaction, so after a crash the owner is told what went out and Resume sends only
what never did. What is kept here (runner tasks, the pacing clock, progress throttling, a cache
of plans) is rebuilt from the store by a new process.

One service, `Broadcasts`, in parts by job: `plan` (proposals and their checks), `runner`
(Start, the chunks sent with pacing and the calling window, restarts), `control` (Pause,
Resume, Cancel), `progress` (status, list, the live message), `results` (following the calls,
the summary and its CSV), over `base` (shared state, the window, the audit trail), `sender`
(one chunk's Kaleyra request) and `config`.
"""

from __future__ import annotations

from bot.services.obd.config import BroadcastConfig
from bot.services.obd.control import Controls
from bot.services.obd.plan import Planning
from bot.services.obd.progress import Progress
from bot.services.obd.results import Results, results_csv
from bot.services.obd.runner import Running

__all__ = ["BroadcastConfig", "Broadcasts", "results_csv"]


class Broadcasts(Planning, Running, Controls, Progress, Results):
    """Broadcasts and dialer uploads, from their proposal to their results."""
