"""The Ray tests' cluster (``tests.ray.cluster``): one for the whole session, skipped with
the reason shown where none can be made here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ray.cluster import ClusterUnavailableError, RayCluster, local_cluster


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    try:
        with local_cluster() as cluster:
            yield cluster
    except ClusterUnavailableError as exc:
        pytest.skip(str(exc))
