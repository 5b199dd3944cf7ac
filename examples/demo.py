"""greenline's demo: copy the bundled shop project into a fresh git repository, record its test
suite with per-test coverage, show what the store now knows, then edit one function and let
greenline pick (and run) only the tests that edit can break. Then a flaky test: greenline finds
it, names the test that breaks it, and writes a fix it has verified. Then delivery insights,
a merge queue, and main going red: triage, the culprit, and its verified revert. Last, the team
server over that red main's store: its address and a read token for the dashboard.

Run it with ``make demo``; it leaves the temporary repository behind and prints where it is, so
you can go on exploring with the same commands. ``python examples/demo.py --serve`` (or
``make demo DEMO_ARGS=--serve``) keeps the server running until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

HERE = Path(__file__).resolve().parent
console = Console(highlight=False)


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Demo",
        "GIT_AUTHOR_EMAIL": "demo@example.com",
        "GIT_COMMITTER_NAME": "Demo",
        "GIT_COMMITTER_EMAIL": "demo@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def greenline(repo: Path, *args: str, env: dict[str, str] | None = None) -> int:
    console.print(f"\n[bold cyan]$ greenline {' '.join(args)}[/]")
    env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "110"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "greenline", *args], cwd=repo, env=env).returncode


def make_repository() -> Path:
    repo = Path(tempfile.mkdtemp(prefix="greenline-demo-")) / "shop"
    shutil.copytree(HERE / "shop", repo, ignore=shutil.ignore_patterns("__pycache__", ".greenline"))
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop: catalogue, cart, pricing and receipts")
    return repo


def edit_rounding(repo: Path) -> None:
    """A one-character edit that breaks rounding: the kind of change selection is for."""
    money = repo / "shop" / "money.py"
    money.write_text(money.read_text().replace("+ 50) // 100", "+ 49) // 100"))
    console.print("\nedited shop/money.py: percent_of now rounds half down (a bug)")
    diff = subprocess.run(["git", "diff", "--stat"], cwd=repo, capture_output=True, text=True)
    console.print(diff.stdout.rstrip())


FLAKY_FILES = {
    "settings.py": "MODE = 'default'\n",
    "tests/test_modes.py": (
        "import settings\n\n\n"
        "def test_mode_starts_as_default():\n"
        '    assert settings.MODE == "default"\n'
    ),
    "tests/test_switching.py": (
        "import settings\n\n\n"
        "def test_switch_to_fast():\n"
        '    settings.MODE = "fast"  # leaks into whatever runs next\n\n\n'
        "def test_back_to_default():\n"
        '    settings.MODE = "default"\n'
    ),
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
}
VICTIM = "tests/test_modes.py::test_mode_starts_as_default"


def flaky_demo(base: Path) -> int:
    """A test that passes in the collected order and fails after another test: found, explained
    and fixed."""
    repo = base / "modes"
    for name, text in FLAKY_FILES.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    (repo / ".gitignore").write_text("__pycache__/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "modes")
    console.print(f"a small project with an order-dependent test: [bold]{repo}[/]")
    # this project needs no pytest plugin: skipping plugin discovery makes each of the scan's and
    # the fix's runs start in a fraction of the time (greenline names its own plugin itself)
    plain = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    if greenline(repo, "flaky", "scan", "--runs", "10", "--workers", "2", env=plain) != 0:
        return 1
    if greenline(repo, "flaky", "fix", VICTIM, "--apply", env=plain) != 0:
        return 1
    console.print(
        "\n[bold cyan]$ pytest tests/test_switching.py::test_switch_to_fast " + VICTIM + "[/]"
    )
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_switching.py::test_switch_to_fast",
            VICTIM,
        ],
        cwd=repo,
        check=False,
    ).returncode


def insights_demo(repo: Path) -> Path | None:
    """Ten weeks of a team's GitHub Actions runs (bundled, in the API's shape): ingested,
    measured against the benchmarks, and written as an HTML report."""
    sample = HERE / "insights" / "github-runs.json"
    report = repo / "delivery-report.html"
    for args in (
        ["insights", "ingest", "github", str(sample)],
        ["insights", "metrics", "--days", "28"],
        ["insights", "report", "--days", "70", "--out", str(report)],
    ):
        if greenline(repo, *args) != 0:
            return None
    return report


QUEUE_CHECK = "python -m pytest -q -p no:cacheprovider -x"


def queue_demo(base: Path, shop: Path) -> int:
    """A merge queue on a clone of the shop: two good branches land, one that breaks rounding
    is ejected with its reason, and main passes its tests at every commit."""
    repo = base / "queue-shop"
    subprocess.run(["git", "clone", "-q", str(shop), str(repo)], check=True, capture_output=True)
    branches = {
        "receipt-footer": ("docs/receipts.md", "Receipts end with a thank-you line.\n"),
        "price-tests": (
            "tests/test_more_pricing.py",
            "from shop.money import percent_of\n\n\ndef test_ten_percent():\n"
            "    assert percent_of(1999, 10) == 200\n",
        ),
        "rounding-shortcut": None,  # the rounding bug from the selection demo
    }
    for branch, change in branches.items():
        git(repo, "checkout", "-q", "-b", branch, "main")
        if change is None:
            money = repo / "shop" / "money.py"
            money.write_text(money.read_text().replace("+ 50) // 100", "+ 49) // 100"))
        else:
            path, text = change
            (repo / path).parent.mkdir(parents=True, exist_ok=True)
            (repo / path).write_text(text)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", branch)
    git(repo, "checkout", "-q", "main")
    console.print(f"three branches in [bold]{repo}[/]: two good, one breaks rounding")
    for branch in branches:
        if greenline(repo, "queue", "add", branch) != 0:
            return 1
    steps = (
        ["queue", "run", "--check", QUEUE_CHECK, "--runners", "2"],
        ["queue", "status"],
        ["queue", "simulate", "--compare", "--changes", "300"],
    )
    for args in steps:
        if greenline(repo, *args) != 0:
            return 1
    return 0


#: fails every other run in one checkout (a file toggles next to it): flaky by construction
TOGGLE_TEST = (
    "from pathlib import Path\n\n\ndef test_every_other_run():\n"
    "    toggle = Path(__file__).with_name('toggle.txt')\n"
    "    odd = not toggle.exists()\n"
    "    toggle.write_text('x') if odd else toggle.unlink()\n"
    "    assert not odd\n"
)


def commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def recovery_demo(base: Path, shop: Path) -> int:
    """Main goes red: three commits land, one breaks rounding while a flaky test fails too;
    triage tells them apart, the culprit is found and confirmed, and its revert is verified on
    a branch of its own."""
    repo = base / "recovery-shop"
    subprocess.run(["git", "clone", "-q", str(shop), str(repo)], check=True, capture_output=True)
    (repo / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n.greenline/\ntoggle.txt\n")
    commit(repo, "a test that flakes", {"tests/test_toggle.py": TOGGLE_TEST})
    record = ["record", "--", "-q", "-p", "no:cacheprovider"]
    greenline(repo, *record)  # the flaky test fails here ...
    greenline(repo, *record)  # ... and passes: a green run, and a known flaky test
    money = (repo / "shop" / "money.py").read_text()
    commit(repo, "receipts: a thank-you line", {"docs/receipts.md": "Thank you!\n"})
    commit(repo, "money: a faster rounding", {"shop/money.py": money.replace("+ 50)", "+ 49)")})
    commit(repo, "docs: rounding rules", {"docs/rounding.md": "Half up, always.\n"})
    console.print(f"three commits landed on main in [bold]{repo}[/]; then CI runs:")
    greenline(repo, *record)
    for args in (["triage"], ["triage", "--fix"]):
        if greenline(repo, *args) != 0:
            return 1
    return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> bool:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return False


def show_overview(url: str, token: str) -> None:
    """What the dashboard's overview says, read from its JSON twin with the token's cookie."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as client:
        client.post("/login", data={"token": token, "next": "/"})
        doc = client.get("/", params={"format": "json"}).json()
    streak = doc["why_red"]["red_streak"]
    now = f"red for {streak['runs']} run(s)" if streak else "green"
    rate = doc["success_rate"]
    console.print(
        f"overview of {doc['branch']}: {now}; success rate "
        f"{'n/a' if rate is None else f'{rate:.0%}'} over {doc['runs']} runs; "
        f"{doc['flaky_tests']} flaky test(s)",
        markup=False,
        soft_wrap=True,
    )


def serve_demo(repo: Path, keep: bool) -> int:
    """The team server over the red main's store: a read token, the address, the overview."""
    try:
        import fastapi  # noqa: F401
        import jinja2  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        console.print("the server needs the web extra: pip install 'greenline[web]' (skipped)")
        return 0
    greenline(repo, "insights", "ingest", "greenline")
    console.print("\n[bold cyan]$ greenline token create demo-read --scope read[/]")
    made = subprocess.run(
        [sys.executable, "-m", "greenline", "token", "create", "demo-read", "--scope", "read"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        console.print(made.stderr, markup=False)
        return 1
    token = made.stdout.split()[0]
    port = free_port()
    console.print(f"\n[bold cyan]$ greenline serve --port {port}[/]")
    proc = subprocess.Popen(
        [sys.executable, "-m", "greenline", "serve", "--port", str(port)],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if not keep else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(url, proc):
            console.print("[red]the server did not become ready[/]")
            return 1
        console.print(f"the dashboard: {url}/", markup=False, soft_wrap=True)
        console.print(
            f"read token (paste it into the sign-in form): {token}", markup=False, soft_wrap=True
        )
        show_overview(url, token)
        if keep:
            console.print("serving until Ctrl-C")
            with contextlib.suppress(KeyboardInterrupt):
                proc.wait()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    console.print("the server stopped" + ("" if keep else " (keep it with: demo.py --serve)"))
    return 0


def main(argv: list[str] | None = None) -> int:
    keep = "--serve" in (argv or [])
    console.print(Rule("greenline demo: record a test suite"))
    repo = make_repository()
    console.print(f"example project copied to [bold]{repo}[/] (a git repository on 'main')")
    code = greenline(repo, "record", "--", "-q", "-p", "no:cacheprovider")
    if code != 0:
        console.print(f"[red]recording failed with exit code {code}[/]")
        return code
    for args in (["runs"], ["tests", "--slowest", "5"], ["db", "info"]):
        if greenline(repo, *args) != 0:
            return 1
    console.print(Rule("greenline demo: select what a change can break"))
    edit_rounding(repo)
    if greenline(repo, "select", "--explain") != 0:
        return 1
    console.print("\n[bold cyan]$ pytest --greenline-select=deselect[/]")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--greenline-select=deselect",
        ],
        cwd=repo,
        check=False,
    )
    console.print(Rule("greenline demo: find, explain and fix a flaky test"))
    if flaky_demo(repo.parent) != 0:
        return 1
    console.print(Rule("greenline demo: delivery insights for a team's CI history"))
    report = insights_demo(repo)
    if report is None:
        return 1
    console.print(Rule("greenline demo: a merge queue keeps main green"))
    if queue_demo(repo.parent, repo) != 0:
        return 1
    console.print(Rule("greenline demo: main is red, why, and the way back"))
    if recovery_demo(repo.parent, repo) != 0:
        return 1
    console.print(Rule("greenline demo: the team server and its dashboard"))
    if serve_demo(repo.parent / "recovery-shop", keep) != 0:
        return 1
    console.print(Rule("done"))
    console.print(
        f"Explore further: cd {repo} && {sys.executable} -m greenline run show 1 --all\n"
        f"The delivery report: {report}\n"
        "Agents can ask the same questions over MCP: greenline mcp"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
