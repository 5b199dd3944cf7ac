from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import DATA, Cli
from tests.conftest import init_repo


def test_import_junit_text_and_json(cli: Cli) -> None:
    text = cli("import", "junit", str(DATA / "ant.xml"), "--commit", "HEAD", "--branch", "rel")
    assert text.code == 0
    assert "1 passed, 1 failed, 1 skipped" in text.out
    doc = cli("import", "junit", str(DATA / "nested.xml"), "-f", "json").json()
    assert doc["schema"] == "greenline.run/1"
    assert doc["run"]["source"] == "junit"
    assert doc["run"]["counts"] == {"failed": 1, "passed": 2}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("malformed.xml", "malformed.xml:5:"),
        ("billion_laughs.xml", "refused: it declares a DTD"),
        ("external_entity.xml", "refused"),
        ("not_junit.xml", "root element is <project>"),
    ],
)
def test_bad_files_store_nothing(cli: Cli, name: str, expected: str) -> None:
    result = cli("import", "junit", str(DATA / "ant.xml"), str(DATA / name))
    assert result.code == 4
    assert result.err.count("greenline: error:") == 1
    assert expected in result.err
    assert "Hint:" in result.err
    assert "Traceback" not in result.err
    assert cli("runs").code == 5, "nothing of the failed import was stored"


def test_missing_file(cli: Cli) -> None:
    result = cli("import", "junit", "nope.xml")
    assert result.code == 4
    assert "no such file: nope.xml" in result.err


def write_big_report(path: Path, cases: int, output_bytes: int) -> None:
    noise = ("x" * 99 + "\n") * (output_bytes // 100)
    with path.open("w") as out:
        out.write('<?xml version="1.0"?>\n<testsuites><testsuite name="big">\n')
        for i in range(cases):
            outcome = f'<failure message="boom {i}">{noise}</failure>' if i % 50 == 0 else ""
            out.write(
                f'<testcase classname="pkg.mod{i % 100}" name="test_{i}" time="0.01">{outcome}'
                f"<system-out>{noise}</system-out></testcase>\n"
            )
        out.write("</testsuite></testsuites>\n")


PEAK_RSS = """
import resource, sys
from greenline.cli.main import run_cli
code = run_cli(sys.argv[1:])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def import_peak_kib(repo: Path, report: Path) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, "import", "junit", str(report), "-f", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stderr.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_100_mb_report_streams_in_bounded_memory(git_repo: Path, tmp_path: Path) -> None:
    small, big = tmp_path / "small.xml", tmp_path / "big.xml"
    write_big_report(small, cases=10, output_bytes=1000)
    write_big_report(big, cases=20_000, output_bytes=5300)
    assert big.stat().st_size > 100 * 1024 * 1024
    baseline = import_peak_kib(git_repo, small)
    peak = import_peak_kib(git_repo, big)
    assert peak - baseline < 40 * 1024, f"peak {peak} KiB vs {baseline} KiB for a tiny file"
    proc = subprocess.run(
        [sys.executable, "-m", "greenline", "runs", "-f", "json"],
        cwd=git_repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"tests": 20000' in proc.stdout


def test_record_runs_pytest_and_shows_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a="def test_a():\n    pass\n\ndef test_b():\n    assert 0\n")
    init_repo(pytester.path)
    result = pytester.run(
        sys.executable, "-m", "greenline", "record", "--", "-q", "-p", "no:cacheprovider"
    )
    assert result.ret == 1, "greenline record exits with pytest's code"
    result.stdout.fnmatch_lines(["*1 failed, 1 passed*", "run*1 (pytest) in *", "status*complete*"])
    again = pytester.run(
        sys.executable, "-m", "greenline", "record", "--", "-q", "test_a.py::test_a"
    )
    assert again.ret == 0
    again.stdout.fnmatch_lines(["run*2 (pytest)*"])


def test_import_shows_progress_on_a_terminal_only(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    from greenline.cli import recording

    screen = io.StringIO()
    monkeypatch.setattr(recording, "err_console", Console(file=screen, force_terminal=True))
    assert cli("import", "junit", str(DATA / "ant.xml")).code == 0
    assert "importing ant.xml" in screen.getvalue()
    assert "3 results" in screen.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(recording, "err_console", Console(file=piped, force_terminal=False))
    assert cli("import", "junit", str(DATA / "ant.xml")).code == 0
    assert piped.getvalue() == "", "no progress noise when output is not a terminal"
