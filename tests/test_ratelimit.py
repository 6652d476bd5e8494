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


def test_requests_counted_by_hubspot_but_not_sent_by_us_are_waited_for():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(10, 10.0, margin_seconds=0.01, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.observe_remaining(2)                    # HubSpot counts 8: 7 of them not ours
    clock.now += 1.0
    limiter.acquire()
    limiter.acquire()                               # the 10th request in the window
    assert clock.sleeps == []
    limiter.acquire()                               # waits for our first request to leave it
    assert clock.sleeps == [9.01] and clock.now == 10.01
    assert limiter.seconds_until_free() == 0.0  # those 8 left together; 3 remain


def test_seconds_until_free_is_zero_with_room_and_the_oldest_request_otherwise():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 10.0, margin_seconds=0.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    assert limiter.seconds_until_free() == 0.0
    clock.now += 4.0
    limiter.acquire()
    assert limiter.seconds_until_free() == 6.0


def test_a_larger_hubspot_window_leaves_our_whole_share_while_it_has_room():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(100, 10.0, margin_seconds=0.0, clock=clock, sleep=clock.sleep)
    limiter.observe_remaining(150)   # HubSpot allows 190; another app has used 40 of them
    for _ in range(100):
        limiter.acquire()
    assert clock.sleeps == []
    clock.now += 5.0
    limiter.observe_remaining(30)    # 30 left of 190: HubSpot counts our 100 and 60 others'
    limiter.acquire()                # our share is used up: wait for our first request to leave
    assert clock.sleeps == [5.0]
