"""Restoring process state a polluter leaves changed (the working directory, environment
variables, ``sys.path``, modules in ``sys.modules``, the root logger): the victim's module keeps
what that state was when it was imported (at collection, before any test ran) and an autouse
fixture of its own puts it back before each of its tests. Exact and portable: no path or value
is written into the patch, only the names of what leaked."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from greenline.flaky.fixes import FixError, Leak, ensure_import

#: the module name that the state probe gives process-state leaks
PROCESS = "<process>"
FIXTURE = "_greenline_restore_process_state"


def is_process_leak(leak: Leak) -> bool:
    return leak.module == PROCESS


def _keys(leaks: Sequence[Leak], prefix: str) -> list[str]:
    """The keys of ``prefix[...]`` leaks (``os.environ['MODE']`` -> ``MODE``)."""
    out = []
    for leak in leaks:
        if leak.name.startswith(prefix + "["):
            key = ast.literal_eval(leak.name[len(prefix) + 1 : -1])
            if isinstance(key, str):
                out.append(key)
    return sorted(set(out))


def _parts(leaks: Sequence[Leak]) -> tuple[list[str], list[str], list[str]]:
    """(what the module keeps at import, what the fixture restores, modules it needs)."""
    names = {leak.name for leak in leaks}
    keep: list[str] = []
    restore: list[str] = []
    needs: list[str] = []
    if "cwd" in names:
        keep.append("_GREENLINE_CWD = os.getcwd()")
        restore.append("os.chdir(_GREENLINE_CWD)")
        needs.append("os")
    if "sys.path" in names:
        keep.append("_GREENLINE_SYS_PATH = list(sys.path)")
        restore.append("sys.path[:] = _GREENLINE_SYS_PATH")
        needs.append("sys")
    if env := _keys(leaks, "os.environ"):
        keep.append(f"_GREENLINE_ENVIRON = {{k: os.environ.get(k) for k in {env!r}}}")
        restore += [
            "for key, value in _GREENLINE_ENVIRON.items():",
            "    if value is None:",
            "        os.environ.pop(key, None)",
            "    else:",
            "        os.environ[key] = value",
        ]
        needs.append("os")
    if modules := _keys(leaks, "sys.modules"):
        keep.append(f"_GREENLINE_MODULES = {{m: sys.modules.get(m) for m in {modules!r}}}")
        restore += [
            "for name, module in _GREENLINE_MODULES.items():",
            "    if module is None:",
            "        sys.modules.pop(name, None)",
            "    else:",
            "        sys.modules[name] = module",
        ]
        needs.append("sys")
    if names & {"logging.root.level", "len(logging.root.handlers)"}:
        keep.append("_GREENLINE_LOGGING = (logging.root.level, list(logging.root.handlers))")
        restore += [
            "logging.root.setLevel(_GREENLINE_LOGGING[0])",
            "logging.root.handlers[:] = _GREENLINE_LOGGING[1]",
        ]
        needs.append("logging")
    return keep, restore, needs


def restore_process(source: str, leaks: Sequence[Leak]) -> str:
    """``source`` (the victim's module) with the state kept at import and the autouse
    fixture that restores it before each of its tests."""
    keep, restore, needs = _parts([leak for leak in leaks if is_process_leak(leak)])
    if not restore:
        raise FixError("the polluter leaves no process state changed that can be restored")
    if FIXTURE in source:
        raise FixError("the module restores process state already")
    for module in sorted({*needs, "pytest"}):
        source = ensure_import(source, module)
    tree = ast.parse(source)
    at = 0
    for index, node in enumerate(tree.body):  # after the leading docstring and imports
        docstring = index == 0 and isinstance(node, ast.Expr)
        if not (docstring or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        at = node.end_lineno or at
    block = [
        "\n",
        "# greenline: other tests leave process state changed; this module keeps it as it was\n",
        "# when it was imported, and puts it back before each of its tests\n",
        *(line + "\n" for line in keep),
        "\n\n",
        "@pytest.fixture(autouse=True)\n",
        f"def {FIXTURE}():\n",
        *(f"    {line}\n" for line in restore),
        "    yield\n",
        "\n",
    ]
    lines = source.splitlines(keepends=True)
    patched = "".join([*lines[:at], *block, *lines[at:]])
    ast.parse(patched)  # still Python
    return patched
