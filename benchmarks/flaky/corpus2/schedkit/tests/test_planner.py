import time

from schedkit.planner import plan


class Estimated:
    def __init__(self, name, cost, remote=None):
        self.name, self.cost, self.remote = name, cost, remote

    def estimate(self):
        if self.remote is not None:
            self.remote.call(slow=0.06)  # the profiler service knows the real cost
        return self.cost


def test_cheapest_first():
    jobs = [Estimated("b", 2), Estimated("a", 1), Estimated("c", 3)]
    assert plan(jobs) == ["a", "b", "c"]


def test_planning_a_batch_is_fast(remote):
    jobs = [Estimated(f"job{i}", i, remote) for i in range(2)]
    start = time.perf_counter()
    plan(jobs)
    assert time.perf_counter() - start < 0.05


def test_empty_batch():
    assert plan([]) == []
