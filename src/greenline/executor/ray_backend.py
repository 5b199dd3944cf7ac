"""The Ray backend: each job a Ray task that runs the command on a worker of the cluster, in a
copy of the work tree that Ray ships there (a ``runtime_env`` working directory), and hands
back its exit code and its ``{out}`` files; the driver stores what comes back.

The work tree goes as one zip of the files the caller lists (git's tracked and unignored
files), checked against Ray's package limit before anything is sent. A task is never retried
by Ray itself: a worker that dies shows as a result without an exit code (and why), and the
caller decides. Jobs a person watches (``Output.INHERIT``) run on this machine instead.
Ray is imported on first use only: it is an extra (``pip install 'greenline[ray]'``).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from greenline.errors import GreenlineError, UsageError
from greenline.executor.jobs import Job, JobResult, Output
from greenline.executor.local import LocalExecutor, LocalHandle

T = TypeVar("T")
R = TypeVar("R")

#: Ray keeps a working directory in its GCS and sends it in one gRPC message: 512 MiB at most.
RAY_PACKAGE_LIMIT = 512 * 1024 * 1024
#: never shipped, whatever the file list says
SKIPPED_PARTS = frozenset({".git", ".greenline", "__pycache__", ".venv", ".tox", ".nox"})
#: how a remote task's result is shaped: exit code, seconds, files, log bytes
Outcome = tuple[int | None, float, dict[str, bytes], bytes | None]


class RayUnavailableError(GreenlineError):
    """Ray is not installed, or the cluster cannot be reached."""

    exit_code = 4


def build_package(root: Path, files: Iterable[str], limit: int, dest: Path) -> int:
    """Zip ``files`` (relative to ``root``) into ``dest``, the same bytes for the same tree
    (sorted, fixed timestamps: Ray then recognises a tree it has already); its size."""
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(set(files)):
            path = root / name
            if SKIPPED_PARTS.intersection(Path(name).parts) or not path.is_file():
                continue
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IMODE(path.stat().st_mode) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
            top = name.split("/", 1)[0]
            sizes[top] = sizes.get(top, 0) + path.stat().st_size
    size = dest.stat().st_size
    if size >= limit:
        largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
        named = ", ".join(f"{top} ({n / 2**20:.0f} MiB)" for top, n in largest)
        raise UsageError(
            f"the work tree to ship to Ray is {size / 2**20:.0f} MiB zipped, over Ray's limit "
            f"of {limit / 2**20:.0f} MiB for a working directory (largest: {named})",
            hint="keep large files out of the tree (.gitignore them, or fetch test data in the "
            "tests), or run with --executor local",
        )
    return size


def shipped_path(root: Path, cwd: Path) -> str | None:
    """Where ``cwd`` is in the work tree's package (``root``'s files, as ``build_package``
    ships them), or None when it is not in it: outside ``root``, or in a part never shipped
    (a worktree under ``.greenline/``)."""
    try:
        relative = cwd.relative_to(root)
    except ValueError:
        return None
    if SKIPPED_PARTS.intersection(relative.parts):
        return None
    return relative.as_posix()


def unpack_tree(archive: bytes, dest: Path) -> None:
    """A package ``build_package`` made, unpacked into ``dest`` with its files' modes (zipfile
    drops them); a name that would land outside ``dest`` is refused."""
    top = dest.resolve()
    with zipfile.ZipFile(io.BytesIO(archive)) as package:
        for info in package.infolist():
            target = (top / info.filename).resolve()
            if not target.is_relative_to(top) or info.is_dir():
                raise ValueError(f"not a file of the tree: {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(package.read(info))
            target.chmod(stat.S_IMODE(info.external_attr >> 16) or 0o644)


def run_remote_job(job: Job, relative: str, tree: bytes | None = None) -> Outcome:
    """On the worker: run ``job`` in the shipped tree (Ray made its copy of the work tree the
    current directory; a worktree of its own comes as ``tree``, a package unpacked here for the
    job and removed after it), killed with this worker if the worker dies."""
    scratch = Path(tempfile.mkdtemp(prefix="greenline-job-"))
    try:
        if tree is None:
            cwd = Path.cwd() / relative
        else:
            cwd = scratch / "tree"
            unpack_tree(tree, cwd)
        log = scratch / "job.log" if job.output is Output.LOG else None
        local = Job(job.argv, cwd, job.env, job.timeout, job.output, log, job.inputs)
        result = LocalHandle(local, die_with_parent=True).wait()
        logged = log.read_bytes() if log is not None and log.exists() else None
        return result.exit_code, result.seconds, dict(result.files), logged
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _keep_stdout_clean() -> None:
    """Ray's driver prints the cluster's error messages (a worker died, say) on stdout, where
    greenline's machine output goes: send them to stderr. Its private hook, so only if there."""
    try:
        from ray._private import worker
    except ImportError:
        return
    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "greenline", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr.greenline = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


class RayHandle:
    """One job running as a Ray task."""

    def __init__(self, ref: Any, job: Job, ray: Any) -> None:
        self.ref = ref
        self.job = job
        self.ray = ray
        self.ident = f"ray:{ref.hex()}"
        self.started = time.monotonic()
        # the task enforces the timeout itself; this is for a worker that cannot
        grace = 30.0
        self.deadline = self.started + job.timeout + grace if job.timeout else None
        self.result: JobResult | None = None

    def poll(self) -> JobResult | None:
        if self.result is not None:
            return self.result
        ready, _ = self.ray.wait([self.ref], timeout=0)
        if ready:
            return self._finish()
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.cancel()
            return self.result
        return None

    def wait(self) -> JobResult:
        if self.result is not None:
            return self.result
        remaining = None if self.deadline is None else max(0.0, self.deadline - time.monotonic())
        ready, _ = self.ray.wait([self.ref], timeout=remaining)
        if not ready:
            self.cancel()
            assert self.result is not None
            return self.result
        return self._finish()

    def cancel(self) -> None:
        if self.result is None:
            with contextlib.suppress(Exception):
                self.ray.cancel(self.ref, force=True)
            self.result = JobResult(None, time.monotonic() - self.started, error="cancelled")

    def _finish(self) -> JobResult:
        seconds = time.monotonic() - self.started
        try:
            code, ran, files, logged = self.ray.get(self.ref)
        except Exception as exc:  # the worker died, the node went away, the task was cancelled
            why = str(exc).strip().splitlines()
            self.result = JobResult(None, seconds, error=f"{type(exc).__name__}: {why[0][:300]}")
            return self.result
        if logged is not None and self.job.log is not None:
            self.job.log.parent.mkdir(parents=True, exist_ok=True)
            self.job.log.write_bytes(logged)
        self.result = JobResult(code, ran, files)
        return self.result


class RayExecutor:
    """Runs jobs on a Ray cluster (``address``; None: ``RAY_ADDRESS``, else a local Ray that
    ``ray.init`` starts), shipping ``root``'s files as listed by ``list_files``."""

    name = "ray"

    def __init__(
        self,
        address: str | None,
        root: Path,
        list_files: Callable[[Path], list[str]],
        *,
        package_limit: int = RAY_PACKAGE_LIMIT,
        cpus_per_job: float = 1.0,
    ) -> None:
        self.address = address
        self.root = root.resolve()
        self.list_files = list_files
        self.package_limit = package_limit
        self.cpus_per_job = cpus_per_job
        self.local = LocalExecutor()
        self._lock = threading.Lock()
        self._ray: Any = None
        self._task: Any = None
        self._root_package: str | None = None
        self._numbers = itertools.count(1)
        self._scratch = Path(tempfile.mkdtemp(prefix="greenline-ray-"))

    def _connect(self) -> Any:
        """Import Ray and join the cluster, shipping the work tree (once)."""
        with self._lock:
            if self._ray is not None:
                return self._ray
            try:
                import ray
            except ImportError:
                raise RayUnavailableError(
                    "the ray executor needs Ray, which is not installed here",
                    hint="pip install 'greenline[ray]', or run with --executor local",
                ) from None
            package = self._package()
            try:
                ray.init(
                    address=self.address,
                    runtime_env={"working_dir": package},
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                    configure_logging=False,
                    ignore_reinit_error=True,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or os.environ.get("RAY_ADDRESS") or "a local Ray"
                raise RayUnavailableError(
                    f"cannot use the Ray cluster at {where}: {str(exc).splitlines()[0][:300]}",
                    hint="check --ray-address (host:port of the head node, or ray://host:10001) "
                    "and that `ray status` answers there",
                ) from None
            _keep_stdout_clean()
            self._task = ray.remote(max_retries=0)(run_remote_job)
            self._ray = ray
            return ray

    def _package(self) -> str:
        """The work tree's package (Ray's working directory for every job), built once: the
        driver's tree does not change under it."""
        if self._root_package is None:
            dest = self._scratch / "tree.zip"
            build_package(self.root, self.list_files(self.root), self.package_limit, dest)
            self._root_package = str(dest)
        return self._root_package

    def _tree_package(self, tree: Path) -> bytes:
        """A worktree's package, built for each job: one path can hold another tree later (a
        queue run rebuilt at its path, a probe's number reused)."""
        with self._lock:
            dest = self._scratch / f"worktree-{next(self._numbers)}.zip"
        try:
            build_package(tree, self.list_files(tree), self.package_limit, dest)
            return dest.read_bytes()
        finally:
            dest.unlink(missing_ok=True)

    def start(self, job: Job) -> RayHandle | LocalHandle:
        if job.output is Output.INHERIT:  # a person watches it: it runs here
            return self.local.start(job)
        ray = self._connect()
        cwd = job.cwd.resolve()
        relative = shipped_path(self.root, cwd)
        tree = None
        if relative is None:  # a tree of its own (a queue check's or a culprit probe's
            # worktree, kept under .greenline/ or elsewhere): its package goes with the task
            # through Ray's object store, as it is now (a task's runtime_env cannot upload one)
            tree = ray.put(self._tree_package(cwd))
        shipped = Job(job.argv, Path(), job.env, job.timeout, job.output, job.log, job.inputs)
        task = self._task.options(num_cpus=self.cpus_per_job)
        ref = task.remote(shipped, relative or ".", tree)
        return RayHandle(ref, job, ray)

    def run(self, job: Job) -> JobResult:
        return self.start(job).wait()

    def concurrently(self, work: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
        """``work`` runs here (it starts Ray jobs of its own), up to ``workers`` at once."""
        items = list(items)
        if workers <= 1 or len(items) <= 1:
            yield from map(work, items)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(work, items)

    def reap(self, idents: Iterable[str]) -> int:
        """Ray ends the tasks of a driver that died by itself; local jobs are reaped here."""
        return self.local.reap(i for i in idents if not i.startswith("ray:"))

    def cluster_cpus(self) -> int:
        """How many jobs the cluster runs at once (its CPUs over each job's share)."""
        ray = self._connect()
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self.cpus_per_job))
