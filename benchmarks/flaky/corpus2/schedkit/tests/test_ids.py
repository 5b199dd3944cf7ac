import random

from schedkit import backoff
from schedkit.ids import ALPHABET, job_id


def test_job_id_shape():
    prefix, suffix = job_id("sync").split("-")
    assert prefix == "sync" and len(suffix) == 3 and set(suffix) <= set(ALPHABET)


def test_a_batch_of_ids_has_no_duplicates():
    ids = [job_id() for _ in range(250)]
    assert len(set(ids)) == len(ids)


def test_backoff_grows_with_each_attempt():
    waits = backoff.delays(3, jitter=0.9)
    assert waits == sorted(waits)


def test_backoff_without_jitter_doubles():
    assert backoff.delays(3, base=1, jitter=0) == [1, 2, 4]


def test_seeded_backoff_is_repeatable():
    random.seed(7)
    first = backoff.delays(3)
    random.seed(7)
    assert backoff.delays(3) == first
