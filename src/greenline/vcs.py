"""git via subprocess: the repository root, its name, and the commit and branch a run is tied to."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from greenline.errors import VcsError
from greenline.ids import is_object_id
from greenline.model import Change, CommitInfo, FileChange, FileStatus

#: CI systems check out a detached HEAD and name the branch in the environment.
BRANCH_ENV_VARS = ("GREENLINE_BRANCH", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME")


def _git(root: Path, *args: str) -> str | None:
    """git's stdout, or None when git fails (not a repository, no commits yet)."""
    if shutil.which("git") is None:
        return None
    proc = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=60
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def find_root(path: Path) -> Path | None:
    """The top of the git work tree containing ``path``, or None outside one."""
    if not path.is_dir():
        raise VcsError(f"no such directory: {path}", hint="pass an existing directory with --repo")
    top = _git(path, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def repository_name(root: Path) -> str:
    """A name for the repository that is the same on every clone: owner/name from the origin
    remote, else the directory's name."""
    url = _git(root, "config", "--get", "remote.origin.url") if (root / ".git").exists() else None
    if url:
        match = re.search(r"[:/]([^/:]+/[^/]+?)(?:\.git)?/?$", url)
        if match:
            return match.group(1)
    return root.resolve().name


def default_branch(root: Path) -> str:
    """The branch the origin remote calls its default (``origin/HEAD``), else ``main`` or
    ``master`` when one exists, else ``main``."""
    head = _git(root, "symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD")
    if head and "/" in head:
        return head.split("/", 1)[1]
    for name in ("main", "master"):
        if _git(root, "rev-parse", "--verify", "-q", f"refs/heads/{name}") is not None:
            return name
    return "main"


def _branch(root: Path) -> str | None:
    branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD")
    if branch:
        return branch
    return next((os.environ[v] for v in BRANCH_ENV_VARS if os.environ.get(v)), None)


def read_commit(root: Path) -> CommitInfo:
    """The commit checked out at ``root``; all fields empty outside git or before a first commit."""
    head = _git(root, "log", "-1", "--format=%H%x00%cI%x00%s")
    branch = _branch(root)
    if not head:
        return CommitInfo(branch=branch)
    sha, when, subject = head.split("\x00", 2)
    # tracked changes only (like git describe --dirty): build outputs and reports do not count
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return CommitInfo(
        sha=sha,
        branch=branch,
        dirty=bool(status),
        committed_at=datetime.fromisoformat(when),
        subject=subject,
    )


STATUS_LETTERS = {
    "A": FileStatus.ADDED,
    "M": FileStatus.MODIFIED,
    "T": FileStatus.MODIFIED,
    "D": FileStatus.DELETED,
}


def resolve_revision(root: Path, rev: str) -> str:
    """The commit sha ``rev`` names; a VcsError for anything that is not a commit here."""
    # a revision starting with "-" would reach git as an option
    sha = (
        None
        if rev.startswith("-")
        else _git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    )
    if not sha:
        raise VcsError(
            f"unknown revision {rev!r} in {root}",
            hint="pass a commit, branch or tag that exists here (git log --oneline)",
        )
    return sha


def merge_base(root: Path, one: str, other: str) -> str | None:
    """The best common ancestor of two revisions, or None when they share no history."""
    if one.startswith("-") or other.startswith("-"):
        return None
    return _git(root, "merge-base", one, other)


def review_base(root: Path) -> str:
    """Where a change under review starts: the merge-base of HEAD with the default branch (the
    origin's copy of it when there is one, as in a CI checkout). A VcsError when neither
    exists."""
    branch = default_branch(root)
    for ref in (f"refs/remotes/origin/{branch}", f"refs/heads/{branch}"):
        if _git(root, "rev-parse", "--verify", "--quiet", ref) is not None:
            found = merge_base(root, "HEAD", ref)
            if found:
                return found
    raise VcsError(
        f"no default branch ({branch}) to review the change against in {root}",
        hint="pass the base of the change: --base REV (a commit, branch or tag)",
    )


def has_commit(root: Path, sha: str) -> bool:
    """True when ``sha`` is a full object id naming a commit in the repository at ``root``."""
    return is_object_id(sha) and _git(root, "cat-file", "-e", f"{sha}^{{commit}}") is not None


def require_commit(root: Path, sha: str, source: str) -> None:
    """A VcsError unless ``sha`` is a commit here (a baseline of another history, or of a
    commit not fetched, would compare the working tree with code it never had)."""
    if not has_commit(root, sha):
        raise VcsError(
            f"{source}: commit {sha[:12]} is not in the repository at {root}",
            hint=f"fetch it first (git fetch origin {sha}), or use a baseline made on this history",
        )


def complete_commit(root: Path, given: CommitInfo) -> CommitInfo:
    """``given`` with its sha (a ref such as HEAD, a short sha) resolved to the full commit id,
    and that commit's date and subject; a VcsError for a revision that is no commit here."""
    if given.sha is None:
        return given
    if find_root(root) is None and is_object_id(given.sha.lower()):
        return replace(given, sha=given.sha.lower())  # outside git only a full id can be checked
    sha = resolve_revision(root, given.sha)
    info = _git(root, "log", "-1", "--format=%cI%x00%s", sha) or ""
    when, _, subject = info.partition("\x00")
    return replace(
        given,
        sha=sha,
        committed_at=datetime.fromisoformat(when) if when else None,
        subject=subject or given.subject,
    )


def is_ancestor(root: Path, sha: str, head: str = "HEAD") -> bool:
    """True when ``sha`` is ``head`` or one of its ancestors. Only a full object id counts: a
    stored ref ("HEAD", a branch) names whatever is checked out now, which would make any
    change look like none."""
    if not is_object_id(sha):
        return False
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", sha, head],
        cwd=root,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return proc.returncode == 0


def _parse_name_status(raw: str) -> list[FileChange]:
    fields = raw.split("\x00")
    changes: list[FileChange] = []
    i = 0
    while i < len(fields) and fields[i]:
        letter = fields[i][0]
        if letter in "RC":
            old, new = fields[i + 1], fields[i + 2]
            i += 3
            if letter == "R":
                changes.append(FileChange(new, FileStatus.RENAMED, old_path=old))
            else:
                changes.append(FileChange(new, FileStatus.ADDED))
            continue
        changes.append(FileChange(fields[i + 1], STATUS_LETTERS.get(letter, FileStatus.MODIFIED)))
        i += 2
    return changes


def read_change(root: Path, base: str) -> Change:
    """Every file that differs between commit ``base`` and the working tree: committed,
    staged and unstaged edits, and untracked files that git does not ignore."""
    diff = _git(root, "diff", "--name-status", "-M", "-z", base)
    if diff is None:
        raise VcsError(f"git diff against {base[:12]} failed in {root}", hint="is it a commit?")
    changes = _parse_name_status(diff)
    untracked, ignored = untracked_files(root)
    changes += [FileChange(p, FileStatus.ADDED) for p in untracked]
    return Change(base=base, files=tuple(changes), ignored=tuple(ignored))


#: Untracked directories that are never the project's code, by name (besides virtual
#: environments, which are known by their ``pyvenv.cfg`` or ``conda-meta``).
NOT_PROJECT_DIRS = {
    "__pycache__": "bytecode cache",
    ".tox": "tox environments",
    ".nox": "nox environments",
    ".eggs": "build eggs",
    "build": "build output",
    "dist": "build output",
    "node_modules": "npm packages",
    "site-packages": "installed packages",
    ".mypy_cache": "cache",
    ".pytest_cache": "cache",
    ".ruff_cache": "cache",
    ".hypothesis": "cache",
}
#: greenline's own store directory: never part of a change, and not worth a mention
STORE_DIR = ".greenline/"


def _not_project(root: Path, directory: str) -> str | None:
    """Why an untracked directory is not the project's code, if it is not."""
    name = directory.rstrip("/").rsplit("/", 1)[-1]
    if name in NOT_PROJECT_DIRS:
        return NOT_PROJECT_DIRS[name]
    if name.endswith(".egg-info"):
        return "package metadata"
    folder = root / directory
    if (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir():
        return "a virtual environment"
    return None


def untracked_files(root: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Untracked files git does not ignore, without those in virtual environments, build and
    cache directories; and the directories left out, each with why."""
    out = _git(root, "ls-files", "--others", "--exclude-standard", "--directory", "-z") or ""
    files: list[str] = []
    ignored: list[tuple[str, str]] = []
    pending = [entry for entry in out.split("\x00") if entry]
    while pending:
        entry = pending.pop(0)
        if not entry.endswith("/"):
            files.append(entry)
            continue
        if entry == STORE_DIR:
            continue
        why = _not_project(root, entry)
        if why is not None:
            ignored.append((entry, why))
            continue
        # one level further: a virtual environment may sit inside an untracked folder
        inner = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", entry) or ""
        children = {p[len(entry) :].split("/", 1)[0] for p in inner.split("\x00") if p}
        for child in sorted(children):
            path = entry + child
            pending.append(path + "/" if (root / path).is_dir() else path)
    return sorted(files), ignored


def read_diff(root: Path, base: str) -> bytes:
    """The change from commit ``base`` to the working tree as ``git apply`` takes it: committed,
    staged and unstaged edits, and the untracked files ``read_change`` counts (binary ones
    included; virtual environments, build and cache directories left out). git's own index is
    not touched: the files are added to a copy of it."""
    untracked, _ = untracked_files(root)
    with tempfile.TemporaryDirectory(prefix="greenline-diff-") as scratch:
        index = Path(scratch) / "index"
        own = _git(root, "rev-parse", "--path-format=absolute", "--git-path", "index")
        if own and Path(own).is_file():
            # its file stats spare git re-reading every file; its own mtime is kept so that git
            # still re-reads a file changed in the second the index was written (racy git)
            shutil.copy2(own, index)
        # literal: a file named like a glob (test_[a].py) is that file
        env = {**os.environ, "GIT_INDEX_FILE": str(index), "GIT_LITERAL_PATHSPECS": "1"}
        steps: list[tuple[tuple[str, ...], bytes | None]] = [(("add", "-u", "--", "."), None)]
        if untracked:
            paths = "\x00".join(untracked).encode("utf-8", "surrogateescape")
            steps.append((("add", "--pathspec-from-file=-", "--pathspec-file-nul"), paths))
        steps.append((("diff", "--cached", "--binary", base, "--"), None))
        for args, data in steps:
            proc = subprocess.run(
                ["git", *args],
                cwd=root,
                env=env,
                input=data,
                capture_output=True,
                check=False,
                timeout=300,
            )
            if proc.returncode != 0:
                reason = proc.stderr.decode(errors="replace").strip().splitlines()
                raise VcsError(
                    f"git {args[0]} failed in {root}: {reason[0] if reason else 'no reason given'}",
                    hint=f"is {base[:12]} a commit of this repository?",
                )
    return proc.stdout


def list_python_files(root: Path) -> list[str]:
    """Tracked and untracked .py files, relative to ``root``, without ignored ones and those
    in virtual environments, build and cache directories."""
    out = _git(root, "ls-files", "-z", "--cached", "*.py")
    tracked = {p for p in (out or "").split("\x00") if p}
    untracked = {p for p in untracked_files(root)[0] if p.endswith(".py")}
    return sorted(tracked | untracked)


# -- a tree given as data: a commit plus a patch ---------------------------------------------
_BATCH_HEADER = re.compile(rb"^[0-9a-f]{40,64} ([a-z]+) (\d+)$")


@dataclass(frozen=True)
class ScratchTree:
    """A commit's files with a patch applied, held in a scratch index whose new objects go to a
    scratch object directory: the repository, its index and its work tree are never written."""

    root: Path
    env: dict[str, str]

    def _git(self, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["git", *args],
            cwd=self.root,
            env=self.env,
            input=data,
            capture_output=True,
            check=False,
            timeout=120,
        )

    def change_since(self, base: str) -> Change:
        """Every file that differs between commit ``base`` and this tree."""
        proc = self._git("diff", "--cached", "--name-status", "-M", "-z", base)
        if proc.returncode != 0:
            raise VcsError(f"git diff against {base[:12]} failed in {self.root}")
        return Change(base=base, files=tuple(_parse_name_status(proc.stdout.decode())))

    def files(self) -> set[str]:
        """Every file path in this tree."""
        proc = self._git("ls-files", "-z")
        return {p for p in proc.stdout.decode(errors="surrogateescape").split("\x00") if p}

    def python_files(self) -> list[str]:
        return sorted(p for p in self.files() if p.endswith(".py"))

    def read_texts(self, paths: Iterable[str]) -> dict[str, str | None]:
        """Each path's text in this tree; None for one it lacks (or that is no UTF-8 text)."""
        wanted = [p for p in paths if "\n" not in p]
        # ":0:path" is the path in the index (stage 0), whatever characters the path holds
        names = "".join(f":0:{p}\n" for p in wanted).encode()
        out = self._git("cat-file", "--batch", data=names).stdout
        texts: dict[str, str | None] = {}
        at = 0
        for path in wanted:
            end = out.index(b"\n", at)
            found = _BATCH_HEADER.match(out[at:end])
            at = end + 1
            if found is None:  # "<name> missing"
                texts[path] = None
                continue
            size = int(found.group(2))
            blob, at = out[at : at + size], at + size + 1
            try:
                texts[path] = blob.decode("utf-8") if found.group(1) == b"blob" else None
            except UnicodeDecodeError:
                texts[path] = None
        return texts


#: each repository's object store, by work tree (a server asks for one plan after another)
_COMMON_DIRS: dict[Path, str] = {}


def _common_dir(root: Path) -> str | None:
    """The repository's common git directory (its objects live there), or None outside git."""
    kept = _COMMON_DIRS.get(root)
    if kept is not None and Path(kept).is_dir():
        return kept
    common = _git(root, "rev-parse", "--path-format=absolute", "--git-common-dir")
    if common is not None:
        _COMMON_DIRS[root] = common
    return common


@contextmanager
def scratch_tree(root: Path, base: str, patch: str | None = None) -> Iterator[ScratchTree]:
    """Commit ``base``'s files with ``patch`` (a unified diff, as git diff prints it) applied;
    a VcsError naming git's reason when the patch does not apply there."""
    common = _common_dir(root)
    if common is None:
        raise VcsError(f"{root} is not a git repository", hint="serve from a clone")
    with tempfile.TemporaryDirectory(prefix="greenline-tree-") as scratch:
        objects = Path(scratch) / "objects"
        objects.mkdir()
        env = {
            **os.environ,
            "GIT_INDEX_FILE": str(Path(scratch) / "index"),
            "GIT_OBJECT_DIRECTORY": str(objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(Path(common) / "objects"),
        }
        tree = ScratchTree(root, env)
        if tree._git("read-tree", base).returncode != 0:
            raise VcsError(f"git read-tree {base[:12]} failed in {root}", hint="is it a commit?")
        if patch:
            # a diff read into a shell variable loses its last newline, which git apply needs
            text = patch if patch.endswith("\n") else patch + "\n"
            applied = tree._git("apply", "--cached", "--whitespace=nowarn", "-", data=text.encode())
            if applied.returncode != 0:
                reason = applied.stderr.decode(errors="replace").strip().splitlines()
                raise VcsError(
                    f"the diff does not apply to {base[:12]}: "
                    + (reason[0] if reason else "git apply failed"),
                    hint="send git diff against the base commit you name (git diff BASE)",
                )
        yield tree


def list_files(root: Path) -> list[str]:
    """Tracked and untracked (not ignored) files, relative to ``root``; outside git, every file
    below it."""
    out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if out is None:
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return sorted({p for p in out.split("\x00") if p})


# -- merge-queue trees ------------------------------------------------------------------------
def _run_git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=300
    )


def changed_files(root: Path, base: str, head: str) -> list[str]:
    """The files ``head`` changes since it left ``base`` (``git diff base...head``)."""
    out = _git(root, "diff", "--name-only", "-z", f"{base}...{head}")
    return [p for p in (out or "").split("\x00") if p]


def add_worktree(root: Path, path: Path, sha: str) -> None:
    proc = _run_git(root, "worktree", "add", "--detach", "--force", str(path), sha)
    if proc.returncode != 0:
        raise VcsError(f"git worktree add {path} failed: {proc.stderr.strip()}")


def remove_worktree(root: Path, path: Path) -> None:
    _run_git(root, "worktree", "remove", "--force", str(path))
    shutil.rmtree(path, ignore_errors=True)
    _run_git(root, "worktree", "prune")


def merge_commit(worktree: Path, sha: str, message: str) -> str | None:
    """Merge ``sha`` into the worktree's HEAD as a new commit; its sha, or None on a conflict
    (the worktree is left as it was)."""
    proc = _run_git(
        worktree,
        "-c",
        "user.name=greenline queue",
        "-c",
        "user.email=queue@greenline.invalid",
        "merge",
        "--no-ff",
        "--no-edit",
        "-m",
        message,
        sha,
    )
    if proc.returncode != 0:
        _run_git(worktree, "merge", "--abort")
        return None
    return _git(worktree, "rev-parse", "HEAD")


def fast_forward(root: Path, branch: str, new: str, old: str) -> bool:
    """Move ``branch`` from ``old`` to ``new`` (a descendant) and nothing else: False when the
    branch is no longer at ``old``. A checked-out branch is fast-forwarded with its files."""
    if _git(root, "rev-parse", "--verify", "-q", f"refs/heads/{branch}") != old:
        return False
    if _git(root, "symbolic-ref", "--short", "-q", "HEAD") == branch:
        return _run_git(root, "merge", "--ff-only", "--quiet", new).returncode == 0
    return _run_git(root, "update-ref", f"refs/heads/{branch}", new, old).returncode == 0


#: who the merge queue's tree commits are by (they carry no date of their own: see below)
TREE_IDENTITY = ("greenline queue", "queue@greenline.invalid")


def merge_tree_commit(root: Path, base: str, head: str, message: str) -> str | None:
    """A merge commit of ``head`` into ``base`` made in the object store alone (``git
    merge-tree --write-tree``: no work tree, nothing to clean up after a crash); None on a
    conflict. The commit is a function of its inputs: greenline's identity, and the later
    parent's commit time as its date, so building the same tree again (after a restart, in
    another process) gives the very commit pushed before."""
    proc = _run_git(root, "merge-tree", "--write-tree", "--no-messages", base, head)
    if proc.returncode == 1:
        return None
    if proc.returncode != 0:
        raise VcsError(f"git merge-tree {base[:10]} {head[:10]} failed: {proc.stderr.strip()}")
    tree = proc.stdout.split("\n", 1)[0].strip()
    times = _git(root, "show", "-s", "--format=%ct", base, head) or "0"
    when = f"@{max(int(t) for t in times.split())} +0000"
    name, email = TREE_IDENTITY
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_COMMITTER_DATE": when,
    }
    made = subprocess.run(
        ["git", "commit-tree", tree, "-p", base, "-p", head, "-F", "-"],
        cwd=root,
        input=message,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    if made.returncode != 0:
        raise VcsError(f"git commit-tree failed: {made.stderr.strip()}")
    return made.stdout.strip()


def remote_url(root: Path, name: str = "origin") -> str | None:
    """The URL (or path) of remote ``name``, or None without one (or outside a repository's
    top: a folder inside another repository does not borrow its remotes)."""
    if name.startswith("-") or not (root / ".git").exists():
        return None
    return _git(root, "remote", "get-url", name)


def _transfer(root: Path, args: list[str], env: dict[str, str], what: str) -> None:
    """``git fetch``/``git push`` with ``env`` (credentials travel there, never on the
    command line); a VcsError naming ``what`` when git fails."""
    proc = subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **env},
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        said = proc.stderr.strip().splitlines()
        raise VcsError(
            f"{what} failed: {said[-1] if said else f'git exited {proc.returncode}'}",
            hint="check that the code host is reachable and the token may write to it",
        )


def fetch_refs(root: Path, url: str, refspecs: list[str], env: dict[str, str]) -> None:
    """Fetch ``refspecs`` (``+src:dst``) from the repository at ``url``."""
    if url.startswith("-") or any(s.lstrip("+").startswith("-") for s in refspecs):
        raise VcsError(f"bad remote or refspec: {url} {refspecs}")
    args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", url, *refspecs]
    _transfer(root, args, env, f"fetching {' '.join(refspecs)}")


def push_commit(root: Path, url: str, sha: str, ref: str, env: dict[str, str]) -> None:
    """Point ``ref`` at the repository at ``url`` to commit ``sha`` (pushed from here, moved
    whatever it held before: the queue's own branches only)."""
    if not is_object_id(sha) or not ref.startswith("refs/") or url.startswith("-"):
        raise VcsError(f"bad push of {sha!r} to {ref!r}")
    _transfer(root, ["push", "--quiet", "--force", url, f"{sha}:{ref}"], env, f"pushing {ref}")


def diff_between(root: Path, base: str, head: str) -> str:
    """``git diff base head`` as a patch ``git apply`` takes (binary changes included)."""
    proc = _run_git(root, "diff", "--binary", "--no-color", "--no-ext-diff", base, head)
    if proc.returncode != 0:
        raise VcsError(f"git diff {base[:10]} {head[:10]} failed: {proc.stderr.strip()}")
    return proc.stdout


def first_parent_commits(root: Path, good: str, bad: str) -> list[tuple[str, str, str]]:
    """(sha, subject, author) of the first-parent commits in (good, bad], oldest first."""
    proc = _run_git(
        root,
        "rev-list",
        "--first-parent",
        "--reverse",
        "--format=%H%x1f%s%x1f%an <%ae>",
        "--no-commit-header",
        f"{good}..{bad}",
    )
    if proc.returncode != 0:
        raise VcsError(f"git rev-list {good[:10]}..{bad[:10]} failed: {proc.stderr.strip()}")
    rows = []
    for line in proc.stdout.splitlines():
        sha, _, rest = line.partition("\x1f")
        subject, _, author = rest.partition("\x1f")
        rows.append((sha, subject, author))
    return rows


def commit_message(root: Path, sha: str) -> str:
    return _git(root, "log", "-1", "--format=%B", sha) or ""


def revert_commit(worktree: Path, sha: str) -> str | None:
    """Revert ``sha`` on the worktree's HEAD as a new commit; its sha, or None when it does not
    revert cleanly (the worktree is left as it was)."""
    proc = _run_git(
        worktree,
        "-c",
        "user.name=greenline",
        "-c",
        "user.email=recovery@greenline.invalid",
        "revert",
        "--no-edit",
        sha,
    )
    if proc.returncode != 0:
        _run_git(worktree, "revert", "--abort")
        return None
    return _git(worktree, "rev-parse", "HEAD")


def create_branch(root: Path, name: str, sha: str) -> bool:
    """A new branch ``name`` at ``sha``; False when it exists already (nothing is moved)."""
    if _git(root, "rev-parse", "--verify", "-q", f"refs/heads/{name}") is not None:
        return False
    return _run_git(root, "branch", name, sha).returncode == 0


def apply_patch(tree: Path, diff: str) -> str | None:
    """Apply a unified diff to the files of ``tree`` (a git repository or not); None when it
    applied, else git's reason (nothing is changed then: ``git apply`` is all or nothing)."""
    proc = subprocess.run(
        ["git", "apply", "--whitespace=nowarn", "-"],
        cwd=tree,
        input=diff,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode == 0:
        return None
    return proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else "git apply failed"


# -- the code host's commits ------------------------------------------------------------------
def fetch_commit(root: Path, sha: str, remote: str = "origin") -> bool:
    """Fetch commit ``sha`` (a full object id) from ``remote`` unless it is here already;
    True when it is here afterwards (a pull request's head the server's clone lacked)."""
    if has_commit(root, sha):
        return True
    if not is_object_id(sha) or remote.startswith("-"):
        return False
    _run_git(root, "fetch", "--quiet", "--no-tags", remote, sha)
    return has_commit(root, sha)


def read_file_at(root: Path, sha: str, path: str) -> str | None:
    """The text of ``path`` at commit ``sha``, or None (no such file, not text)."""
    if not is_object_id(sha) or path.startswith("-") or ":" in path:
        return None
    proc = subprocess.run(
        ["git", "show", f"{sha}:{path}"], cwd=root, capture_output=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        return None
    try:
        return proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None
