import asyncio
import random
import threading
import time

from schedkit.aio import first_answer
from schedkit.pool import Scheduler, run_all

_latency = random.SystemRandom()


def _job(value):
    def run():
        time.sleep(_latency.choice([0.0, 0.005]))
        return value

    return run


def test_run_all_returns_every_result():
    assert sorted(run_all([_job(i) for i in range(4)])) == [0, 1, 2, 3]


def test_run_all_keeps_job_order():
    assert run_all([_job("extract"), _job("load")]) == ["extract", "load"]


def test_two_workers_run_a_job_once():
    scheduler = Scheduler({"cleanup": _job(None)})
    workers = [threading.Thread(target=scheduler.tick) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert scheduler.runs == ["cleanup"]


def test_one_worker_runs_each_job():
    scheduler = Scheduler({"a": _job(1), "b": _job(2)})
    scheduler.tick()
    scheduler.tick()
    assert scheduler.runs == ["a", "b"]


async def _replica(name, delays):
    await asyncio.sleep(_latency.choice(delays))
    return name


def test_primary_answers_first():
    answer = asyncio.run(
        first_answer(_replica("primary", [0.0, 0.01]), _replica("secondary", [0.005]))
    )
    assert answer == "primary"


def test_only_replica_answers():
    assert asyncio.run(first_answer(_replica("solo", [0.0]))) == "solo"
