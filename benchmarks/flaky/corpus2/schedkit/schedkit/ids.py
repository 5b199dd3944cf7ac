"""Short job ids."""

from __future__ import annotations

import random
import string

ALPHABET = string.ascii_lowercase + string.digits
_rng = random.Random()


def job_id(prefix: str = "job") -> str:
    return f"{prefix}-{''.join(_rng.choices(ALPHABET, k=3))}"
