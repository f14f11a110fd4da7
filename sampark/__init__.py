"""Sampark: a booth-level organisation's digital campaign, self-hosted."""
