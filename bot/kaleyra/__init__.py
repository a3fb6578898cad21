"""Kaleyra Voice (legacy) and kaleyra.io Outbound Calling client."""

from bot.kaleyra.client import BulkResult, ChunkOutcome, KaleyraClient
from bot.kaleyra.errors import (
    KaleyraAPIError,
    KaleyraConnectionError,
    KaleyraError,
    KaleyraServerError,
    KaleyraTimeout,
)

__all__ = [
    "BulkResult",
    "ChunkOutcome",
    "KaleyraAPIError",
    "KaleyraClient",
    "KaleyraConnectionError",
    "KaleyraError",
    "KaleyraServerError",
    "KaleyraTimeout",
]
