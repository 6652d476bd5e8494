"""The demo's simulated portal, served from a process of its own:

    python -m hubspot_metrics.portal.child

`hubspot-metrics demo` starts this before anything else, so that importing numpy, generating
the portal and answering every request run on a second core instead of taking turns with the
demo's own imports and sync for one interpreter lock. The exchange is one JSON line each way:
the parent writes {"scale", "seed", "requests_per_10s"} on our stdin; we answer on stdout with
{"url", "token", "now"} once the server listens, or {"error"} when it cannot.

Our stdin is the parent's lifeline. When it ends (the demo is done, failed, or was killed,
even with SIGKILL) we exit at once, so no portal outlives its demo.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading


def main() -> None:
    # Ctrl-C on a terminal reaches the whole process group. The demo answers it with its usual
    # line and closes our stdin; dying of it here too could only race that with "portal stopped".
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    orders: queue.Queue[bytes] = queue.Queue()
    # Watching comes first, before the imports: a parent that dies while we load must not leave us behind.
    threading.Thread(target=_follow_parent, args=(orders,), name="parent-watch", daemon=True).start()
    try:
        from . import SANDBOX_TOKEN
        from .generate import generate_portal
        from .server import PortalServer

        order = json.loads(orders.get())
        portal = generate_portal(scale=order["scale"], seed=order["seed"])
        # Still, as the demo has always been: nothing changes while the demo syncs.
        server = PortalServer(portal, token=SANDBOX_TOKEN, requests_per_10s=order["requests_per_10s"]).start()
    except Exception as exc:  # (MemoryError at a huge scale, no free port, a broken install)
        _answer({"error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
        os._exit(1)
    _answer({"url": server.url, "token": SANDBOX_TOKEN, "now": portal.now.isoformat()})
    threading.Event().wait()  # serve until the parent lets go (_follow_parent ends the process)


def _follow_parent(orders: queue.Queue[bytes]) -> None:
    order = sys.stdin.buffer.readline()
    if order:
        orders.put(order)
        sys.stdin.buffer.read()  # nothing more comes: this returns when the parent closes the pipe or dies
    # os._exit, not sys.exit: the server's threads need no goodbye, and unwinding a portal
    # generated with gc.freeze() only costs the parent time while it waits for us.
    os._exit(0)


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
