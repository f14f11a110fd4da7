"""Errors shared below the apps: :class:`TransportError`, what a send to a provider can end in.

It lives in ``core`` (not in ``transports``) because the one outbound HTTP seam (:mod:`sampark.core.http`)
raises it for every network failure, and ``core`` imports no app. ``sampark.transports.base`` re-exports
it: transports and the dispatcher keep importing it from there.
"""

from __future__ import annotations


class TransportError(Exception):
    """A send that did not succeed.

    ``permanent``: retrying the same message cannot help (bad number, not on WhatsApp, policy block).
    ``retry_after``: seconds the provider asked us to wait (Telegram 429, WhatsApp throughput).
    ``pause_sender``: stop every broadcast on this sender and alert (WhatsApp 131048 spam limit).
    ``code``: the provider's error code, kept with the delivery (``timeout`` / ``network`` for the
    failures the HTTP seam maps).
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        code: str = "",
        retry_after: float | None = None,
        pause_sender: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.pause_sender = pause_sender
