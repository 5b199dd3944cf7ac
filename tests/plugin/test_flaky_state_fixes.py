"""Order dependence through state that is not a plain module-level value: an attribute of a
project class, an environment variable, the working directory and ``sys.path``. The state
probe finds what the polluter leaves changed, and the fix restores exactly that (a value in
place, or the process state through an autouse fixture of the victim's module), verified."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import init_repo

pytestmark = pytest.mark.usefixtures("without_plugin_autoload")

VICTIMS = {
    "tests/test_cache.py::test_starts_empty": "app.client.Client.cache",
    "tests/test_env.py::test_default_mode": "os.environ['APP_MODE']",
    "tests/test_cwd.py::test_reads_the_config": "cwd",
    "tests/test_path.py::test_plugins_path_is_clean": "sys.path",
}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.mkpydir("app")
    (pytester.path / "app" / "client.py").write_text(
        "class Client:\n    cache = {}\n\n    def get(self, key):\n"
        "        return self.cache.get(key)\n"
    )
    (pytester.path / "config.ini").write_text("[app]\n")
    (pytester.path / "tests").mkdir()
    files = {
        "test_cache.py": "from app.client import Client\n\n\ndef test_starts_empty():\n"
        "    assert Client().get('k') is None\n",
        "test_env.py": "import os\n\n\ndef test_default_mode():\n"
        "    assert os.environ.get('APP_MODE', 'default') == 'default'\n",
        "test_cwd.py": "from pathlib import Path\n\n\ndef test_reads_the_config():\n"
        "    assert Path('config.ini').exists()\n",
        "test_path.py": "import sys\n\n\ndef test_plugins_path_is_clean():\n"
        "    assert not any(p.endswith('plugins-dir') for p in sys.path)\n",
        # the polluters run first (pytest runs files in name order: test_a... before the rest)
        "test_a_polluters.py": "import os, sys\nfrom app.client import Client\n\n\n"
        "def test_warms_the_cache():\n    Client.cache['k'] = 1\n\n\n"
        "def test_fast_mode():\n    os.environ['APP_MODE'] = 'fast'\n\n\n"
        "def test_moves_into_tests(tmp_path):\n    os.chdir(tmp_path)\n\n\n"
        "def test_adds_plugins():\n    sys.path.append('/opt/plugins-dir')\n",
    }
    for name, text in files.items():
        (pytester.path / "tests" / name).write_text(text)
    pytester.makeini("[pytest]\npythonpath = .\n")
    init_repo(pytester.path)
    return pytester


def test_state_beyond_module_globals_is_found_and_restored(project: pytest.Pytester) -> None:
    scan = project.run(sys.executable, "-m", "greenline", "flaky", "scan", "--runs", "4")
    assert scan.ret == 0, scan.stderr.str()
    for victim, state in VICTIMS.items():
        result = project.run(
            sys.executable,
            "-m",
            "greenline",
            "flaky",
            "fix",
            victim,
            "--apply",
            "--verify-runs",
            "10",
            "-f",
            "json",
        )
        assert result.ret == 0, (victim, result.stdout.str(), result.stderr.str())
        doc = json.loads(result.stdout.str())
        assert doc["test"]["category"] == "order-dependent", victim
        assert state in doc["patch"]["description"], (victim, doc["patch"]["description"])
        diff = doc["patch"]["diff"]
        assert "-    assert" not in diff, "no assertion is touched"
        if state in ("cwd", "sys.path") or state.startswith("os.environ"):
            assert "@pytest.fixture(autouse=True)" in diff and "/tmp" not in diff
    after = project.run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert after.ret == 0, after.stdout.str()
