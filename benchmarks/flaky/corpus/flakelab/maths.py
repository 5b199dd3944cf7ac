"""Deterministic helpers the stable tests exercise."""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def clamp(x: int, low: int, high: int) -> int:
    return max(low, min(x, high))


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
