"""Finding who breaks an order-dependent test: delta debugging over the tests that ran before it.

A victim passes alone but fails after some other tests: the **polluter** is the smallest set of
them that still makes it fail (usually one test that leaks state). A brittle test fails alone
and passes after others: its **state-setter** is the smallest set that makes it pass. Either way
it is Zeller's ddmin over the candidates, which needs O(log n) runs for one culprit.

A **cleaner** is a test that, run between the polluter and the victim, makes the victim pass
again (it resets the state): the reset a fix can borrow.

Pure: ``DeltaSearch`` proposes trials and is told their results; the api runs them.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

Trial = tuple[str, ...]


class DeltaSearch:
    """Minimal subset of ``candidates`` (kept in their order) for which ``test(subset)`` holds.

    Drive it: ``while (trial := search.next_trial()) is not None: search.record(check(trial))``.
    ``result`` is None when even all the candidates together do not reproduce.
    """

    def __init__(self, candidates: Sequence[str]) -> None:
        self.candidates = tuple(candidates)
        self.trials = 0
        self.result: Trial | None = None
        self._steps = self._ddmin()
        self._pending: Trial | None = next(self._steps, None)

    def next_trial(self) -> Trial | None:
        return self._pending

    def record(self, holds: bool) -> None:
        self.trials += 1
        try:
            self._pending = self._steps.send(holds)
        except StopIteration:
            self._pending = None

    def _ddmin(self) -> Generator[Trial, bool, None]:
        current = self.candidates
        if not current or not (yield current):
            return
        n = 2
        while len(current) >= 2:
            chunks = _split(current, n)
            reduced = False
            for chunk in chunks:
                if (yield chunk):
                    current, n, reduced = chunk, 2, True
                    break
            if not reduced and n > 2:
                for i in range(len(chunks)):
                    rest = tuple(t for j, c in enumerate(chunks) if j != i for t in c)
                    if (yield rest):
                        current, n, reduced = rest, max(n - 1, 2), True
                        break
            if not reduced:
                if n >= len(current):
                    break
                n = min(2 * n, len(current))
        self.result = current


def _split(items: Trial, n: int) -> list[Trial]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        if start < end:
            out.append(items[start:end])
        start = end
    return out
