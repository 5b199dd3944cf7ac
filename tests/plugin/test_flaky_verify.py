"""greenline flaky verify: a patch from a person or an agent gets the proof greenline's own
fixes get; one that holds is verified, one that weakens the test, does not apply or does not
fix it is rejected with the reason, and nothing in the work tree changes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.plugin.test_flaky_fix import VICTIM, project  # noqa: F401  (the fixture)

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

ORIGINAL = '''import settings

def test_reads_the_default():
    """The mode starts as the default."""
    assert settings.MODE == "default"
'''


def diff(before: str, after: str, path: str = "test_one.py") -> str:
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    # a last line without its newline, marked as git marks it
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def verify(project: pytest.Pytester, patch: str, *extra: str) -> pytest.RunResult:  # noqa: F811
    file = project.path.parent / "fix.patch"
    file.write_text(patch)
    return project.run(
        sys.executable,
        "-m",
        "greenline",
        "flaky",
        "verify",
        VICTIM,
        "--patch",
        str(file),
        "--verify-runs",
        "10",
        "-f",
        "json",
        *extra,
    )


def test_patches_are_verified_or_rejected_with_their_reason(
    project: pytest.Pytester,  # noqa: F811
) -> None:
    source = (project.path / "test_one.py").read_text()
    assert source.strip() == ORIGINAL.strip()
    good = source.replace(
        '    """The mode starts as the default."""\n',
        '    """The mode starts as the default."""\n    settings.MODE = "default"\n',
    )
    result = verify(project, diff(source, good))
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    doc = json.loads(result.stdout.str())
    assert doc["verified"] and doc["paths"] == ["test_one.py"] and doc["verify_runs"] == 10
    assert (project.path / "test_one.py").read_text() == source, "the work tree is untouched"

    weakening = {
        "loosened": source.replace('== "default"', 'in ("default", "fast")'),
        "removed": source.replace('    assert settings.MODE == "default"', "    pass"),
        "skip": "import pytest\n" + source.replace("def test", "@pytest.mark.skip\ndef test"),
        "rerun": "import pytest\n"
        + source.replace("def test", "@pytest.mark.flaky(reruns=3)\ndef test"),
        "sleep": "import time\n" + source.replace("    assert", "    time.sleep(1)\n    assert"),
    }
    for kind, after in weakening.items():
        result = verify(project, diff(source, after))
        assert result.ret == 1, kind
        reason = json.loads(result.stdout.str())["rejected_because"]
        assert reason.startswith("test_one.py: it would "), (kind, reason)

    no_fix = source.replace('"""The mode', '"""Still the mode')
    reason = json.loads(verify(project, diff(source, no_fix)).stdout.str())["rejected_because"]
    assert "under its failing condition" in reason
    stale = diff(source.replace("MODE", "LEVEL"), good.replace("MODE", "LEVEL"))
    reason = json.loads(verify(project, stale).stdout.str())["rejected_because"]
    assert reason.startswith("it does not apply")


def test_a_patch_that_reaches_outside_the_repository_is_refused(
    project: pytest.Pytester,  # noqa: F811
    tmp_path: Path,
) -> None:
    escape = diff("x = 1\n", "x = 2\n", path="../elsewhere.py")
    result = verify(project, escape)
    assert result.ret == 4
    assert "a path outside the repository" in result.stderr.str()
    assert "Hint:" in result.stderr.str()
