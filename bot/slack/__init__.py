"""Slack plumbing: the Bolt app, the Web API client, replies, notifications, forms, files."""
