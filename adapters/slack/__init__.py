"""Slack through slack-bolt: payloads to neutral events, neutral cards to Block Kit."""
