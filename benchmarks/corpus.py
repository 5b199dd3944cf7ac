"""The real projects the benchmarks measure (their own test suites, from PyPI), and their set-up.

Every project comes from its PyPI source distribution (downloaded once into the benchmark's
``work/`` folder), becomes a git repository of its own, and is installed editable into one virtual
environment per Python together with greenline (editable, from this checkout), pytest and
pytest-testmon.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Project:
    name: str
    version: str
    test_deps: tuple[str, ...] = ()
    tests: tuple[str, ...] = ("tests",)  # pytest's arguments that name the suite
    install_deps: bool = False
    source: str = ""  # the package folder mutants are made in
    exclude: tuple[str, ...] = ()  # folders under source that get no mutants (tests, benchmarks)
    install_env: tuple[tuple[str, str], ...] = ()  # environment for its editable install


PROJECTS = {
    p.name: p
    for p in (
        Project("boltons", "26.2.0", source="boltons"),
        # 64,207 tests: the large-suite case (benchmarks/large)
        Project("packaging", "26.4", ("pretend", "hypothesis", "tomli_w"), source="src/packaging"),
        Project("marshmallow", "4.4.0", ("simplejson",), source="src/marshmallow"),
        Project("cachetools", "8.0.2", source="src/cachetools"),
        Project("python-slugify", "9.2.0", install_deps=True, source="slugify"),
        Project("more-itertools", "11.2.1", source="more_itertools"),
        Project("humanize", "4.17.0", ("freezegun",), source="src/humanize"),
        Project("pluggy", "1.7.0", ("pytest-benchmark",), tests=("testing",), source="src/pluggy"),
        Project(
            "attrs",
            "26.1.0",
            ("hypothesis", "pympler", "cloudpickle"),
            source="src",  # src/attr and src/attrs
        ),
        Project(
            "jsonschema",
            "4.26.0",
            ("jsonpath-ng",),
            tests=("jsonschema/tests",),
            install_deps=True,  # referencing, jsonschema-specifications, rpds-py
            source="jsonschema",
            exclude=("jsonschema/tests", "jsonschema/benchmarks"),
        ),
        Project(
            "markdown",
            "3.11.3",
            ("pyyaml",),
            # test_legacy.py turns warnings into errors when it is imported, which makes a
            # later module's collection warning (a TestSuite it imports) an error: it goes last
            tests=(
                "tests/test_syntax",
                "tests/test_apis.py",
                "tests/test_extensions.py",
                "tests/test_meta.py",
                "tests/test_legacy.py",
            ),
            source="markdown",
        ),
        # pure mode: without the libyaml extension every test runs the Python code (and the
        # libyaml-only test module cannot be collected)
        Project(
            "pyyaml",
            "6.0.4",
            tests=("tests", "--ignore=tests/test_libyaml_recursion_control.py"),
            source="lib/yaml",
            install_env=(("PYYAML_FORCE_LIBYAML", "0"),),
        ),
    )
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cmd: list[str], cwd: Path | None = None, **kwargs: object) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, **kwargs)  # type: ignore[call-overload]


def python_tag(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def find_pythons() -> list[str]:
    """This interpreter, plus 3.12+ ones that run here (their tracer is sys.monitoring)."""
    found = [sys.executable]
    candidates = [shutil.which(f"python3.{minor}") for minor in (12, 13, 14)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[2-4]*/bin/python3")))
    tags = {python_tag(sys.executable)}
    for candidate in candidates:
        if not candidate:
            continue
        try:
            tag = python_tag(candidate)
        except (subprocess.CalledProcessError, OSError):
            continue
        if tag not in tags:
            tags.add(tag)
            found.append(candidate)
    return found


def make_venv(work: Path, python: str, projects: list[Project]) -> Path:
    tag = python_tag(python)
    venv = work / f"venv-{tag}"
    stamp = venv / ".ready"
    wanted = " ".join(sorted(p.name for p in projects))
    if stamp.exists() and set(wanted.split()) <= set(stamp.read_text().split()):
        return venv  # it has these projects (and maybe more: a subset runs in it as it is)
    log(f"setting up {venv} ({python})")
    run([python, "-m", "venv", "--clear", str(venv)])
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    deps = sorted({d for p in projects for d in p.test_deps})
    run([*pip, "-e", str(REPO), "pytest", "pytest-testmon>=2.1", *deps])
    for project in projects:
        source = fetch(work, project)
        extra = [] if project.install_deps else ["--no-deps"]
        run([*pip, *extra, "-e", str(source)], env={**os.environ, **dict(project.install_env)})
    stamp.write_text(wanted)
    return venv


def fetch(work: Path, project: Project) -> Path:
    """The project's source distribution, unpacked under work/src (downloaded once)."""
    sdists = work / "sdists"
    target = work / "src" / f"{project.name}-{project.version}"
    if target.exists():
        return target
    sdists.mkdir(parents=True, exist_ok=True)
    spec = f"{project.name}=={project.version}"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            project.name,
            "-d",
            str(sdists),
            spec,
        ]
    )
    normalized = project.name.replace("-", "_").lower()
    archive = next(
        p
        for p in sdists.glob("*.tar.gz")
        if p.name.lower().startswith((normalized + "-", project.name.lower() + "-"))
        and project.version in p.name
    )
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(work / "src", filter="data")
    (work / "src" / top).rename(target)
    anchor_pytest(target)
    init_git(target)
    return target


PYTEST_SECTIONS = {
    "pytest.ini": "[pytest]",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
    "pyproject.toml": "[tool.pytest.ini_options]",
}


def anchor_pytest(path: Path) -> None:
    """A project without pytest settings of its own gets an empty pytest.ini: otherwise pytest
    would walk up and take this repository's configuration (and rootdir) instead."""
    for name, section in PYTEST_SECTIONS.items():
        config = path / name
        if config.exists() and section in config.read_text(encoding="utf-8", errors="replace"):
            return
    (path / "pytest.ini").write_text("[pytest]\n")


def init_git(path: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    (path / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n.testmondata*\n*.egg-info/\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "source distribution"]):
        run(["git", *args], cwd=path, env=env, stdout=subprocess.DEVNULL)


def clean_state(path: Path) -> None:
    shutil.rmtree(path / ".greenline", ignore_errors=True)
    shutil.rmtree(path / ".pytest_cache", ignore_errors=True)
    for data in path.glob(".testmondata*"):
        data.unlink()


def pytest_cmd(venv: Path, root: Path, tests: tuple[str, ...], *extra: str) -> list[str]:
    """pytest of ``venv`` on the suite of the project at ``root`` (no cache folder written)."""
    return [
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(root),
        *tests,
        *extra,
    ]


def tracer_of(venv: Path) -> str:
    """The name of the tracer greenline records with in ``venv`` (its Python decides)."""
    code = (
        "from greenline.tracing.tracers import make_tracer; t = make_tracer(('/nowhere/',));"
        " print(t.name); t.close()"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()
