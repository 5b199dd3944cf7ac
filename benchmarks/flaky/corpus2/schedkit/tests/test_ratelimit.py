from schedkit.ratelimit import TokenBucket


def test_bucket_starts_full():
    bucket = TokenBucket(rate=1, capacity=3)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_bucket_refuses_until_it_refills(remote):
    bucket = TokenBucket(rate=5, capacity=1)
    assert bucket.try_acquire()
    remote.call()
    assert not bucket.try_acquire()


def test_capacity_caps_saved_tokens():
    bucket = TokenBucket(rate=1000, capacity=2)
    bucket.updated -= 10
    bucket._refill()
    assert bucket.tokens == 2
