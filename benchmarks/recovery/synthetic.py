"""The smoke test's project: two "releases" of a small generated package (three modules of
arithmetic, text and statistics helpers, a test module each), written to a temporary folder so
the smoke run needs no network. The newer release adds functions, docstrings and tests: about
twenty hunks, replayed like a real release diff."""

from __future__ import annotations

from pathlib import Path

MODULES = {
    "arith": [
        ("add", "a, b", "a + b", [((2, 3), 5), ((0, 0), 0)]),
        ("sub", "a, b", "a - b", [((5, 3), 2), ((3, 5), -2)]),
        ("clamp", "x, lo, hi", "lo if x < lo else hi if x > hi else x", [((5, 0, 3), 3)]),
        ("is_even", "n", "n % 2 == 0", [((4,), True), ((3,), False)]),
    ],
    "text": [
        ("shout", "s", "s.upper() + '!'", [(("hi",), "HI!")]),
        ("initials", "s", "''.join(w[0] for w in s.split() if w)", [(("ada love",), "al")]),
        ("pad", "s, n", "s + ' ' * (n - len(s)) if len(s) < n else s", [(("ab", 4), "ab  ")]),
        ("count_vowels", "s", "sum(1 for c in s.lower() if c in 'aeiou')", [(("Idea",), 3)]),
    ],
    "stats": [
        ("mean", "xs", "sum(xs) / len(xs)", [(([1, 2, 3],), 2.0)]),
        ("spread", "xs", "max(xs) - min(xs)", [(([4, 1, 9],), 8)]),
        ("above", "xs, t", "[x for x in xs if x > t]", [(([1, 5, 7], 4), [5, 7])]),
        ("middle", "xs", "sorted(xs)[len(xs) // 2]", [(([3, 1, 2],), 2)]),
    ],
}
ADDED = {
    "arith": [
        ("double", "a", "a * 2", [((4,), 8)]),
        ("sign", "x", "(x > 0) - (x < 0)", [((-3,), -1)]),
    ],
    "text": [
        ("title", "s", "s.title()", [(("a b",), "A B")]),
        ("rev", "s", "s[::-1]", [(("ab",), "ba")]),
    ],
    "stats": [
        ("total", "xs", "sum(xs)", [(([1, 2],), 3)]),
        ("count_over", "xs, t", "sum(1 for x in xs if x > t)", [(([1, 5], 2), 1)]),
    ],
}


def _module(functions: list[tuple], documented: bool) -> str:
    parts = []
    for name, args, body, _ in functions:
        doc = f'    """{name.replace("_", " ").capitalize()}."""\n' if documented else ""
        parts.append(f"def {name}({args}):\n{doc}    return {body}\n")
    return "\n\n".join(parts)


def _tests(module: str, functions: list[tuple]) -> str:
    names = ", ".join(f[0] for f in functions)
    out = [f"from tinycalc.{module} import {names}\n"]
    for name, _, _, cases in functions:
        for n, (args, expected) in enumerate(cases):
            call = ", ".join(map(repr, args))
            out.append(f"\ndef test_{name}_{n}():\n    assert {name}({call}) == {expected!r}\n")
    return "\n".join(out)


def write_release(root: Path, newer: bool) -> Path:
    """One release of the package under ``root``; returns its folder."""
    where = root / ("tinycalc-1.1" if newer else "tinycalc-1.0")
    files = {"tinycalc/__init__.py": '"""Tiny helpers."""\n', "pytest.ini": "[pytest]\n"}
    files["README.md"] = "tinycalc\n" + ("\nNow with more helpers.\n" if newer else "")
    for module, functions in MODULES.items():
        every = functions + (ADDED[module] if newer else [])
        files[f"tinycalc/{module}.py"] = _module(every, documented=newer)
        files[f"tests/test_{module}.py"] = _tests(module, every)
    for path, text in files.items():
        (where / path).parent.mkdir(parents=True, exist_ok=True)
        (where / path).write_text(text)
    return where
