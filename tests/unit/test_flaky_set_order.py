"""Where a set's order shows through the code under test, on literal sources: sets kept in
attributes, declared by annotations, returned by functions, picked among by ``min``/``max``
with a key; and what is not a set by construction is never sorted."""

from __future__ import annotations

import textwrap

from greenline.flaky.set_order import sort_unordered, sort_unordered_in_code


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip()


CODE = src(
    """
    class Inventory:
        def __init__(self):
            self._gone: set[str] = set()
            self._levels = {}
            self._order = []

        def report(self):
            return "\\n".join(f"- {sku}" for sku in self._gone)

        def restock(self):
            return ", ".join(self._order)

        def cheapest(self, candidates: set):
            return min(candidates, key=len)

        def tags(self):
            found: set[str] = set()
            for tags in self._levels.values():
                found |= tags
            return list(found)


    def unique(items) -> set[str]:
        return {i.strip() for i in items}


    def listing(items):
        return ", ".join(unique(items))


    def counts(words):
        keys = set(words)
        return dict.fromkeys(keys, 0)


    def reused(words):
        seen = set(words)
        seen = sorted(seen)
        return ",".join(seen)
    """
)


def patched(description_part: str) -> str:
    patches = sort_unordered_in_code("inv.py", CODE)
    return next(p.after for p in patches if description_part in p.description)


def test_sets_kept_declared_or_returned_by_the_code_are_iterated_sorted() -> None:
    descriptions = [p.description for p in sort_unordered_in_code("inv.py", CODE)]
    assert descriptions == [
        "iterate the set(s) of report in inv.py in order",
        "iterate the set(s) of cheapest in inv.py in order",
        "iterate the set(s) of cheapest in inv.py in the order of their repr",
        "iterate the set(s) of tags in inv.py in order",
        "iterate the set(s) of listing in inv.py in order",
        "iterate the set(s) of counts in inv.py in order",
    ]
    assert "for sku in sorted(self._gone))" in patched("of report ")
    assert "min(sorted(candidates), key=len)" in patched("of cheapest in inv.py in order")
    assert "min(sorted(candidates, key=repr), key=len)" in patched("their repr")
    assert "return list(sorted(found))" in patched("of tags ")
    assert '", ".join(sorted(unique(items)))' in patched("of listing ")
    assert "dict.fromkeys(sorted(keys), 0)" in patched("of counts ")


def test_lists_and_names_that_are_not_always_sets_are_left_alone() -> None:
    for patch in sort_unordered_in_code("inv.py", CODE):
        assert '", ".join(self._order)' in patch.after  # a list: its order is its own
        assert 'return ",".join(seen)' in patch.after  # reassigned to a sorted list


def test_the_test_s_own_annotated_sets_are_sorted() -> None:
    test = src(
        """
        def test_names():
            names: set[str] = {"b", "a"}
            assert list(names) == ["a", "b"]
        """
    )
    assert "assert list(sorted(names)) ==" in sort_unordered("t.py", test, "test_names").after
