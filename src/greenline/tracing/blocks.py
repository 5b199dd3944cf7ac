"""Fingerprints of a Python source file, computed from its AST, at two granularities.

A file splits into blocks: each outermost function or method (nested functions and lambdas belong
to the function around them), and the module's own code, which is everything else: imports,
class bodies, signatures, decorators and defaults. A block's checksum is a hash of its AST, so
comments, blank lines and formatting never change it, while any change to what runs does.

At branch granularity each function splits further into regions (see ``regions``), and a line
maps to the regions a test entered by running it; the module block is the same at both.
"""

from __future__ import annotations

import ast
import bisect
import hashlib
from dataclasses import dataclass, field
from typing import Any

from greenline.model import Block
from greenline.tracing.regions import read_regions

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
    root: int = 0  # the index of the function's root region in FileBlocks.regions


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
    """The blocks of one file, and lookups from a line to its block or to its regions.

    ``regions`` holds every function's regions (see ``regions``), or None when they were not
    read; ``region_lines`` maps each line that is not its function's root region's alone to the
    regions running it entered."""

    path: str
    module: Block
    spans: tuple[_Span, ...]
    regions: tuple[Block, ...] | None = None
    region_lines: dict[int, tuple[int, ...]] = field(default_factory=dict)

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The blocks at function granularity."""
        return (self.module, *(span.block for span in self.spans))

    @property
    def branch_blocks(self) -> tuple[Block, ...]:
        """The blocks at branch granularity."""
        return (self.module, *(self.regions or ()))

    def to_json(self) -> dict[str, object]:
        spans = [[s.start, s.end, s.block.name, s.block.checksum, s.root] for s in self.spans]
        doc: dict[str, object] = {"module": self.module.checksum, "spans": spans}
        if self.regions is not None:
            doc["regions"] = [[b.name, b.checksum] for b in self.regions]
            doc["lines"] = [[line, *owners] for line, owners in self.region_lines.items()]
        return doc

    @classmethod
    def from_json(cls, path: str, data: dict[str, Any]) -> FileBlocks:
        spans = tuple(
            _Span(a, b, Block(path, name, sum_), root) for a, b, name, sum_, root in data["spans"]
        )
        regions = data.get("regions")
        return cls(
            path=path,
            module=Block(path, MODULE_BLOCK, data["module"]),
            spans=spans,
            regions=None
            if regions is None
            else tuple(Block(path, name, sum_) for name, sum_ in regions),
            region_lines={int(line): tuple(owners) for line, *owners in data.get("lines", ())},
        )

    def _span_at(self, line: int) -> _Span | None:
        starts = [span.start for span in self.spans]
        index = bisect.bisect_right(starts, line) - 1
        if index >= 0 and self.spans[index].start <= line <= self.spans[index].end:
            return self.spans[index]
        return None

    def block_at(self, line: int) -> Block:
        """The block whose code starts at ``line`` (a code object's ``co_firstlineno``)."""
        span = self._span_at(line)
        return span.block if span is not None else self.module

    def regions_at(self, line: int) -> tuple[Block, ...]:
        """The regions a test entered by running ``line`` (or code starting there), or the
        module block for a line outside every function."""
        span = self._span_at(line)
        if span is None:
            return (self.module,)
        if self.regions is None:
            raise ValueError(f"{self.path}: regions were not read")
        return tuple(self.regions[i] for i in self.region_lines.get(line, (span.root,)))


def read_file_blocks(source: str, path: str, *, branches: bool = False) -> FileBlocks:
    """Split ``source`` into blocks, and with ``branches`` every function into its regions;
    raises SyntaxError (or ValueError) for unparsable source."""
    tree = ast.parse(source)
    finder = _FunctionFinder()
    finder.visit(tree)
    spans = []
    regions: list[Block] = []
    region_lines: dict[int, tuple[int, ...]] = {}
    for name, node in finder.found:
        start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        end = node.end_lineno or node.lineno
        spans.append(_Span(start, end, Block(path, name, checksum_node(node)), len(regions)))
        if not branches:
            continue
        split = read_regions(name, node, checksum_node)
        for line, owners in split.lines.items():
            region_lines[line] = tuple(len(regions) + i for i in owners)
        regions += (Block(path, n, c) for n, c in zip(split.names, split.checksums, strict=True))
    spans.sort(key=lambda span: span.start)
    # The function checksums are taken, so the tree can lose its bodies in place.
    module = Block(path, MODULE_BLOCK, checksum_node(_StripBodies().visit(tree)))
    return FileBlocks(
        path, module, tuple(spans), tuple(regions) if branches else None, region_lines
    )
