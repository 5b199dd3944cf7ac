"""A local code host for tests and demos: a bare git repository is the remote (branches move
for real, with git), and its pull requests, comments and CI results are a small JSON record
beside the refs (``greenline-forge.json`` in the bare repository, written whole under a lock).

What happens on the host's side (a pull request opened or labelled, CI finishing on a branch)
is done with its methods, each returning the webhook GitHub would send for it, in GitHub's
shape, for the queue to be told through the same path as on GitHub.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from greenline.errors import ForgeError
from greenline.forge.pull_events import read_pull
from greenline.forge.pulls import GitRemote
from greenline.model.pulls import QUEUE_BRANCH_PREFIX, CiResult, PullRequest

RECORD = "greenline-forge.json"
VERSION = 1


class LocalForge:
    """One repository on the local forge: ``bare`` is its git repository."""

    kind = "local-git"

    def __init__(self, bare: Path) -> None:
        self.bare = bare
        self.path = bare / RECORD
        if not self.path.is_file():
            raise ForgeError(
                f"{bare} is no local forge repository (no {RECORD} in it)",
                hint="make one with LocalForge.create(path, 'owner/name'), or use GitHub",
            )
        self.repository = str(self._read()["repository"])
        self._calls = 0

    @classmethod
    def create(cls, bare: Path, repository: str, default_branch: str = "main") -> LocalForge:
        """A new bare repository with an empty record (push a project to it next)."""
        bare.mkdir(parents=True, exist_ok=True)
        made = subprocess.run(
            ["git", "init", "-q", "--bare", "-b", default_branch, str(bare)],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise ForgeError(f"git init {bare} failed: {made.stderr.strip()}")
        record = {
            "version": VERSION,
            "repository": repository,
            "default_branch": default_branch,
            "pulls": {},
            "comments": [],
            "ci": [],
            "next_id": 1,
        }
        (bare / RECORD).write_text(json.dumps(record, indent=1))
        return cls(bare)

    @staticmethod
    def is_forge(path: Path) -> bool:
        return (path / RECORD).is_file()

    # -- the record --------------------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.path.read_text())
        return doc

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """The record, written back whole (atomically) when the block ends without error."""
        with open(self.bare / "greenline-forge.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            doc = self._read()
            yield doc
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(doc, indent=1))
            tmp.replace(self.path)

    def _call(self) -> None:
        self._calls += 1

    @property
    def calls(self) -> int:
        return self._calls

    # -- what the queue uses (PullHost) ------------------------------------------------------
    def remote(self) -> GitRemote:
        return GitRemote(str(self.bare))

    def default_branch(self) -> str:
        self._call()
        return str(self._read()["default_branch"])

    def read_pull(self, number: int) -> PullRequest:
        self._call()
        with self._changing() as doc:
            found = doc["pulls"].get(str(number))
            if found is None:
                raise ForgeError(
                    f"{self.repository} has no pull request #{number}",
                    hint="check the number (greenline queue add --pr N)",
                )
            pull = read_pull(self._pull_doc(found))
        assert pull is not None
        return pull

    def pull_ref(self, number: int) -> str:
        return f"refs/pull/{int(number)}/head"

    def branch_sha(self, branch: str) -> str | None:
        self._call()
        return self._resolve(f"refs/heads/{branch}")

    def queue_branches(self) -> dict[str, str]:
        self._call()
        prefix = f"refs/heads/{QUEUE_BRANCH_PREFIX}"
        out = _git(self.bare, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
        refs = dict(line.split(" ", 1) for line in out.splitlines() if line)
        return {ref.removeprefix("refs/heads/"): sha for ref, sha in refs.items()}

    def delete_branch(self, branch: str) -> bool:
        self._call()
        old = self._resolve(f"refs/heads/{branch}")
        return old is not None and _ok(self.bare, "update-ref", "-d", f"refs/heads/{branch}", old)

    def fast_forward(self, branch: str, sha: str) -> bool:
        self._call()
        ref = f"refs/heads/{branch}"
        old = self._resolve(ref)
        if old == sha:
            return True
        if old is None or not _ok(self.bare, "merge-base", "--is-ancestor", old, sha):
            return False
        return _ok(self.bare, "update-ref", ref, sha, old)

    def upsert_comment(self, number: int, key: str, body: str) -> None:
        self._call()
        with self._changing() as doc:
            if str(number) not in doc["pulls"]:
                raise ForgeError(f"{self.repository} has no pull request #{number}")
            for comment in doc["comments"]:
                if comment["number"] == number and comment["key"] == key:
                    comment["body"] = body
                    return
            doc["comments"].append(
                {"id": _next_id(doc), "number": number, "key": key, "body": body}
            )

    def remove_label(self, number: int, label: str) -> None:
        self._call()
        with self._changing() as doc:
            pull = doc["pulls"].get(str(number))
            if pull is not None and label in pull["labels"]:
                pull["labels"].remove(label)

    def ci_results(self, branch: str, sha: str) -> list[CiResult]:
        self._call()
        return [
            CiResult(**r) for r in self._read()["ci"] if r["branch"] == branch and r["sha"] == sha
        ]

    def close(self) -> None:
        pass

    # -- the host's side (tests and demos) ---------------------------------------------------
    def open_pull(self, head_ref: str, title: str = "", base: str | None = None) -> dict[str, Any]:
        """A pull request of branch ``head_ref``; the ``pull_request`` opened webhook."""
        sha = self._resolve(f"refs/heads/{head_ref}")
        if sha is None:
            raise ForgeError(f"no branch {head_ref} at {self.bare}", hint="push it first")
        with self._changing() as doc:
            number = _next_id(doc)
            doc["pulls"][str(number)] = {
                "number": number,
                "title": title or head_ref,
                "head_ref": head_ref,
                "base_ref": base or doc["default_branch"],
                "labels": [],
                "closed": False,
            }
            _git(self.bare, "update-ref", self.pull_ref(number), sha)
            return self._pull_payload(doc, "opened", number)

    def add_label(self, number: int, label: str) -> dict[str, Any]:
        """``label`` on the pull request; the ``pull_request`` labeled webhook."""
        with self._changing() as doc:
            pull = doc["pulls"][str(number)]
            if label not in pull["labels"]:
                pull["labels"].append(label)
            return self._pull_payload(doc, "labeled", number, label)

    def report_ci(
        self, branch: str, sha: str, conclusion: str, *, name: str = "CI", url: str | None = None
    ) -> dict[str, Any]:
        """CI finished on ``sha`` pushed as ``branch``: the ``workflow_run`` completed webhook."""
        with self._changing() as doc:
            ident = _next_id(doc)
            result = CiResult(
                branch, sha, conclusion == "success", name, conclusion, f"workflow_run {ident}", url
            )
            doc["ci"].append(dataclasses.asdict(result))
            repository = {"full_name": doc["repository"], "default_branch": doc["default_branch"]}
        run = {
            "id": ident,
            "name": name,
            "head_branch": branch,
            "head_sha": sha,
            "status": "completed",
            "conclusion": conclusion,
            "html_url": url,
            "event": "push",
        }
        return {"action": "completed", "workflow_run": run, "repository": repository}

    def comments(self, number: int) -> list[str]:
        return [c["body"] for c in self._read()["comments"] if c["number"] == number]

    # -- inside ------------------------------------------------------------------------------
    def _resolve(self, ref: str) -> str | None:
        out = _git(self.bare, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return out or None

    def _pull_doc(self, pull: dict[str, Any]) -> dict[str, Any]:
        """A pull request in the REST API's shape; its head follows its branch, and it is
        merged once its head is on its base (as GitHub marks it)."""
        ref = self.pull_ref(pull["number"])
        head = self._resolve(f"refs/heads/{pull['head_ref']}") or self._resolve(ref) or ""
        if head and head != self._resolve(ref):
            _git(self.bare, "update-ref", ref, head)
        base = self._resolve(f"refs/heads/{pull['base_ref']}") or ""
        merged = bool(head and base) and _ok(self.bare, "merge-base", "--is-ancestor", head, base)
        return {
            "number": pull["number"],
            "title": pull["title"],
            "state": "closed" if pull["closed"] or merged else "open",
            "merged": merged,
            "head": {"ref": pull["head_ref"], "sha": head},
            "base": {"ref": pull["base_ref"], "sha": base},
            "labels": [{"name": n} for n in pull["labels"]],
        }

    def _pull_payload(
        self, doc: dict[str, Any], action: str, number: int, label: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "action": action,
            "number": number,
            "pull_request": self._pull_doc(doc["pulls"][str(number)]),
            "repository": {"full_name": doc["repository"], "default_branch": doc["default_branch"]},
        }
        if label is not None:
            payload["label"] = {"name": label}
        return payload


def _next_id(doc: dict[str, Any]) -> int:
    number = int(doc["next_id"])
    doc["next_id"] = number + 1
    return number


def _git(bare: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        ["git", "--git-dir", str(bare), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise ForgeError(f"git {' '.join(args[:2])} in {bare} failed: {proc.stderr.strip()}")
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _ok(bare: Path, *args: str) -> bool:
    proc = subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, check=False, timeout=120
    )
    return proc.returncode == 0
