"""``greenline init github|circleci``: the files are valid for GitHub Actions and CircleCI (their
JSON schemas, SchemaStore's as check-jsonschema ships them), every greenline and pytest command
in them exists with the options they pass, and the GitHub workflow's own steps run, in order,
in a real repository."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from greenline.cli.app import app
from greenline.forge.workflows import CI_FOLDER, CIRCLECI_PATH, GITHUB_PATH
from greenline.pytest_plugin import plugin
from tests.cli.conftest import Cli
from tests.conftest import git, init_repo

VENDORED = resources.files("check_jsonschema") / "builtin_schemas" / "vendor"


class Yaml12Loader(yaml.SafeLoader):
    """YAML as GitHub and CircleCI read it (1.2): ``on`` is a key, not the boolean true."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Yaml12Loader)


def schema_errors(document: Any, schema_file: str) -> list[str]:
    schema = json.loads((VENDORED / schema_file).read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.fixture
def project(git_repo: Path) -> Path:
    (git_repo / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1.0"\n')
    return git_repo


def test_github_workflow_is_valid_for_github_actions(cli: Cli, project: Path) -> None:
    written = cli("init", "github", "--format", "json")
    assert written.code == 0, written.err
    doc = written.json()
    assert doc["schema"] == "greenline.init/1" and doc["path"] == GITHUB_PATH
    workflow = load_yaml(project / GITHUB_PATH)
    assert schema_errors(workflow, "github-workflows.json") == []
    assert set(workflow["on"]) == {"push", "pull_request", "merge_group", "schedule",
                                   "workflow_dispatch"}  # fmt: skip
    assert workflow["on"]["push"]["branches"] == ["main"]
    # the schema does catch a broken workflow: the check is not vacuous
    workflow["jobs"]["change"]["runs-on"] = 3
    del workflow["jobs"]["baseline"]["steps"][0]["uses"]
    assert len(schema_errors(workflow, "github-workflows.json")) >= 2


def test_circleci_config_is_valid_for_circleci(cli: Cli, project: Path) -> None:
    written = cli("init", "circleci")
    assert written.code == 0, written.err
    assert f"wrote {CIRCLECI_PATH}" in written.out and "config.yml" in written.out
    config = load_yaml(project / CIRCLECI_PATH)
    assert schema_errors(config, "circle-ci.json") == []
    assert set(config["workflows"]) == {"greenline", "greenline-nightly"}
    config["jobs"]["greenline-change"]["steps"][0] = {"checkout": {"bogus": 1}}
    config["version"] = "two"
    assert schema_errors(config, "circle-ci.json")


def test_init_refuses_to_overwrite_without_force(cli: Cli, project: Path) -> None:
    target = project / GITHUB_PATH
    target.parent.mkdir(parents=True)
    target.write_text("name: mine\n")
    refused = cli("init", "github")
    assert refused.code == 4
    assert "already exists; nothing was written" in refused.err
    assert "Hint: look at it, then overwrite it with: greenline init github --force" in refused.err
    assert target.read_text() == "name: mine\n"
    replaced = cli("init", "github", "--force", "--python", "3.13", "-f", "json")
    assert replaced.code == 0 and replaced.json()["replaced"] is True
    assert 'python-version: "3.13"' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["greenline.yml"]  # no temp file left
    bad = cli("init", "circleci", "--python", "three")
    assert bad.code == 4 and "is not a Python version" in bad.err
    assert not (project / ".circleci").exists()


def test_install_step_follows_the_project_files(cli: Cli, project: Path) -> None:
    (project / "requirements.txt").write_text("requests\n")
    assert cli("init", "github").code == 0
    install = load_yaml(project / GITHUB_PATH)["jobs"]["baseline"]["steps"][2]["run"]
    assert "pip install -r requirements.txt" in install and "pip install -e ." in install
    assert "greenline>=" in install


# -- every command in the files exists ----------------------------------------------------------
def shell_commands(script: str) -> Iterator[list[str]]:
    """The simple commands of a shell script (split at ;, |, &&, ||, newlines; redirections
    and their targets dropped; if/then/else/fi keywords skipped)."""
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=";|&<>")
    lexer.whitespace = " \t\r"
    lexer.wordchars += "$-=./{}:@%*+,?^~[]!"
    words: list[str] = []
    skip_next = False
    for token in [*lexer, "\n"]:
        if skip_next:
            skip_next = False
            continue
        if token in (">", ">>", "<", "2>"):
            skip_next = True
            continue
        if token in ("\n", ";", "|", "||", "&&", "&"):
            if words:
                yield words
            words = []
            continue
        if not words and token in ("if", "then", "else", "elif", "fi", "do", "done", "!"):
            continue
        words.append(token)


def greenline_and_pytest(path: Path) -> list[list[str]]:
    doc = load_yaml(path)
    scripts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("run", "command") and isinstance(value, str):
                    scripts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc["jobs"])
    if "commands" in doc:
        walk(doc["commands"])
    return [c for s in scripts for c in shell_commands(s) if c[0] in ("greenline", "pytest")]


def check_greenline(words: list[str]) -> None:
    """The command exists and its own parser takes these options and values (parsing runs no
    command: it only checks the line as the command would read it)."""
    command: Any = typer.main.get_command(app)  # Typer's own click: groups have get_command
    rest = words[1:]
    while hasattr(command, "get_command") and rest:
        sub = command.get_command(None, rest[0])
        assert sub is not None, f"greenline has no command {rest[0]!r}: {shlex.join(words)}"
        command, rest = sub, rest[1:]
    args = [re.sub(r"\$\{?\w+\}?", "value", word) for word in rest]
    try:
        command.make_context(" ".join(words[:3]), args)
    except Exception as exc:  # the parser's usage errors, from Typer's own click
        raise AssertionError(f"{shlex.join(words)}: {exc}") from None


def pytest_options() -> dict[str, dict[str, Any]]:
    """greenline's pytest options as its plugin declares them to pytest."""

    class Recorder:
        def __init__(self) -> None:
            self.options: dict[str, dict[str, Any]] = {}

        def getgroup(self, *args: Any) -> Recorder:
            return self

        def addoption(self, *names: str, **kwargs: Any) -> None:
            self.options.update(dict.fromkeys(names, kwargs))

    recorder = Recorder()
    plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    return recorder.options


def check_pytest(words: list[str], options: dict[str, dict[str, Any]]) -> None:
    for word in words[1:]:
        name, _, value = word.partition("=")
        if name.startswith("--greenline"):
            assert name in options, f"the pytest plugin has no option {name}"
            choices = options[name].get("choices")
            if choices and value:
                assert value in choices, f"{name} takes no {value!r}"


@pytest.mark.parametrize("provider,path", [("github", GITHUB_PATH), ("circleci", CIRCLECI_PATH)])
def test_every_greenline_and_pytest_command_in_the_files_exists(
    cli: Cli, project: Path, provider: str, path: str
) -> None:
    assert cli("init", provider).code == 0
    commands = greenline_and_pytest(project / path)
    subcommands = {" ".join(c[:2]) for c in commands if c[0] == "greenline"}
    assert {"greenline triage", "greenline flaky", "greenline baseline"} <= subcommands
    assert any("--greenline-server" in c for c in commands)
    assert any("--greenline-select=deselect" in c for c in commands)
    options = pytest_options()
    for words in commands:
        if words[0] == "greenline":
            check_greenline(words)
        else:
            check_pytest(words, options)
    # the checks do catch a command that does not exist
    with pytest.raises(AssertionError):
        check_greenline(["greenline", "baseline", "export", "--into", "x"])
    with pytest.raises(AssertionError):
        check_pytest(["pytest", "--greenline-select=everything"], options)


# -- the workflow's own steps, run -------------------------------------------------------------
APP = """\
def price(amount, rate):
    return round(amount * (1 + rate), 2)


def label(name):
    return name.title()
"""
TESTS = """\
from shop import label, price


def test_price():
    assert price(10, 0.2) == 12.0


def test_label():
    assert label("tea") == "Tea"
"""


def local_steps(job: dict[str, Any], skip: tuple[str, ...] = ("Install",)) -> list[dict[str, Any]]:
    """The job's shell steps of a repository without a team server (the server's are skipped:
    their commands are checked above)."""
    return [
        step
        for step in job["steps"]
        if "run" in step
        and step.get("name") not in skip
        and "GREENLINE_SERVER_URL != ''" not in str(step.get("if", ""))
        # check runs go to GitHub (the fake GitHub's tests publish them)
        and not str(step.get("name", "")).startswith("Check runs")
    ]


def run_step(
    step: dict[str, Any], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    script = step["run"].replace("--runs 10 --budget 30m", "--runs 2 --budget 60s")
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_github_workflow_steps_run_in_a_real_repository(
    tmp_path: Path, without_plugin_autoload: None
) -> None:
    main = tmp_path / "main"
    main.mkdir()
    (main / "shop.py").write_text(APP)
    (main / "test_shop.py").write_text(TESTS)
    (main / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    (main / ".gitignore").write_text(f"{CI_FOLDER}/\n")
    init_repo(main)
    from greenline.api.setup import write_ci_config

    write_ci_config("github", main)
    workflow = load_yaml(main / GITHUB_PATH)
    git(main, "add", "-A")
    git(main, "commit", "-q", "-m", "greenline workflow")
    base_sha = git(main, "rev-parse", "HEAD")
    summary = tmp_path / "summary.md"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GREENLINE_")},
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "GREENLINE_SERVER_URL": "",
        # plugin autoload is off here (it costs seconds a run): greenline's plugin by name
        "PYTEST_ADDOPTS": "-p greenline",
        "GITHUB_STEP_SUMMARY": str(summary),
        **{k: str(v) for k, v in workflow["env"].items() if "${{" not in str(v)},
    }

    # push to main: record, export the baseline (the cache keeps the folder)
    for step in local_steps(workflow["jobs"]["baseline"]):
        if "outcome == 'failure'" in str(step.get("if", "")):
            continue  # triage: the tests passed
        done = run_step(step, main, env)
        assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
    assert (main / CI_FOLDER / "baseline.json.gz").is_file()

    # a pull request, in a fresh clone without the store: the cache restores the folder
    pr = tmp_path / "pr"
    git(tmp_path, "clone", "-q", str(main), str(pr))
    shutil.copytree(main / CI_FOLDER, pr / CI_FOLDER)
    (pr / "shop.py").write_text(APP.replace("name.title()", "name.upper()") + UNTESTED)
    git(pr, "commit", "-q", "-am", "shout the labels")
    outcomes = {}
    for step in local_steps(workflow["jobs"]["change"]):
        condition = str(step.get("if", ""))
        if "hashFiles" in condition:
            assert (pr / CI_FOLDER / "baseline.json.gz").is_file()
        if "merge_group" in condition:
            continue  # a pull request's run: no merge group
        done = run_step(step, pr, {**env, "BASE_SHA": base_sha})
        outcomes[step["name"]] = done
    selected = outcomes["The tests the change can break, most likely to fail first"]
    assert selected.returncode == 1, selected.stdout  # test_label fails with the change
    assert "1 of 2 tests" in selected.stdout or "test_label" in selected.stdout
    assert "test_price" not in selected.stdout.split("short test summary")[-1]
    for name in ("Import the baseline", "Review digest", "Triage the failures"):
        assert outcomes[name].returncode == 0, f"{name}: {outcomes[name].stderr}"
    text = summary.read_text()
    assert "<!-- greenline:review -->" in text and "`discount`" in text  # the untested function
    assert "test_label" in text  # triage and the likely failures

    # nightly: the whole suite recorded, then a (short) flaky scan and its list
    git(pr, "checkout", "-q", "HEAD~1")
    for step in local_steps(workflow["jobs"]["nightly"]):
        if "outcome == 'failure'" in str(step.get("if", "")):
            continue
        done = run_step(step, pr, env)
        assert done.returncode == 0, f"{step['name']}: {done.stdout}{done.stderr}"
    scan = json.loads((pr / CI_FOLDER / "flaky-scan.json").read_text())
    assert scan["schema"].startswith("greenline.") and "tests" in json.dumps(scan)


UNTESTED = """

def discount(amount):
    return amount * 0.9
"""
