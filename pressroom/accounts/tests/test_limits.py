"""Sign-in lock-out, the shared counters, and the visitor's address behind a reverse proxy."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.signals import user_login_failed
from django.db import connection
from django.test import Client, RequestFactory

from pressroom.accounts.limits import DatabaseCounterStore
from pressroom.accounts.models import RateLimitCounter
from pressroom.lib.ratelimit import Limit, client_address

LOCKED = "Too many sign-in attempts"


def sign_in(browser: Client, username: str, password: str, address: str = "203.0.113.5"):
    return browser.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def password_checks():
    """How many passwords Django actually checked and found wrong."""
    failures: list[str] = []

    def count(sender, credentials, **kwargs):
        failures.append(credentials.get("username", ""))

    user_login_failed.connect(count, dispatch_uid="test-password-checks")
    yield failures
    user_login_failed.disconnect(dispatch_uid="test-password-checks")


@pytest.mark.django_db
def test_forty_wrong_passwords_get_five_checks_then_the_account_is_locked(
    editor, password_checks, settings
):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 5
    browser = Client()
    answers = [sign_in(browser, "edna", f"guess {n}").content.decode() for n in range(40)]
    assert len(password_checks) == 5
    assert all(LOCKED not in page for page in answers[:5])
    assert all(LOCKED in page for page in answers[5:])
    # Locked: the right password is not even checked, and lets nobody in.
    response = sign_in(browser, "edna", "correct horse battery")
    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert browser.get("/admin/").status_code == 302
    # Another account from another address is not affected.
    assert sign_in(Client(), "other", "nope", address="198.51.100.2").status_code == 200
    assert LOCKED not in sign_in(Client(), "x", "y", address="198.51.100.2").content.decode()


@pytest.mark.django_db
def test_one_address_trying_many_accounts_is_locked_out(editor, password_checks, settings):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS = 10
    browser = Client()
    for n in range(15):
        sign_in(browser, f"user{n}", "guess")
    assert len(password_checks) == 10
    assert LOCKED in sign_in(browser, "edna", "correct horse battery").content.decode()
    # The editor, signing in from the newsroom, is not.
    newsroom = Client()
    response = sign_in(newsroom, "edna", "correct horse battery", address="192.0.2.50")
    assert response.status_code == 302


@pytest.mark.django_db
def test_a_successful_sign_in_clears_the_accounts_failures(editor, settings):
    settings.LOGIN_ATTEMPTS_PER_ACCOUNT = 3
    for _ in range(2):
        sign_in(Client(), "edna", "typo")
    assert sign_in(Client(), "edna", "correct horse battery").status_code == 302
    for _ in range(2):
        sign_in(Client(), "edna", "typo")
    assert sign_in(Client(), "edna", "correct horse battery").status_code == 302


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason=(
        "SQLite's in-memory test database is shared between threads through its shared cache, "
        "whose table locks fail at once instead of waiting; the two-server test "
        "(tests/test_abuse_limits_across_processes.py) counts on a SQLite file instead."
    ),
)
def test_concurrent_attempts_are_all_counted(settings):
    """Many threads (each its own database connection) hitting one key: no count is lost."""
    limit = Limit("test-concurrent", 1000, 3600)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(10):
                limit.hit("203.0.113.9")
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert RateLimitCounter.objects.get().count == 80
    assert not Limit("test-concurrent", 80, 3600).hit("203.0.113.9")


@pytest.mark.django_db
def test_counters_keep_no_address_and_expired_windows_are_swept():
    store = DatabaseCounterStore()
    store.hit("old", 0, 60)  # a window that ended in 1970
    Limit("digest-signup", 10, 3600).hit("203.0.113.77")
    assert not RateLimitCounter.objects.filter(key="old").exists()
    [counter] = RateLimitCounter.objects.all()
    assert "203.0.113.77" not in counter.key


@pytest.mark.parametrize(
    ("header", "count", "meta", "expected"),
    [
        ("", 1, {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "10.0.0.1"),  # no proxy: ignored
        ("X-Forwarded-For", 1, {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "198.51.100.1"),
        # What the visitor wrote before nginx appended the real address is ignored.
        (
            "X-Forwarded-For",
            1,
            {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.1"},
            "198.51.100.1",
        ),
        # A CDN in front of nginx: the address the CDN saw is second from the right.
        (
            "X-Forwarded-For",
            2,
            {"HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.1, 203.0.113.10"},
            "198.51.100.1",
        ),
        ("X-Forwarded-For", 2, {"HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "10.0.0.1"),
        ("X-Real-IP", 1, {"HTTP_X_REAL_IP": "198.51.100.7"}, "198.51.100.7"),
        ("X-Real-IP", 1, {}, "10.0.0.1"),
    ],
)
def test_the_visitors_address_comes_from_the_trusted_proxy_header(
    settings, header, count, meta, expected
):
    settings.TRUSTED_PROXY_HEADER = header
    settings.TRUSTED_PROXY_COUNT = count
    settings.TRUSTED_PROXY_ADDRESSES = ["10.0.0.0/8"]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **meta)
    assert client_address(request) == expected


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # Not from the proxy: the header is the visitor's own writing, REMOTE_ADDR counts.
        ("198.51.100.66", "203.0.113.1", "198.51.100.66"),
        ("198.51.100.66", "203.0.113.1, 203.0.113.2", "198.51.100.66"),
        # From the proxy (the default TRUSTED_PROXY_ADDRESSES: loopback).
        ("127.0.0.1", "203.0.113.1", "203.0.113.1"),
        ("::1", "203.0.113.1", "203.0.113.1"),
        ("::ffff:127.0.0.1", "203.0.113.1", "203.0.113.1"),
        # An entry that is not an address is ignored: the proxy's address counts.
        ("127.0.0.1", "not-an-address", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.1, <script>", "127.0.0.1"),
        # IPv4-mapped IPv6 is the IPv4 address; IPv6 counts by its /64.
        ("127.0.0.1", "::ffff:203.0.113.9", "203.0.113.9"),
        ("::ffff:198.51.100.3", "", "198.51.100.3"),
        ("127.0.0.1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "203.0.113.1", "2001:db8:1:2::/64"),
    ],
)
def test_the_proxy_header_is_believed_only_from_trusted_proxy_addresses(
    settings, remote, forwarded, expected
):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXY_ADDRESSES = ["127.0.0.1/32", "::1/128"]
    meta = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR=remote, **meta)
    assert client_address(request) == expected


@pytest.mark.django_db(transaction=True)
def test_a_spoofed_forwarded_for_from_an_untrusted_address_does_not_escape_the_limit(settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 2
    browser = Client(REMOTE_ADDR="198.51.100.66")  # reaches the app directly, not via nginx
    codes = [
        browser.post(
            "/digest/", {"email": f"s{n}@example.org"}, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
        ).status_code
        for n in range(4)
    ]
    assert codes == [302, 302, 429, 429]


@pytest.mark.django_db(transaction=True)
def test_rotating_addresses_inside_one_ipv6_64_share_one_limit(settings):
    settings.TRUSTED_PROXY_HEADER = ""
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 2
    codes = [
        Client(REMOTE_ADDR=f"2001:db8:5:6::{n:x}")
        .post("/digest/", {"email": f"v{n}@example.org"})
        .status_code
        for n in range(1, 5)
    ]
    assert codes == [302, 302, 429, 429]
    # Another /64 is another subscriber.
    other = Client(REMOTE_ADDR="2001:db8:5:7::1").post("/digest/", {"email": "w@example.org"})
    assert other.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_behind_nginx_each_reader_has_their_own_signup_limit(settings):
    """Every request comes from nginx's address; X-Forwarded-For tells readers apart."""
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 2
    browser = Client(REMOTE_ADDR="127.0.0.1")

    def signup(n: int, reader: str, spoofed: str = "") -> int:
        forwarded = f"{spoofed}, {reader}" if spoofed else reader
        return browser.post(
            "/digest/", {"email": f"r{n}@example.org"}, HTTP_X_FORWARDED_FOR=forwarded
        ).status_code

    assert [signup(n, "198.51.100.1") for n in range(2)] == [302, 302]
    assert signup(3, "198.51.100.1") == 429
    # A made-up address in front of the real one gets around nothing.
    assert signup(4, "198.51.100.1", spoofed="192.0.2.99") == 429
    assert signup(5, "198.51.100.2") == 302


@pytest.fixture
def redis_cache(settings, tmp_path):
    """A real redis-server on a free loopback port, as the Django cache (CACHE_URL=redis://)."""
    import shutil
    import socket
    import subprocess
    import time

    from django.core.cache import caches

    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (Debian's redis-server package)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp_path],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    yield caches["default"]
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.django_db
def test_with_redis_configured_the_limits_count_in_redis(redis_cache, settings):
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 2
    browser = Client()
    answers = [
        browser.post("/digest/", {"email": f"r{n}@example.org"}).status_code for n in range(3)
    ]
    assert answers == [302, 302, 429]
    assert not RateLimitCounter.objects.exists()
    keys = [key.decode() for key in redis_cache._cache.get_client().keys("*ratelimit*")]
    assert any(key.startswith(":1:ratelimit:digest-signup:") for key in keys), keys


def test_a_mistyped_trusted_proxy_address_stops_start_up_with_one_clear_line(tmp_path):
    from tests.test_startup import clean_env, run_pressroom

    result = run_pressroom(
        "check",
        env=clean_env(
            SECRET_KEY="kP3vN8qX2mR7tW4yZ9bC6dF1gH5jL0sA3eU8iO2",
            TRUSTED_PROXY_ADDRESSES="127.0.0.1,10.0.0.0/33",
            PRESSROOM_VAR_DIR=str(tmp_path),
        ),
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "pressroom: configuration error: TRUSTED_PROXY_ADDRESSES must be addresses or CIDR "
        "ranges separated by commas, not '10.0.0.0/33'"
    ]


@pytest.mark.django_db
def test_a_burst_across_a_window_boundary_gets_at_most_one_more_than_the_limit(monkeypatch):
    """A fixed window lets 2x the limit through around a boundary; the sliding estimate not."""
    import pressroom.lib.ratelimit as ratelimit

    limit = Limit("burst-test", 3, 100)
    clock = {"now": 1_000_099.0}  # one second before a window ends
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock["now"])
    assert [limit.hit("k") for _ in range(3)] == [True, True, True]
    clock["now"] = 1_000_101.0  # one second into the next window
    assert [limit.hit("k") for _ in range(4)] == [True, False, False, False]
    assert limit.is_exceeded("k")
    assert limit.retry_after("k") > 1
    # Half a window on, the previous window weighs half: room again, and nothing exceeded.
    clock["now"] = 1_000_250.0
    assert not limit.is_exceeded("k")
    assert limit.hit("k")
    # Another key is not held by this one.
    assert Limit("burst-test", 3, 100).hit("other")
