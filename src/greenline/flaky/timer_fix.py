"""A timing threshold in the code under test, made deterministic: the test runs with a fake
clock for the timers the code reads (``time.monotonic``, ``time.perf_counter``, ...), one that
moves a microsecond each time it is read. How long the machine took no longer decides the
outcome; what the code does with the time it measures (a cache entry still fresh, a bucket not
yet refilled, a deadline not passed) is still checked. Where the test itself measures a
duration and asserts on it, the threshold is the contract: no patch, an explanation.

The patch replaces each timer where the code reads it: the ``time`` module's attribute (code
that calls ``time.monotonic()``), the module's own name (``from time import monotonic``), and a
default argument that captured the timer (``timer=time.monotonic``). Pure: source text in,
patched text out."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from greenline.flaky.fixes import FixError, Patch, ensure_import, find_function

#: how far the fake clock moves at each read, in seconds
STEP = "0.000_001"
CLOCK = "_GREENLINE_CLOCK"
TIMER = "_greenline_fake_timer"
TIMERS = "_GREENLINE_TIMERS"
Function = ast.FunctionDef | ast.AsyncFunctionDef


def _alias(module: str) -> str:
    return "_greenline_" + module.replace(".", "_")


def _timer_names(tree: ast.Module, short: set[str]) -> tuple[set[str], set[str]]:
    """How a module refers to the timers: its names for the ``time`` module, and its own
    names for timers imported from it (``from time import monotonic``)."""
    modules, names = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname or a.name for a in node.names if a.name == "time"}
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            names |= {a.asname or a.name for a in node.names if a.name in short}
    return modules, names


def _reads_timer(node: ast.expr, modules: set[str], names: set[str], short: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in names
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in modules
        and node.attr in short
    )


def _defaults(
    tree: ast.Module, modules: set[str], names: set[str], short: set[str]
) -> list[tuple[str, str]]:
    """The functions (dotted inside the module: ``Cache.__init__``) with a timer as a default
    argument, each with the field that holds it (``__defaults__`` or ``__kwdefaults__``)."""
    found: list[tuple[str, str]] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, Function):
                where = f"{prefix}{node.name}"
                if any(_reads_timer(d, modules, names, short) for d in node.args.defaults):
                    found.append((where, "__defaults__"))
                keyword = [d for d in node.args.kw_defaults if d is not None]
                if any(_reads_timer(d, modules, names, short) for d in keyword):
                    found.append((where, "__kwdefaults__"))

    visit(tree.body, "")
    return found


def timer_patches(code: Mapping[str, str], timers: set[str]) -> list[str]:
    """The ``unittest.mock`` decorators that give the code under test (its modules' dotted
    names -> sources) the fake clock wherever it reads ``timers`` (``time.monotonic``)."""
    short = {t.split(".", 1)[1] for t in timers}
    out: list[str] = []
    for module, source in sorted(code.items()):
        tree = ast.parse(source)
        modules, names = _timer_names(tree, short)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _reads_timer(node, modules, set(), short):
                out.append(f'patch("time.{node.attr}", {TIMER})')
        out += [f'patch("{module}.{name}", {TIMER})' for name in sorted(names)]
        for where, field in _defaults(tree, modules, names, short):
            target = f"{_alias(module)}.{where}"
            if field == "__defaults__":
                value = f"tuple({TIMER} if d in {TIMERS} else d for d in {target}.{field})"
            else:
                value = (
                    f"{{k: {TIMER} if v in {TIMERS} else v for k, v in {target}.{field}.items()}}"
                )
            out.append(f'patch.object(\n    {target},\n    "{field}",\n    {value},\n)')
    return list(dict.fromkeys(out))


def fake_timer(
    path: str, source: str, test_name: str, code: Mapping[str, str], timers: set[str]
) -> Patch:
    """The test runs with the fake clock wherever the code under test (``code``: its modules'
    dotted names -> sources) reads ``timers`` (``time.monotonic``, ...)."""
    patches = timer_patches(code, timers)
    if not patches:
        raise FixError("no place in the code under test reads the timer where a test can fake it")
    after = source
    for module in sorted(m for m in code if any(_alias(m) + "." in p for p in patches)):
        after = ensure_import(after, f"{module} as {_alias(module)}")
    for module in ("itertools", "time", "unittest.mock"):
        after = ensure_import(after, module)
    tree = ast.parse(after)
    func = find_function(tree, test_name)
    lines = after.splitlines(keepends=True)
    at = _after_imports(tree)
    helper = [
        "\n",
        "# greenline: the code under test measures how long things take, and on a loaded machine\n",
        "# that decided the outcome; this clock moves 1 µs each time it is read\n",
        f"{CLOCK} = itertools.count(1_000.0, {STEP})\n",
        f"{TIMERS} = ({', '.join(sorted(timers))},)\n",
        "\n\n",
        f"def {TIMER}():\n",
        f"    return next({CLOCK})\n",
    ]
    first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
    indent = " " * func.col_offset
    decorators = [
        "".join(f"{indent}{line}\n" for line in f"@unittest.mock.{p}".splitlines()) for p in patches
    ]
    out = "".join(lines[:at] + helper + lines[at : first - 1] + decorators + lines[first - 1 :])
    ast.parse(out)  # still Python
    shown = ", ".join(sorted(timers))
    return Patch(path, source, out, f"run the code under test on a fake clock ({shown})")


def _after_imports(tree: ast.Module) -> int:
    at = 0
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr)
        if not (docstring or isinstance(node, ast.Import | ast.ImportFrom)):
            break
        at = node.end_lineno or at
    return at
