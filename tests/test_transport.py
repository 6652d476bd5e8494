"""Request deadlines: one watching thread for all requests, and an expired one cuts its socket."""

from __future__ import annotations

import socket
import threading
import time

from hubspot_metrics.transport import Deadline


class Conn:
    def __init__(self):
        self.sock, self.peer = socket.socketpair()


def test_one_thread_watches_every_deadline(monkeypatch):
    started = []
    real_start = threading.Thread.start

    def counting_start(thread):
        started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for _ in range(50):
        with Deadline(30) as deadline:
            deadline.watch(Conn())
    # (the watching thread may already run from an earlier test: then none is started at all)
    assert started in ([], ["request-deadlines"])


def test_an_expired_deadline_shuts_the_socket_and_a_finished_one_does_not():
    slow, quick = Conn(), Conn()
    with Deadline(0.05) as deadline:
        deadline.watch(slow)
        assert slow.sock.recv(1) == b""  # unblocked by the shutdown, not by the peer
    assert deadline.expired
    with Deadline(0.05) as finished:
        finished.watch(quick)
    time.sleep(0.2)
    quick.peer.sendall(b"x")
    assert not finished.expired and quick.sock.recv(1) == b"x"
