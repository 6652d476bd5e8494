"""The client-side limiter keeps any rolling window at or under its limit."""

from hubspot_metrics.ratelimit import SlidingWindowLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def test_no_window_ever_holds_more_than_the_limit():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(5, 10.0, margin_seconds=0.01, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(23):
        limiter.acquire()
        sent.append(clock.now)
        clock.now += 0.1  # each request takes 100 ms
    for t in sent:
        assert sum(1 for s in sent if t <= s < t + 10.0) <= 5
    # 23 requests at 5 per 10 s: the 21st starts after four windows (plus four 10 ms margins).
    assert abs(sent[20] - 40.04) < 1e-6
    assert len(clock.sleeps) == 4


def test_lower_to_reduces_but_never_raises():
    limiter = SlidingWindowLimiter(100, 10.0)
    limiter.lower_to(150)
    assert limiter.limit == 100
    limiter.lower_to(40)
    assert limiter.limit == 40
