"""This process's name among the replicas: who holds a lease, in logs and /healthz."""

from __future__ import annotations

import os
import secrets
import socket

# Host and pid say where to look; the random part tells a restarted pid from the one before it.
REPLICA_ID = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
