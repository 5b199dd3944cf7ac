"""Setting a repository up for CI: ``greenline init github|circleci`` writes the provider's
configuration into the repository (never over an existing file unless told to), without
opening the store."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from greenline import vcs
from greenline.api.workspace import locate
from greenline.errors import UsageError
from greenline.forge import workflows

PROVIDERS = {
    "github": (workflows.GITHUB_PATH, workflows.github_workflow),
    "circleci": (workflows.CIRCLECI_PATH, workflows.circleci_config),
}
NEXT_STEPS = {
    "github": (
        "commit it; with a team server, set the repository variable GREENLINE_SERVER_URL and "
        "the secret GREENLINE_TOKEN (greenline token create ci --scope write)",
        "for merge queues, require the 'Selected tests first' check in the branch's ruleset",
    ),
    "circleci": (
        "CircleCI reads only .circleci/config.yml: rename this file to it, or copy its "
        "executors, commands, jobs and workflows into yours",
        "add a scheduled pipeline (Project Settings > Triggers) for the nightly flaky scan",
        "with a team server, set GREENLINE_SERVER_URL and GREENLINE_TOKEN in a context",
    ),
}


@dataclass(frozen=True)
class WrittenFile:
    """What ``init`` wrote: the path (relative to the repository's root), its size, whether
    it replaced a file, and what to do next."""

    provider: str
    path: str
    root: Path
    size: int
    replaced: bool
    next_steps: tuple[str, ...]


def write_ci_config(
    provider: str,
    path: Path | None = None,
    *,
    force: bool = False,
    python: str | None = None,
) -> WrittenFile:
    """Write ``provider``'s configuration into the repository containing ``path``."""
    if provider not in PROVIDERS:
        raise UsageError(f"no CI provider {provider!r}", hint=f"one of {', '.join(PROVIDERS)}")
    if python is not None and not re.fullmatch(r"3\.\d{1,2}", python):
        raise UsageError(
            f"--python {python!r} is not a Python version", hint="give major.minor, e.g. 3.12"
        )
    _, root, _ = locate(path)
    relative, render = PROVIDERS[provider]
    target = root / relative
    if target.exists() and not force:
        raise UsageError(
            f"{target} already exists; nothing was written",
            hint=f"look at it, then overwrite it with: greenline init {provider} --force",
        )
    if target.is_dir():
        raise UsageError(f"{target} is a directory", hint="move it away, then run init again")
    facts = workflows.CiFacts(
        branch=vcs.default_branch(root) if (root / ".git").exists() else "main",
        python=python or f"{sys.version_info.major}.{sys.version_info.minor}",
        install=workflows.install_commands({p.name for p in root.iterdir()}),
    )
    text = render(facts)
    replaced = target.exists()
    _write_atomically(target, text)
    return WrittenFile(provider, relative, root, len(text.encode()), replaced, NEXT_STEPS[provider])


def _write_atomically(target: Path, text: str) -> None:
    """The whole file or nothing: written beside the target, then renamed over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(temp).chmod(0o644)  # mkstemp's 0600 would hide it from the repository's users
        Path(temp).replace(target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
