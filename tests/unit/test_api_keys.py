"""OMS_API_KEYS parsing, digests, customer binding, and the per-key token bucket."""

import hashlib

import pytest

from api.auth import Principal, RateLimiter, lookup
from config.settings import DEV_API_KEYS, Settings, api_key_digest, parse_api_keys
from domain.enums import Role


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_plain_entries_keep_the_existing_format() -> None:
    entries = parse_api_keys(" shop:client:k-1 , ops-team:ops:k:with:colons,, wh:warehouse:k-3")
    assert [(e.name, e.role, e.customers) for e in entries] == [
        ("shop", "client", None),
        ("ops-team", "ops", None),
        ("wh", "warehouse", None),
    ]
    assert [e.digest for e in entries] == [api_key_digest(k) for k in ("k-1", "k:with:colons", "k-3")]


def test_client_entry_binds_customers() -> None:
    (entry,) = parse_api_keys("shop-a:client:KEY:cust-1|cust-2")
    assert entry.digest == api_key_digest("KEY")
    assert entry.customers == frozenset({"cust-1", "cust-2"})
    # an empty 4th field is unbound: the way to write a client key that contains ':'
    (colon,) = parse_api_keys("shop:client:a:b:")
    assert colon.digest == api_key_digest("a:b")
    assert colon.customers is None


def test_hashed_keys_are_accepted_and_digests_only_are_kept() -> None:
    plain = "plain-key-of-24-characters"
    entries = Settings(api_keys=f"h:ops:sha256${sha('secret').upper()},p:client:{plain}:c1").api_key_entries()
    assert entries[0].digest == api_key_digest("secret")
    assert all(e.key is None for e in entries)
    assert plain not in repr(entries)
    # the plain table (for `oms dev` and the simulator) leaves hashed entries out
    assert Settings(api_keys=f"h:ops:sha256${sha('secret')},p:client:{plain}:c1").api_key_table() == {
        plain: ("p", "client")
    }


@pytest.mark.parametrize(
    "text",
    [
        "no-role-or-key",
        "a:client",
        ":client:k",
        "a:boss:k",
        "a:client:",
        "a:client:k:c1||c2",
        "a:ops:sha256$abc",
        "a:client:k,b:ops:k",
        f"a:client:k,b:ops:sha256${sha('k')}",
    ],
)
def test_malformed_entries_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_api_keys(text)


def test_binding_on_a_non_client_key_stays_part_of_the_key() -> None:
    (entry,) = parse_api_keys("o:ops:k:c1")
    assert entry.digest == api_key_digest("k:c1")
    assert entry.customers is None


def test_lookup_matches_by_digest() -> None:
    entries = parse_api_keys(DEV_API_KEYS + ",shop:client:shop-key:c1|c2")
    assert lookup(entries, "dev-ops-key") == Principal("dev-ops", Role.OPS)
    assert lookup(entries, "shop-key") == Principal("shop", Role.CLIENT, frozenset({"c1", "c2"}))
    assert lookup(entries, "dev-ops-ke") is None
    assert lookup(entries, "") is None
    assert Principal("x", Role.CLIENT).may_access("anyone")
    assert not Principal("x", Role.CLIENT, frozenset({"c1"})).may_access("c2")


def test_token_bucket_refills_and_tells_when() -> None:
    now = [0.0]
    limiter = RateLimiter(per_second=2, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == 1
    assert limiter.take("b") is None, "buckets are per key"
    now[0] = 0.5  # one token back
    assert limiter.take("a") is None
    assert limiter.take("a") == 1
    slow = RateLimiter(per_second=0.001, burst=1, clock=lambda: 0.0)
    assert slow.take("a") is None
    assert slow.take("a") == 1000
    assert all(RateLimiter(per_second=0, burst=1).take("a") is None for _ in range(5))
    assert all(RateLimiter(per_second=5, burst=0).take("a") is None for _ in range(5))
