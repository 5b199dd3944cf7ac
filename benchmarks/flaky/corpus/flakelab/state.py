"""Module-level state that tests can leak into each other (the order-dependent cases)."""

MODE = "default"
REGISTRY: dict[str, int] = {}
CACHE: list[int] = []
FEATURES = {"beta": False}
CONNECTED = False


def register(name: str, value: int) -> None:
    REGISTRY[name] = value


def lookup(name: str) -> int | None:
    return REGISTRY.get(name)
