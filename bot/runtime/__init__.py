"""Process-level machinery: background tasks, windows, logs, metrics, the scheduler."""
