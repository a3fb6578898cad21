"""Local stand-ins: the console, the fake Slack, a server thread, the whole stack in one process."""
