"""Helpers of ``bench/campaign_day.py``: the data it builds, the fake's process, the load generator."""
