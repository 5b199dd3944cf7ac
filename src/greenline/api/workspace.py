"""What every capability's service shares: the settings, the store, the repository (its name,
root and the directory the user pointed at) and the executor that runs jobs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from greenline import vcs
from greenline.config import Settings, Value, load_settings, mask_url
from greenline.errors import NoDataError
from greenline.executor import Executor, LocalExecutor, default_executor
from greenline.store import Store


@dataclass(frozen=True)
class Workspace:
    """One repository's view of a store."""

    settings: Settings
    store: Store
    repository: str
    in_git: bool
    root: Path
    #: where the user pointed greenline (commands that run the suite run there)
    workdir: Path
    executor: Executor = field(default_factory=default_executor)

    @property
    def greenline_dir(self) -> Path:
        """greenline's own files in the work tree (the default store, queue trees, insights)."""
        return self.root / ".greenline"

    def close(self) -> None:
        self.store.close()


def open_workspace(
    path: Path | None = None,
    *,
    db: str | None = None,
    env: Mapping[str, str] | None = None,
    migrate: bool = True,
    create: bool = True,
    flags: Mapping[str, object] | None = None,
) -> Workspace:
    """Open the store for the repository containing ``path`` (default: the current dir).

    With ``create=False`` (read commands) a local store that does not exist yet is a
    NoDataError rather than a new empty file. ``flags`` are settings given on the command line
    (``executor``, ``ray_address``)."""
    start, root, git_root = locate(path)
    given = {"database_url": db, **(flags or {})}
    settings = load_settings(root, os.environ if env is None else env, given)
    missing = _missing_sqlite_file(settings.database_url)
    if missing is not None and not create:
        raise NoDataError(
            f"no greenline store at {missing} yet",
            hint="record a run first: greenline record (or pytest --greenline-record)",
        )
    if not settings.values["database_url"].value:
        _keep_store_out_of_git(root / ".greenline")
    store = Store(settings.database_url, migrate=migrate, busy_timeout=settings.store_busy_timeout)
    name = vcs.repository_name(root)
    executor = make_executor(settings, root)
    return Workspace(settings, store, name, git_root is not None, root, start, executor)


def make_executor(settings: Settings, root: Path) -> Executor:
    """The backend the settings name (a Ray cluster joins on its first job, not here)."""
    if settings.executor == "ray":
        from greenline.executor.ray_backend import RayExecutor

        return RayExecutor(settings.ray_address, root, vcs.list_files)
    return LocalExecutor()


def load_config(
    path: Path | None = None,
    *,
    db: str | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, object] | None = None,
) -> dict[str, Value]:
    """The settings of the repository containing ``path``, without opening the store (flags
    over ``GREENLINE_*`` over ``[tool.greenline]`` over defaults); the database URL with its
    password masked."""
    _, root, _ = locate(path)
    given = {**(flags or {}), "database_url": db}
    settings = load_settings(root, os.environ if env is None else env, given)
    values = dict(settings.values)
    values["database_url"] = Value(mask_url(settings.database_url), values["database_url"].source)
    return values


def locate(path: Path | None) -> tuple[Path, Path, Path | None]:
    """(where the user pointed, the repository root, the git root if any)."""
    start = (path or Path.cwd()).resolve()
    git_root = vcs.find_root(start)
    return start, git_root or start, git_root


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names, if it does not exist yet."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return None
    file = Path(url.removeprefix(prefix).split("?", 1)[0])
    return None if file.exists() else file


def _keep_store_out_of_git(folder: Path) -> None:
    """The default store lives in the work tree; a .gitignore keeps it from making it dirty."""
    ignore = folder / ".gitignore"
    if not ignore.exists():
        folder.mkdir(parents=True, exist_ok=True)
        ignore.write_text("# greenline's local store\n*\n")
