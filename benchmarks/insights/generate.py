"""Synthetic CI histories of any size, written as Parquet (or CSV) with the warehouse's run
columns, generated inside DuckDB (vectorised: tens of millions of runs in a minute or two).

The shape follows the 2026 industry report: teams of very different sizes (a few repositories
carry most runs), several workflows per repository with their own typical durations
(log-normal), a default branch and many feature branches (feature work is most of the runs),
weekday-heavy arrival over a year, failures that come in streaks (an incident breaks a
workflow on a branch for a few runs until it is fixed), cancellations, and reruns of failed
runs (a second attempt of the same run id, mostly succeeding).

    python benchmarks/insights/generate.py --runs 1000000 --out runs.parquet [--seed 7]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import duckdb

START = "2025-12-01 00:00:00"  # a year of history: 2025-12-01 .. 2026-11-30


def generate(runs: int, out: Path, seed: int = 7, threads: int | None = None) -> float:
    """Write ``runs`` runs (reruns come on top, about 2%) to ``out``; returns seconds taken."""
    started = time.perf_counter()
    con = duckdb.connect(config={"memory_limit": "4GB"})
    if threads:
        con.execute(f"SET threads = {threads}")
    con.execute(f"SELECT setseed({(seed % 1000) / 1000})")
    repos = max(4, runs // 20_000)
    fmt = "parquet" if out.suffix == ".parquet" else "csv"
    options = (
        "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000"
        if fmt == "parquet"
        else ("FORMAT csv, HEADER true")
    )
    con.execute(
        f"""
        COPY (
        WITH base AS (
          SELECT i,
            -- team size: repository r gets weight ~ 1/(r+1) (a few carry most runs)
            CAST(floor(pow({repos}, random())) - 1 AS BIGINT) AS repo,
            CAST(floor(random() * 4) AS INTEGER) AS wf,
            random() < 0.35 AS on_default,
            CAST(floor(pow(400, random())) AS INTEGER) AS feature,
            -- weekday-heavy: push weekend arrivals on to Monday half of the time
            TIMESTAMP '{START}' + to_microseconds(CAST(random() * 364 * 86400e6 AS BIGINT))
              AS t0,
            random() AS u_cancel, random() AS u_incident, random() AS u_len,
            random() AS u_dur1, random() AS u_dur2, random() AS u_rerun
          FROM range({runs}) r(i)
        ),
        shaped AS (
          SELECT *,
            CASE WHEN dayofweek(t0) IN (0, 6) AND u_cancel < 0.5
              THEN t0 + INTERVAL 2 DAY ELSE t0 END AS created_at,
            'org-' || repo || '/service-' || repo AS repository,
            (['build-and-test', 'lint', 'deploy', 'nightly'])[wf + 1] AS workflow,
            CASE WHEN on_default THEN 'main' ELSE 'feature/' || repo || '-' || feature END
              AS branch,
            -- durations: median 3, 1, 7 and 25 minutes by workflow, log-normal spread
            (([180, 60, 420, 1500])[wf + 1]) * exp(0.6 * sqrt(-2 * ln(greatest(u_dur1, 1e-12)))
              * cos(2 * pi() * u_dur2)) AS duration_s
          FROM base
        ),
        ordered AS (
          SELECT *, row_number() OVER (PARTITION BY repository, workflow, branch
                                        ORDER BY created_at, i) AS seq
          FROM shaped
        ),
        incidents AS (
          -- an incident starts on 6% of runs (9% on feature branches) and lasts 1-6 runs
          SELECT *, CASE WHEN u_incident < (CASE WHEN on_default THEN 0.06 ELSE 0.09 END)
                    THEN seq + CAST(floor(pow(6, u_len)) AS INTEGER) - 1 END AS until_seq
          FROM ordered
        ),
        red AS (
          SELECT *, max(until_seq) OVER (PARTITION BY repository, workflow, branch ORDER BY seq
                                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                    >= seq AS failing
          FROM incidents
        ),
        firsts AS (
          SELECT
            CASE WHEN i % 97 = 0 THEN 'circleci' ELSE 'github' END AS provider,
            repository, workflow, CAST(i AS VARCHAR) AS run_id, 1 AS attempt, branch,
            on_default AS default_branch,
            CASE WHEN u_cancel < 0.04 THEN 'cancelled'
                 WHEN failing AND u_cancel > 0.995 THEN 'infra_failure'
                 WHEN failing THEN 'failure' ELSE 'success' END AS conclusion,
            created_at,
            created_at + to_microseconds(CAST(5e6 + u_dur2 * 40e6 AS BIGINT)) AS started_at,
            duration_s, failing, u_rerun,
            CASE WHEN i % 3 = 0 THEN 'pull_request' ELSE 'push' END AS event,
            md5(CAST(i AS VARCHAR)) AS "commit"
          FROM red
        ),
        runs AS (
          SELECT provider, repository, workflow, run_id, attempt, branch, default_branch,
            conclusion, created_at, started_at,
            started_at + to_microseconds(CAST(duration_s * 1e6 AS BIGINT)) AS finished_at,
            event, "commit"
          FROM firsts
          UNION ALL
          -- a rerun of 25% of failures, 20 minutes later; it passes 80% of the time
          SELECT provider, repository, workflow, run_id, 2, branch, default_branch,
            CASE WHEN u_rerun < 0.05 THEN 'failure' ELSE 'success' END,
            created_at, started_at + INTERVAL 20 MINUTE,
            started_at + INTERVAL 20 MINUTE + to_microseconds(CAST(duration_s * 1e6 AS BIGINT)),
            'rerun', "commit"
          FROM firsts WHERE conclusion = 'failure' AND u_rerun < 0.25
        )
        SELECT * FROM runs
        ) TO '{out}' ({options})
        """
    )
    con.close()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True, help="a .parquet or .csv file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    seconds = generate(args.runs, args.out, args.seed)
    print(f"wrote {args.out} ({args.runs:,} runs plus reruns) in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
