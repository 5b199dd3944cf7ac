"""Function-level fingerprints of a Python source file, computed from its AST.

A file splits into blocks: each outermost function or method (nested functions and lambdas belong
to the function around them), and the module's own code, which is everything else: imports,
class bodies, signatures, decorators and defaults. A block's checksum is a hash of its AST, so
comments, blank lines and formatting never change it, while any change to what runs does.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
from dataclasses import dataclass
from typing import Any

from greenline.model import Block

MODULE_BLOCK = "<module>"
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


def checksum_node(node: ast.AST) -> str:
    """A short, stable hash of a node's structure (no line numbers)."""
    dumped = ast.dump(node, annotate_fields=False, include_attributes=False)
    return hashlib.blake2b(dumped.encode(), digest_size=10).hexdigest()


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    block: Block


class _FunctionFinder(ast.NodeVisitor):
    """Collects outermost functions with their qualified names and line spans."""

    def __init__(self) -> None:
        self.found: list[tuple[str, FunctionNode]] = []
        self._scope: list[str] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scope.append(node.name)
        self.generic_visit(node)
        self._scope.pop()

    def _visit_function(self, node: FunctionNode) -> None:
        self.found.append((".".join([*self._scope, node.name]), node))

    visit_FunctionDef = _visit_function  # noqa: N815 (ast.NodeVisitor API)
    visit_AsyncFunctionDef = _visit_function  # noqa: N815


class _StripBodies(ast.NodeTransformer):
    """The module block's view: every function keeps its signature but loses its body."""

    def _strip(self, node: FunctionNode) -> FunctionNode:
        node.body = [ast.Pass()]
        return node

    visit_FunctionDef = _strip  # noqa: N815 (ast.NodeTransformer API)
    visit_AsyncFunctionDef = _strip  # noqa: N815


@dataclass(frozen=True)
class FileBlocks:
    """The blocks of one file, and a lookup from a code object's first line to its block."""

    path: str
    module: Block
    spans: tuple[_Span, ...]

    @property
    def blocks(self) -> tuple[Block, ...]:
        return (self.module, *(span.block for span in self.spans))

    def to_json(self) -> dict[str, object]:
        spans = [[sp.start, sp.end, sp.block.name, sp.block.checksum] for sp in self.spans]
        return {"module": self.module.checksum, "spans": spans}

    @classmethod
    def from_json(cls, path: str, data: dict[str, Any]) -> FileBlocks:
        spans = tuple(_Span(a, b, Block(path, name, sum_)) for a, b, name, sum_ in data["spans"])
        return cls(path=path, module=Block(path, MODULE_BLOCK, data["module"]), spans=spans)

    def block_at(self, line: int) -> Block:
        """The block whose code starts at ``line`` (a code object's ``co_firstlineno``)."""
        starts = [span.start for span in self.spans]
        index = bisect.bisect_right(starts, line) - 1
        if index >= 0 and self.spans[index].start <= line <= self.spans[index].end:
            return self.spans[index].block
        return self.module


def read_file_blocks(source: str, path: str) -> FileBlocks:
    """Split ``source`` into blocks; raises SyntaxError (or ValueError) for unparsable source."""
    tree = ast.parse(source)
    finder = _FunctionFinder()
    finder.visit(tree)
    spans = []
    for name, node in finder.found:
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        spans.append(_Span(start, end, Block(path, name, checksum_node(node))))
    spans.sort(key=lambda span: span.start)
    # The function checksums are taken, so the tree can lose its bodies in place.
    module = Block(path, MODULE_BLOCK, checksum_node(_StripBodies().visit(tree)))
    return FileBlocks(path=path, module=module, spans=tuple(spans))
