"""The users of a campaign day, in a process of their own (aiohttp, one event loop).

- Feed pollers: each opens its volunteer's feed page once (as a phone does), then asks
  ``poll/?after=<newest seen>`` every ``data-every`` seconds × U(0.8, 1.2), exactly like ``feed.js``;
  the 1,000 phones open over the first ``ramp_s`` seconds.
- Coordinators: each logs in through the login form, then loads the pages of its own area one after
  another with a think time of U(1, 4) s between them, following redirects as a browser does (``/``
  leads to the state's page; the time covers both).

``ready`` counts the users past their start (feed page loaded, login tried), so that the broadcast
starts in the steady state, not in the burst of phones opening their feeds.

Every request is recorded as ``(kind, finished at (Unix time), seconds, HTTP status or exception
name, path kind)``; the list goes back over the pipe when ``stop`` is set.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from typing import Any

Record = tuple[str, float, float, str, str]

_TICK = re.compile(rb'data-tick="(\d+)"')
_EVERY = re.compile(rb'data-every="(\d+)"')
_CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


def run(
    base: str,
    tokens: list[str],
    coordinators: list[tuple[str, list[str]]],
    password: str,
    ramp_s: float,
    stop: Any,
    ready: Any,
    conn: Any,
) -> None:
    conn.send(asyncio.run(_main(base, tokens, coordinators, password, ramp_s, stop, ready)))


async def _main(
    base: str,
    tokens: list[str],
    coordinators: list[tuple[str, list[str]]],
    password: str,
    ramp_s: float,
    stop: Any,
    ready: Any,
) -> dict[str, Any]:
    import aiohttp

    records: list[Record] = []
    notes: list[str] = []
    rng = random.Random(11)
    timeout = aiohttp.ClientTimeout(total=30)

    async def timed(
        session: aiohttp.ClientSession, kind: str, path: str, label: str, *, follow: bool = False
    ) -> tuple[str, bytes]:
        """One GET, timed. ``follow``: through redirects as a browser would (``/`` leads to the state's
        page), the time covering them all; ending on the login page (session lost) is an error."""
        start = time.perf_counter()
        try:
            async with session.get(base + path, allow_redirects=follow) as response:
                body = await response.read()
                code = str(response.status)
                if follow and response.url.path.startswith("/login/"):
                    code = "login page"
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            body, code = b"", type(exc).__name__
        records.append((kind, time.time(), time.perf_counter() - start, code, label))
        if code not in ("200", "204") and len(notes) < 20:
            notes.append(f"{kind} {label}: {code} {body[:200]!r}")
        return code, body

    async def pause(seconds: float) -> bool:
        """Sleep up to ``seconds``; False once the run is over."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if stop.is_set():
                return False
            await asyncio.sleep(min(0.2, deadline - time.monotonic()))
        return not stop.is_set()

    async def poller(session: aiohttp.ClientSession, token: str, delay: float) -> None:
        if not await pause(delay):
            return
        try:
            code, body = await timed(session, "feed page", f"/f/{token}/", "/f/<token>/")
        finally:
            with ready.get_lock():
                ready.value += 1
        found = [int(n) for n in _TICK.findall(body)]
        newest = max(found, default=0)
        every = int(m.group(1)) if (m := _EVERY.search(body)) else 10
        while await pause(every * rng.uniform(0.8, 1.2)):
            code, body = await timed(session, "feed poll", f"/f/{token}/poll/?after={newest}", "poll")
            if code == "200":
                newest = max([newest, *(int(n) for n in _TICK.findall(body))])

    async def guarded(kind: str, work: Any) -> None:
        """One user's loop; a failure outside a timed request ends that user, noted, not the run."""
        try:
            await work
        except Exception as exc:  # reported as an error of the run
            records.append((kind, time.time(), 0.0, type(exc).__name__, "crashed"))
            notes.append(f"{kind} crashed: {type(exc).__name__}: {exc}")

    async def coordinator(username: str, pages: list[str], delay: float) -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1 (an IP address)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=timeout) as session:
            if not await pause(delay):
                return
            try:
                async with session.get(f"{base}/login/") as response:
                    form = await response.read()
                match = _CSRF.search(form)
                data = {
                    "username": username,
                    "password": password,
                    "csrfmiddlewaretoken": match.group(1).decode() if match else "",
                }
                start = time.perf_counter()
                async with session.post(f"{base}/login/", data=data, allow_redirects=False) as response:
                    await response.read()
                    code = str(response.status)
                records.append(("login", time.time(), time.perf_counter() - start, code, "/login/"))
            finally:
                with ready.get_lock():
                    ready.value += 1
            if code != "302":
                notes.append(f"login {username}: {code}")
                return
            n = rng.randrange(len(pages))
            while not stop.is_set():
                page = pages[n % len(pages)]
                n += 1
                await timed(session, "page", page, re.sub(r"\d+", "N", page.split("?")[0]), follow=True)
                if not await pause(rng.uniform(1.0, 4.0)):
                    break

    connector = aiohttp.TCPConnector(limit=len(tokens) + 10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as feed_session:
        tasks = [
            guarded("feed poll", poller(feed_session, token, rng.uniform(0, ramp_s))) for token in tokens
        ]
        tasks += [
            guarded("page", coordinator(name, pages, rng.uniform(0, ramp_s))) for name, pages in coordinators
        ]
        await asyncio.gather(*tasks)
    return {"records": records, "notes": notes}
