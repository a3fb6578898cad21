"""Keys seen within a sliding window of time, answered from memory on the hot path."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class RecentKeys:
    """Keys with the time each was last seen, oldest first; older than `window` are dropped.

    `clock` and `window` only need to subtract and compare: `time.monotonic` with seconds, or a
    datetime clock with a timedelta.
    """

    def __init__(self, window: Any, clock: Callable[[], Any]) -> None:
        self.window = window
        self.clock = clock
        self._seen: OrderedDict[Hashable, Any] = OrderedDict()

    def _expire(self) -> None:
        now = self.clock()
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at < self.window:
                break
            del self._seen[oldest]

    def __contains__(self, key: Hashable) -> bool:
        self._expire()
        return key in self._seen

    def __len__(self) -> int:
        self._expire()
        return len(self._seen)

    def add(self, key: Hashable, at: Any = None) -> None:
        """Seen now (or at `at`; keys must arrive oldest first)."""
        self._expire()
        self._seen[key] = self.clock() if at is None else at
        self._seen.move_to_end(key)

    def discard(self, key: Hashable) -> None:
        self._seen.pop(key, None)

    def first_time(self, key: Hashable) -> bool:
        """True if `key` was not seen within the window; it is seen from now on."""
        if key in self:
            return False
        self.add(key)
        return True
