"""How long the client waits after a 429: HubSpot sends no Retry-After, so it decides."""

import json

from hubspot_metrics.client import HubSpotClient
from hubspot_metrics.config import HubSpotSettings

TEN_SECONDLY = json.dumps({"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                           "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})


class Refused(Exception):
    def __init__(self, remaining: str | None):
        self.status, self.body = 429, TEN_SECONDLY
        self.headers = {"X-HubSpot-RateLimit-Max": "100"} | (
            {"X-HubSpot-RateLimit-Remaining": remaining} if remaining is not None else {})


class Answer:
    """What the SDK hands back with _preload_content=False: a urllib3 response, read in chunks."""
    status, headers = 200, {}

    def stream(self, amount):
        yield b'{"results": []}'

    def release_conn(self):
        pass


def waits_for(refusals: list[Exception], *, sent_before: int = 0) -> list[float]:
    """Every wait of one call (the retries' and the limiter's), on a fake clock that the waits move."""
    now, slept = [0.0], []

    def sleep(seconds):
        now[0] += seconds
        slept.append(round(seconds, 3))

    client = HubSpotClient(HubSpotSettings(base_url="http://127.0.0.1:9", access_token="pat-test", requests_per_10s=100,
                                           max_retries=8), sleep=sleep, clock=lambda: now[0])
    for _ in range(sent_before):
        client.limiter.acquire()
    queue = list(refusals)

    def endpoint(**_):
        if queue:
            raise queue.pop(0)
        return Answer()

    assert client.call("the test endpoint", endpoint) == {"results": []}
    return slept


def test_a_window_filled_by_others_is_retried_after_2_4_8_then_10_seconds():
    assert waits_for([Refused("0")] * 5) == [2.0, 4.0, 8.0, 10.0, 10.0]
    assert waits_for([Refused(None)]) == [2.0]


def test_a_refusal_with_room_left_in_the_window_is_retried_after_a_second():
    assert waits_for([Refused("37")]) == [1.0]


def test_a_window_we_filled_ourselves_frees_when_our_oldest_request_leaves_it():
    # 100 requests at t = 0 (99 and the refused one): the retry waits until they leave the
    # window (10 s plus the margin), and then the limiter has room at once.
    assert waits_for([Refused("0")], sent_before=99) == [10.2]
