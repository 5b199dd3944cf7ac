"""Credentials on command lines and in URLs are hidden before anything is stored or shown."""

from __future__ import annotations

import pytest

from greenline.config import mask_args, mask_url


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (
            "-q --greenline-db=postgresql://ci:s3cret@db/gl",
            "-q --greenline-db=postgresql://ci:***@db/gl",
        ),
        (
            "--greenline-db postgresql+psycopg://:s3cret@db/gl -x",
            "--greenline-db postgresql+psycopg://:***@db/gl -x",
        ),
        ("--db=postgresql://ci:p@ss/w0rd@db:5432/gl", "--db=postgresql://ci:***@db:5432/gl"),
        (
            "--greenline-db 'host=db password=s3cret dbname=gl'",
            "--greenline-db 'host=db password=*** dbname=gl'",
        ),
        (
            "--greenline-db postgresql://db/gl?password=s3cret&sslmode=require",
            "--greenline-db postgresql://db/gl?password=***&sslmode=require",
        ),
        ("GREENLINE_GITHUB_TOKEN=ghp_s3cret pytest", "GREENLINE_GITHUB_TOKEN=*** pytest"),
        ("-o GREENLINE_WEBHOOK_SECRET=s3cret", "-o GREENLINE_WEBHOOK_SECRET=***"),
        (
            "-q tests/ -k 'not slow' --greenline-db sqlite:////tmp/gl.db",
            "-q tests/ -k 'not slow' --greenline-db sqlite:////tmp/gl.db",
        ),
    ],
)
def test_command_lines_are_masked(given: str, shown: str) -> None:
    assert mask_args(given) == shown
    assert mask_args(shown) == shown, "masking twice changes nothing"


def test_a_url_without_a_password_is_left_alone() -> None:
    assert (
        mask_url("postgresql://postgres@127.0.0.1:5432/test")
        == "postgresql://postgres@127.0.0.1:5432/test"
    )
    assert mask_args(None) is None
