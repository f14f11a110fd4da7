"""Providers that carry messages: one package per provider behind :class:`base.Transport`.

This package depends only on ``sampark.core``; what a webhook learns (statuses, inbound messages) is
handed to the receiver that the messaging app registers (:mod:`events`).
"""
