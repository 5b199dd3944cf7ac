"""Checking a configuration against what an application needs."""

from __future__ import annotations

from collections.abc import Callable

Check = Callable[[dict[str, str]], str | None]


class Schema:
    #: checks every schema runs, registered with ``Schema.check``
    checks: list[Check] = []

    def __init__(self, required: list[str]) -> None:
        self.required = required

    @classmethod
    def check(cls, func: Check) -> Check:
        cls.checks.append(func)
        return func

    def errors(self, config: dict[str, str]) -> list[str]:
        missing = set(self.required) - set(config)
        problems = [f"missing {name}" for name in missing]
        for check in self.checks:
            problem = check(config)
            if problem:
                problems.append(problem)
        return problems


@Schema.check
def port_is_a_number(config: dict[str, str]) -> str | None:
    port = config.get("port")
    return None if port is None or port.isdigit() else f"port {port!r} is not a number"
