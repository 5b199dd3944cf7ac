"""Per-test coverage: the source blocks (functions or their branches, module code) a test ran."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Block:
    """One block of a source file, identified by its qualified name and its AST checksum.

    ``name`` is ``<module>`` for a module's own code (imports, class bodies, signatures and
    decorators); otherwise the dotted qualified name of a function or method, which at branch
    granularity names the function's own statements, and with a path after ``#`` one of its
    branches (``Cart.total#if1.else``, see greenline.tracing.regions).
    """

    path: str
    name: str
    checksum: str


@dataclass(frozen=True, slots=True)
class TestCoverage:
    """The blocks one test executed during one run."""

    __test__ = False  # not a pytest test class

    test_id: str
    blocks: frozenset[Block]
