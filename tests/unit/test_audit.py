"""The one audit hook recording installs (``tracing.audit``): each handler gets the events it
listens to and no others, in the order they listen, from the C filter or (without the
extension) a Python hook; a fault in a handler never fails the audited call. Audit hooks stay
for a process's life, so each case runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

CASE = """
import os, sys, tempfile
{setup}
from greenline.tracing import audit

path = os.path.join(tempfile.mkdtemp(), "data.txt")
seen = []
def first(event, args):
    if args[0] == path:
        seen.append(("first", event))
def second(event, args):
    if args[0] == path:
        seen.append(("second", event))
def broken(event, args):
    raise ValueError("a fault in a handler")

audit.listen(("open",), first)
audit.listen(("open", "os.exec"), second)
audit.listen(("open",), first)  # listening again changes nothing
audit.listen(("os.putenv",), broken)
with open(path, "w") as handle:
    handle.write("x")
id(seen)  # builtins.id: an event nobody listens to
os.environ["GREENLINE_AUDIT_CASE"] = "1"  # the broken handler's event: the call still works
assert os.environ["GREENLINE_AUDIT_CASE"] == "1"
print(audit.hook_kind(), seen)
"""


@pytest.mark.parametrize(
    ("setup", "kind"),
    [
        ("", "c"),
        ("sys.modules['greenline._ctracer'] = None  # the extension is not built", "python"),
    ],
)
def test_each_handler_gets_only_its_events(setup: str, kind: str) -> None:
    if kind == "c":
        pytest.importorskip("greenline._ctracer")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CASE.format(setup=setup))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{kind} [('first', 'open'), ('second', 'open')]"
    assert "a fault in a handler" in proc.stderr  # reported, not raised into the test's code
