"""Kaleyra Voice (legacy) and kaleyra.io Outbound Calling client."""

from bot.kaleyra.bulk import BulkResult, ChunkOutcome
from bot.kaleyra.client import KaleyraClient
from bot.kaleyra.errors import (
    KaleyraAPIError,
    KaleyraBadAnswer,
    KaleyraConnectionError,
    KaleyraError,
    KaleyraServerError,
    KaleyraTimeout,
)

__all__ = [
    "BulkResult",
    "ChunkOutcome",
    "KaleyraAPIError",
    "KaleyraBadAnswer",
    "KaleyraClient",
    "KaleyraConnectionError",
    "KaleyraError",
    "KaleyraServerError",
    "KaleyraTimeout",
]
