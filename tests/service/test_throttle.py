"""Wrong keys from one address: counted in a sliding window with bounded memory, then 429 on the API and the sign-in page."""

from __future__ import annotations

import re

from service.throttle import FAILURE_LIMIT, FAILURE_WINDOW_SECONDS, FailureLimiter, client_address
from tests.service.conftest import KEYS, PREDICT_KEY, REVIEW_KEY, ClientFactory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_address_is_turned_away_after_the_limit_until_its_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    limiter = FailureLimiter(limit=3, window=60, clock=clock)
    for _ in range(2):
        limiter.record("10.0.0.1")
        clock.now += 10
    assert limiter.retry_after("10.0.0.1") is None, "below the limit an address may keep trying"
    limiter.record("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 40, "at the limit: until the first failure (40 s from now) leaves the window"
    assert limiter.retry_after("10.0.0.2") is None, "other addresses are not affected"
    clock.now += 41
    assert limiter.retry_after("10.0.0.1") is None, "once the oldest failure is out of the window, it may try again"


def test_the_record_of_addresses_is_bounded() -> None:
    limiter = FailureLimiter(limit=3, window=60, max_addresses=100, clock=Clock())
    for n in range(10_000):
        limiter.record(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert limiter.tracked() == 100, f"at most max_addresses are remembered, the longest quiet forgotten first: {limiter.tracked()}"


def test_ipv6_addresses_count_by_their_64_network() -> None:
    one = client_address({"client": ("2001:db8:1:2:aaaa::1", 1)})
    other = client_address({"client": ("2001:db8:1:2:bbbb::9", 1)})
    assert one == other == "2001:db8:1:2::/64", f"one machine's /64 is one address: {one}, {other}"
    assert client_address({"client": ("192.0.2.7", 1)}) == "192.0.2.7" and client_address({}) == "unknown", "IPv4 as it is"


def test_the_api_answers_429_after_too_many_wrong_keys_even_to_a_right_one(make_client: ClientFactory) -> None:
    client = make_client(api_keys=KEYS)
    for n in range(FAILURE_LIMIT):
        r = client.get("/v1/model", headers={"X-API-Key": f"wrong-key-{n:04d}-0123456789"})
        assert r.status_code == 401, f"wrong key {n + 1} of {FAILURE_LIMIT} is a 401: {r.status_code}"
    r = client.get("/v1/model", headers={"X-API-Key": PREDICT_KEY})
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_failed_attempts", f"no key is checked now: {r.status_code} {r.text}"
    assert 0 < int(r.headers["retry-after"]) <= FAILURE_WINDOW_SECONDS, f"Retry-After says when: {r.headers.get('retry-after')}"
    assert client.get("/healthz").status_code == 200, "requests that need no key are not affected"


def test_the_sign_in_page_answers_429_after_too_many_wrong_keys(make_client: ClientFactory) -> None:
    client = make_client(api_keys=KEYS)

    def sign_in(key: str) -> int:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/review/sign-in").text)
        assert csrf, "the sign-in form has a CSRF token"
        return client.post("/review/sign-in", data={"csrf": csrf.group(1), "name": "Eve", "key": key}, follow_redirects=False).status_code

    assert [sign_in(f"guess-{n:04d}-0123456789abc") for n in range(FAILURE_LIMIT)] == [401] * FAILURE_LIMIT, "each wrong key is refused"
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/review/sign-in").text)
    assert csrf
    r = client.post("/review/sign-in", data={"csrf": csrf.group(1), "name": "Anna", "key": REVIEW_KEY}, follow_redirects=False)
    assert r.status_code == 429 and "retry-after" in r.headers, f"even the right key waits now: {r.status_code}"
    assert "För många felaktiga nycklar" in r.text, "the page says why, in the agent's language"
