from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from greenline.errors import InputError
from greenline.junit import JUnitReader
from greenline.model import Outcome, Phase, TestResult

DATA = Path(__file__).parent.parent / "data" / "junit"


def read(name: str) -> tuple[JUnitReader, dict[tuple[str, int], TestResult]]:
    reader = JUnitReader(DATA / name)
    results = {(r.test_id, r.attempt): r for r in reader}
    return reader, results


def test_pytest_xunit2() -> None:
    reader, results = read("pytest_xunit2.xml")
    outcomes = {test_id: r.outcome for (test_id, _), r in results.items()}
    assert outcomes == {
        "tests.test_cart::test_add": Outcome.PASSED,
        "tests.test_cart::test_remove": Outcome.FAILED,
        "tests.test_cart::test_db": Outcome.ERROR,
        "tests.test_cart::test_cleanup": Outcome.ERROR,
        "tests.test_cart::test_later": Outcome.SKIPPED,
        "tests.test_cart::test_known_bug": Outcome.XFAILED,
        "tests.test_cart.TestPrice::test_round[0.5-1]": Outcome.PASSED,
        "tests.test_cart::test_strict": Outcome.FAILED,
    }
    remove = results[("tests.test_cart::test_remove", 1)]
    assert remove.message == "AssertionError: assert 2 == 3"
    assert remove.phase is Phase.CALL
    assert remove.duration == pytest.approx(0.004)
    assert results[("tests.test_cart::test_db", 1)].phase is Phase.SETUP
    assert results[("tests.test_cart::test_cleanup", 1)].phase is Phase.TEARDOWN
    assert results[("tests.test_cart::test_later", 1)].message == "not yet"
    assert reader.started_at == datetime(
        2026, 11, 20, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=1))
    )


def test_pytest_xunit1_keeps_the_file() -> None:
    reader, results = read("pytest_xunit1.xml")
    assert {r.path for r in results.values()} == {"tests/test_money.py"}
    assert all(r.outcome is Outcome.PASSED for r in results.values())
    assert reader.started_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_ant_jenkins() -> None:
    _, results = read("ant.xml")
    assert results[("com.acme.CartTest::addsItems", 1)].outcome is Outcome.PASSED
    failed = results[("com.acme.CartTest::removesItems", 1)]
    assert failed.outcome is Outcome.FAILED
    assert failed.message == "expected:<2> but was:<3>"
    assert results[("com.acme.CartTest::ignored", 1)].outcome is Outcome.SKIPPED


def test_surefire_flaky_and_rerun_attempts() -> None:
    _, results = read("surefire.xml")
    flaky = [results[("com.acme.PaymentTest::retriesThenPasses", n)] for n in (1, 2, 3)]
    assert [r.outcome for r in flaky] == [Outcome.FAILED, Outcome.ERROR, Outcome.PASSED]
    assert flaky[0].message == "timeout after 1s"
    assert flaky[2].duration == pytest.approx(1.1)
    failing = [results[("com.acme.PaymentTest::alwaysFails", n)] for n in (1, 2)]
    assert [r.outcome for r in failing] == [Outcome.FAILED, Outcome.FAILED]
    assert failing[1].message == "expected 200 but was 503"
    assert ("com.acme.PaymentTest::alwaysFails", 3) not in results
    assert results[("com.acme.PaymentTest::steady", 1)].attempt == 1


def test_nested_suites_name_classless_cases() -> None:
    reader, results = read("nested.xml")
    assert set(results) == {
        ("pkg/inner::TestParse/empty", 1),
        ("pkg/inner::TestParse/unicode", 1),
        ("pkg::TestTop", 1),
    }
    assert results[("pkg/inner::TestParse/unicode", 1)].message == 'got "é"'
    assert reader.started_at == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


def test_malformed_file_names_file_and_line() -> None:
    with pytest.raises(InputError) as info:
        list(JUnitReader(DATA / "malformed.xml"))
    assert info.value.message.startswith(f"{DATA / 'malformed.xml'}:5:")
    assert "malformed XML" in info.value.message
    assert "nothing from it was stored" in (info.value.hint or "")


@pytest.mark.parametrize("name", ["billion_laughs.xml", "external_entity.xml"])
def test_hostile_xml_is_refused(name: str) -> None:
    with pytest.raises(InputError, match="refused"):
        list(JUnitReader(DATA / name))


def test_other_xml_is_refused() -> None:
    with pytest.raises(InputError, match=r"root element is <project>"):
        list(JUnitReader(DATA / "not_junit.xml"))


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        list(JUnitReader(empty))
    with pytest.raises(InputError, match="cannot read"):
        list(JUnitReader(tmp_path / "missing.xml"))


def test_huge_failure_text_is_truncated(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    body = "x" * 5_000_000
    big.write_text(
        f'<testsuite><testcase classname="a" name="b"><failure>{body}</failure>'
        "</testcase></testsuite>"
    )
    (result,) = list(JUnitReader(big))
    assert result.outcome is Outcome.FAILED
    assert result.message is not None and len(result.message) <= 2000
