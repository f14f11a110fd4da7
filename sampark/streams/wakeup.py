"""Waking the ticker when a stream is created or resumed, so its first tick is not late.

The ticker sleeps until the earliest due tick (or its next lease renewal). A new stream may be due
sooner: the service enqueues :func:`wake_ticker` on commit, and the worker process that runs it sets
the event the ticker sleeps on. In a deployment with several workers the task may land on one that
does not hold the lease; that ticker then simply notices at its next renewal (a few seconds).
"""

from __future__ import annotations

import threading

from huey.contrib.djhuey import db_task

event = threading.Event()


@db_task(retries=0)
def wake_ticker() -> None:
    event.set()
