"""Settings from defaults < ``[tool.greenline]`` in pyproject.toml < ``GREENLINE_*`` < flags."""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from greenline.errors import ConfigError

ENV_PREFIX = "GREENLINE_"


def _parse_str(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a non-empty string")
    return value.strip()


def _parse_count(value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise ValueError("expected a whole number of at least 1")
    return number


def _parse_seconds(value: object) -> float:
    try:
        number = float(str(value))
    except ValueError:
        number = -1.0
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise ValueError("expected a number of seconds above 0")
    return number


def _parse_flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_between(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        try:
            number = int(str(value))
        except ValueError:
            number = low - 1
        if isinstance(value, bool) or not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number

    return parse


#: How ``pytest --greenline-select`` orders the tests it runs.
SELECTION_ORDERS = ("likely-first", "keep")


def _parse_order(value: object) -> str:
    text = str(value).strip().lower()
    if text not in SELECTION_ORDERS:
        raise ValueError(f"expected one of: {', '.join(SELECTION_ORDERS)}")
    return text


#: How finely recording splits the code a test ran (see greenline.tracing.regions).
GRANULARITIES = ("function", "branch")


def _parse_granularity(value: object) -> str:
    text = str(value).strip().lower()
    if text not in GRANULARITIES:
        raise ValueError(f"expected one of: {', '.join(GRANULARITIES)}")
    return text


#: Where greenline runs the tests and commands it starts.
EXECUTORS = ("local", "ray")


def _parse_executor(value: object) -> str:
    text = str(value).strip().lower()
    if text not in EXECUTORS:
        raise ValueError(f"expected one of: {', '.join(EXECUTORS)}")
    return text


def _parse_patterns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        return tuple(value)
    raise ValueError("expected a list of glob patterns")


def _parse_repositories(value: object) -> tuple[str, ...]:
    names = _parse_patterns(value)
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", n)]
    if bad:
        raise ValueError(f"expected OWNER/REPO names, not {bad[0]!r}")
    return names


@dataclass(frozen=True, slots=True)
class Key:
    """One setting: its parser, default and what it is for (shown by ``config show``)."""

    parse: Callable[[object], Any]
    default: Any
    help: str


KEYS: dict[str, Key] = {
    "database_url": Key(
        _parse_str,
        None,
        "SQLAlchemy URL of the store; default sqlite:///<repo>/.greenline/greenline.db",
    ),
    "coverage_exclude": Key(
        _parse_patterns,
        (),
        "glob patterns (relative to the repository) whose coverage is not recorded",
    ),
    "trace_subprocesses": Key(
        _parse_flag,
        True,
        "while recording, trace the Python subprocesses tests start (a sitecustomize put in "
        "front of PYTHONPATH) and count their coverage as the test's",
    ),
    "granularity": Key(
        _parse_granularity,
        "function",
        "what recording fingerprints per test: function (the functions it ran), or branch (the "
        "bodies of ifs, loops, trys, withs and cases it entered: a change in a branch a test "
        "never entered does not select it)",
    ),
    "always_run": Key(
        _parse_patterns,
        (),
        "test id glob patterns that selection always runs (smoke tests, say)",
    ),
    "selection_order": Key(
        _parse_order,
        "likely-first",
        "the order pytest --greenline-select runs tests in: likely-first, or keep (pytest's own, "
        "for a suite whose tests depend on their order)",
    ),
    "quarantine_release_after": Key(
        _parse_count,
        20,
        "a quarantined test is released after this many recorded runs in a row that it passed",
    ),
    "store_busy_timeout": Key(
        _parse_seconds,
        30.0,
        "seconds a writer waits for another one's lock on the store before giving up "
        "(a recording session then runs its tests unrecorded)",
    ),
    "server_retry_seconds": Key(
        _parse_seconds,
        30.0,
        "seconds a request to the team server (an upload's batch, a selection) is retried, "
        "with backoff, before greenline gives up (the run is left incomplete, or every test runs)",
    ),
    "executor": Key(
        _parse_executor,
        "local",
        "where greenline runs tests (greenline run --shards, flaky scans): local processes, or "
        "ray (a Ray cluster; needs the ray extra)",
    ),
    "ray_address": Key(
        _parse_str,
        None,
        "the Ray cluster for executor = ray: host:port of its head node, or ray://host:10001 "
        "(default: RAY_ADDRESS, else a local Ray)",
    ),
    "queue_agents_enqueue": Key(
        _parse_flag,
        False,
        "let MCP clients (coding agents) add branches to the merge queue (enqueue_change)",
    ),
    "server_url": Key(
        _parse_str,
        None,
        "the team server's address for those who reach it (greenline backstage names its /mcp; "
        "the CI workflow greenline init writes reads GREENLINE_SERVER_URL)",
    ),
    "github_repositories": Key(
        _parse_repositories,
        (),
        "the GitHub repositories (OWNER/REPO) whose webhooks the team server acts on; default: "
        "the server's repository (its origin remote) and the repositories of the runs it stores",
    ),
    "server_host": Key(_parse_str, "127.0.0.1", "the address greenline serve listens on"),
    "server_port": Key(_parse_between(1, 65535), 8787, "the port greenline serve listens on"),
    "server_workers": Key(_parse_between(1, 64), 1, "greenline serve's server processes"),
    "server_public_read": Key(
        _parse_flag,
        False,
        "greenline serve answers reads without a token (writes still need a write token)",
    ),
}


@dataclass(frozen=True, slots=True)
class Value:
    """A setting's value and where it came from."""

    value: Any
    source: str


@dataclass(frozen=True)
class Settings:
    """The resolved settings for one repository."""

    root: Path
    values: dict[str, Value] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        url = self.values["database_url"].value
        if url:
            return str(url)
        return f"sqlite:///{self.root / '.greenline' / 'greenline.db'}"

    @property
    def coverage_exclude(self) -> tuple[str, ...]:
        return tuple(self.values["coverage_exclude"].value)

    @property
    def trace_subprocesses(self) -> bool:
        return bool(self.values["trace_subprocesses"].value)

    @property
    def granularity(self) -> str:
        return str(self.values["granularity"].value)

    @property
    def always_run(self) -> tuple[str, ...]:
        return tuple(self.values["always_run"].value)

    @property
    def selection_order(self) -> str:
        return str(self.values["selection_order"].value)

    @property
    def quarantine_release_after(self) -> int:
        return int(self.values["quarantine_release_after"].value)

    @property
    def store_busy_timeout(self) -> float:
        return float(self.values["store_busy_timeout"].value)

    @property
    def server_retry_seconds(self) -> float:
        return float(self.values["server_retry_seconds"].value)

    @property
    def executor(self) -> str:
        return str(self.values["executor"].value)

    @property
    def ray_address(self) -> str | None:
        value = self.values["ray_address"].value
        return str(value) if value else None

    @property
    def queue_agents_enqueue(self) -> bool:
        return bool(self.values["queue_agents_enqueue"].value)

    @property
    def server_url(self) -> str | None:
        value = self.values["server_url"].value
        return str(value) if value else None

    @property
    def github_repositories(self) -> tuple[str, ...]:
        return tuple(self.values["github_repositories"].value)

    @property
    def server_host(self) -> str:
        return str(self.values["server_host"].value)

    @property
    def server_port(self) -> int:
        return int(self.values["server_port"].value)

    @property
    def server_workers(self) -> int:
        return int(self.values["server_workers"].value)

    @property
    def server_public_read(self) -> bool:
        return bool(self.values["server_public_read"].value)


#: ``scheme://user:password@`` in a URL; the password runs to the last ``@`` of its word, so one
#: with an ``@`` or ``/`` in it (pasted unencoded) is hidden whole.
_URL_PASSWORD = re.compile(r"(\b[a-zA-Z][\w+.-]*://[^:/@\s]*):[^\s]*@")
#: ``password=...`` in a libpq keyword string or a URL's query.
_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd)=[^\s&;]*")
#: ``GREENLINE_GITHUB_TOKEN=...`` and the like, written on a command line.
_SECRET_ASSIGNMENT = re.compile(
    r"\b([A-Z][A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIALS?))=[^\s]*"
)


def mask_url(url: str) -> str:
    """A URL with its password hidden (``postgresql://u:***@host/db``), for any output."""
    masked = _URL_PASSWORD.sub(r"\1:***@", url)
    return _PASSWORD_PARAM.sub(r"\1=***", masked)


def mask_args(args: str | None) -> str | None:
    """A command line with every credential in it hidden: URL passwords (``--greenline-db URL``,
    ``--greenline-db=URL``, ``--db``, or anywhere else) and ``NAME_TOKEN=value`` assignments.
    Applied before a command line is stored or shown, since the store is shared."""
    if args is None:
        return None
    return _SECRET_ASSIGNMENT.sub(r"\1=***", mask_url(args))


def _unknown_key(key: str, where: str) -> ConfigError:
    close = difflib.get_close_matches(key, KEYS, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(KEYS))}"
    return ConfigError(f"{where}: unknown key '{key}'", hint=hint)


def _parse(key: str, raw: object, where: str) -> Any:
    try:
        return KEYS[key].parse(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{where}: {key} = {raw!r}: {exc}", hint=f"{key}: {KEYS[key].help}"
        ) from None


def read_pyproject(root: Path) -> dict[str, object]:
    """The ``[tool.greenline]`` table of ``root/pyproject.toml`` ({} when absent)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the file's syntax") from None
    tool = data.get("tool", {})
    table = tool.get("greenline", {}) if isinstance(tool, dict) else tool
    if not isinstance(table, dict):
        where = "[tool.greenline]" if isinstance(tool, dict) else "[tool]"
        raise ConfigError(
            f"{path}: {where} must be a table, not {type(table).__name__} {table!r}",
            hint="put the settings under a [tool.greenline] header (see: greenline config show)",
        )
    return table


def load_settings(
    root: Path,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> Settings:
    """Resolve every key from its layers; an unknown or malformed key is a ConfigError."""
    values = {name: Value(key.default, "default") for name, key in KEYS.items()}
    where = f"{root / 'pyproject.toml'} [tool.greenline]"
    for name, raw in read_pyproject(root).items():
        if name not in KEYS:
            raise _unknown_key(name, where)
        values[name] = Value(_parse(name, raw, where), "pyproject.toml")
    for name in KEYS:
        env_name = ENV_PREFIX + name.upper()
        if env is not None and env.get(env_name):
            values[name] = Value(_parse(name, env[env_name], env_name), f"env {env_name}")
    for name, raw in (flags or {}).items():
        if raw is None:
            continue
        if name not in KEYS:
            raise _unknown_key(name, "flags")
        values[name] = Value(_parse(name, raw, f"--{name}"), "flag")
    return Settings(root=root, values=values)
