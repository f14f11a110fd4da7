"""Telegram Bot API transport (``transport.py``) and its webhook (``webhook.py``)."""
