import pytest
from schedkit import registry as jobs


def test_register_nightly_job():
    @jobs.job("nightly-report")
    def nightly():
        return "report sent"

    assert "nightly-report" in jobs.JOBS


def test_run_nightly_job():
    assert jobs.run("nightly-report") == "report sent"


def test_duplicate_job_is_refused(registry):
    registry.job("once")(lambda: 1)
    with pytest.raises(ValueError, match="exists"):
        registry.job("once")(lambda: 2)


def test_unknown_job(registry):
    with pytest.raises(KeyError):
        registry.run("never-registered")
