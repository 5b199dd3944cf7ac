"""The JUnit reader against reports no honest tool writes: infinite times, huge attributes and
ids; and its mapping of Python classnames to the pytest node ids recording stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenline import junit
from greenline.errors import InputError
from greenline.ids import MAX_TEST_ID_CHARS
from greenline.junit import JUnitReader


def report(tmp_path: Path, cases: str) -> Path:
    path = tmp_path / "report.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<testsuites><testsuite name="s">\n'
        f"{cases}\n</testsuite></testsuites>\n"
    )
    return path


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "1e999"])
def test_a_time_that_is_not_a_finite_number_is_refused(tmp_path: Path, value: str) -> None:
    path = report(tmp_path, f'<testcase classname="a.B" name="t" time="{value}"/>')
    with pytest.raises(
        InputError, match=rf'report\.xml:3: refused: time="{value}" is not a finite'
    ):
        list(JUnitReader(path))


def test_an_unparsable_or_negative_time_is_unknown(tmp_path: Path) -> None:
    cases = (
        '<testcase classname="a.B" name="x" time="soon"/>'
        '<testcase classname="a.B" name="y" time="-2"/>'
    )
    assert [r.duration for r in JUnitReader(report(tmp_path, cases))] == [0.0, 0.0]


def test_a_test_id_over_the_cap_refuses_the_file(tmp_path: Path) -> None:
    name = "n" * MAX_TEST_ID_CHARS
    path = report(
        tmp_path,
        f'<testcase classname="ok" name="short"/>\n<testcase classname="a.B" name="{name}"/>',
    )
    with pytest.raises(
        InputError,
        match=rf"report\.xml:4: refused: a test id of {MAX_TEST_ID_CHARS + 5} characters "
        rf".* longer than the cap of {MAX_TEST_ID_CHARS}",
    ) as info:
        list(JUnitReader(path))
    assert info.value.hint and "nothing from it was stored" in info.value.hint


def test_a_huge_attribute_is_refused_while_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real cap is 16 MiB; lowered, a 3 MiB attribute shows the reader stops without
    # waiting for the attribute to end (expat would hold all of it)
    monkeypatch.setattr(junit, "MAX_TOKEN_BYTES", 1 << 20, raising=False)
    monkeypatch.setattr(junit, "CHUNK_BYTES", 64 << 10)
    path = tmp_path / "huge.xml"
    with path.open("w") as out:
        out.write('<testsuite name="s"><testcase classname="a.B" name="t"><failure message="')
        out.write("x" * (3 << 20))
        out.write('"/></testcase></testsuite>')
    with pytest.raises(
        InputError, match=r"huge\.xml:1: refused: more than 1048576 bytes without a tag ending"
    ):
        list(JUnitReader(path))


def test_huge_text_between_tags_streams_and_is_cut_with_a_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(junit, "MAX_TOKEN_BYTES", 1 << 20, raising=False)
    monkeypatch.setattr(junit, "CHUNK_BYTES", 64 << 10)
    path = tmp_path / "output.xml"
    with path.open("w") as out:
        out.write('<testsuite name="s"><testcase classname="a.B" name="t"><failure>')
        out.write("y" * (3 << 20))  # captured output: text, reported as it streams, is fine
        out.write("</failure></testcase></testsuite>")
    (result,) = JUnitReader(path)
    assert result.message is not None and len(result.message) <= junit.MESSAGE_CHARS
    assert result.message.endswith(" characters]") and "… [cut: " in result.message


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "tests" / "unit").mkdir(parents=True)
    (root / "tests" / "test_funcs.py").write_text("")
    (root / "tests" / "unit" / "test_deep.py").write_text("")
    return root


def test_python_classnames_become_pytest_node_ids(tmp_path: Path, repo: Path) -> None:
    cases = """
      <testcase classname="tests.test_funcs.TestAsDict" name="test_dicts"/>
      <testcase classname="tests.test_funcs" name="test_plain[1.5-x]"/>
      <testcase classname="tests.unit.test_deep.TestOuter.TestInner" name="test_x"/>
      <testcase classname="com.acme.CartTest" name="addsItems"/>
      <testcase classname="tests.missing.TestA" name="test_y"/>
      <testcase classname="tests/../../etc.passwd" name="test_z"/>
    """
    results = list(JUnitReader(report(tmp_path, cases), root=repo))
    assert [(r.test_id, r.path) for r in results] == [
        ("tests/test_funcs.py::TestAsDict::test_dicts", "tests/test_funcs.py"),
        ("tests/test_funcs.py::test_plain[1.5-x]", "tests/test_funcs.py"),
        ("tests/unit/test_deep.py::TestOuter::TestInner::test_x", "tests/unit/test_deep.py"),
        ("com.acme.CartTest::addsItems", None),
        ("tests.missing.TestA::test_y", None),
        ("tests/../../etc.passwd::test_z", None),
    ]


def test_without_a_root_ids_stay_as_written(tmp_path: Path, repo: Path) -> None:
    path = report(tmp_path, '<testcase classname="tests.test_funcs.TestAsDict" name="test_dicts"/>')
    assert [r.test_id for r in JUnitReader(path)] == ["tests.test_funcs.TestAsDict::test_dicts"]
