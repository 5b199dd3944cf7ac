"""The CI configurations ``greenline init`` writes: a GitHub Actions workflow and a CircleCI
config, as text with comments (a person reads and edits them), from a few facts about the
repository.

Both do the same four things: on the default branch, record the suite with per-test coverage and
keep it as the baseline (on the team server when ``GREENLINE_SERVER_URL`` is set, else as a
``greenline baseline export`` file in the CI cache); on a change, run the tests it can break
first, most likely to fail first; nightly, record the whole suite and scan for flaky tests; and
triage the failures of a red run. Every command in them exists (a test runs them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from greenline import __version__

GITHUB_PATH = ".github/workflows/greenline.yml"
CIRCLECI_PATH = ".circleci/greenline.yml"
#: where the CI jobs keep the baseline file (cached between jobs) and the scan's report
CI_FOLDER = ".greenline-ci"


@dataclass(frozen=True)
class CiFacts:
    """What the configurations depend on: the default branch, the Python version to run and
    the commands that install the project and its tests."""

    branch: str
    python: str
    install: tuple[str, ...]


def install_commands(files: set[str]) -> tuple[str, ...]:
    """How to install a project with these top-level files, then greenline and pytest."""
    commands = ["python -m pip install --upgrade pip"]
    if "requirements.txt" in files:
        commands.append("python -m pip install -r requirements.txt")
    if "pyproject.toml" in files or "setup.py" in files:
        commands.append("python -m pip install -e .")
    commands.append(f"python -m pip install 'greenline>={__version__}' pytest")
    return tuple(commands)


def _indent(lines: tuple[str, ...], spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in lines)


GITHUB_TEMPLATE = """\
# greenline for GitHub Actions, written by `greenline init github` (greenline @VERSION@).
#
# - push to @BRANCH_NAME@: run the suite with per-test coverage and keep it as the baseline: on the
#   team server when the repository variable GREENLINE_SERVER_URL is set (with the secret
#   GREENLINE_TOKEN, a write token: greenline token create ci --scope write), else as a
#   baseline file in the Actions cache;
# - pull requests and merge groups: the tests the change can break, most likely to fail first;
#   a merge group then runs the whole suite before it lands;
# - nightly (and on a manual run): the whole suite, recorded, and a flaky-test scan;
# - a red run is triaged: why each failing test failed, in the job's summary;
# - on a pull request, greenline's verdicts become check runs on its head: the selection, and
#   for a red run the flaky verdicts of its failing tests and their triage.
name: greenline

on:
  push:
    branches: [@BRANCH@]
  pull_request:
  merge_group:
  schedule:
    - cron: "17 3 * * *"
  workflow_dispatch:

permissions:
  contents: read
  checks: write

concurrency:
  group: greenline-${{ github.event_name }}-${{ github.ref }}
  cancel-in-progress: ${{ github.event_name == 'pull_request' }}

env:
  GREENLINE_SERVER_URL: ${{ vars.GREENLINE_SERVER_URL }}
  GREENLINE_TOKEN: ${{ secrets.GREENLINE_TOKEN }}
  BASELINE: @FOLDER@/baseline.json.gz

jobs:
  baseline:
    name: Record the baseline
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "@PYTHON@"
      - name: Install
        run: |
@INSTALL@
      - name: Run the suite with per-test coverage (to the team server)
        id: tests-server
        if: env.GREENLINE_SERVER_URL != ''
        run: pytest --greenline-record --greenline-server "$GREENLINE_SERVER_URL"
      - name: Run the suite with per-test coverage
        id: tests
        if: env.GREENLINE_SERVER_URL == ''
        run: pytest --greenline-record
      - name: Export the baseline
        if: ${{ !cancelled() && env.GREENLINE_SERVER_URL == '' }}
        run: greenline baseline export "$BASELINE"
      - name: Keep the baseline in the cache
        if: ${{ !cancelled() && env.GREENLINE_SERVER_URL == '' }}
        uses: actions/cache/save@v4
        with:
          path: @FOLDER@
          key: greenline-baseline-${{ github.sha }}
      - name: Triage the failures
        if: ${{ !cancelled() && steps.tests.outcome == 'failure' }}
        run: greenline triage | tee -a "$GITHUB_STEP_SUMMARY"

  change:
    name: Selected tests first
    if: github.event_name == 'pull_request' || github.event_name == 'merge_group'
    runs-on: ubuntu-latest
    env:
      BASE_SHA: ${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
          # the pull request's head itself (not GitHub's merge commit): its check runs go there
          ref: ${{ github.event.pull_request.head.sha || github.sha }}
      - uses: actions/setup-python@v5
        with:
          python-version: "@PYTHON@"
      - name: Install
        run: |
@INSTALL@
      - name: Restore the base branch's baseline
        if: env.GREENLINE_SERVER_URL == ''
        uses: actions/cache/restore@v4
        with:
          path: @FOLDER@
          key: greenline-baseline-${{ env.BASE_SHA }}
          restore-keys: greenline-baseline-
      - name: Import the baseline
        if: env.GREENLINE_SERVER_URL == '' && hashFiles('@FOLDER@/baseline.json.gz') != ''
        run: greenline baseline import "$BASELINE"
      - name: The tests the change can break, most likely to fail first (team server)
        id: selected-server
        if: env.GREENLINE_SERVER_URL != ''
        run: pytest --greenline-select=deselect --greenline-server "$GREENLINE_SERVER_URL"
      - name: The tests the change can break, most likely to fail first
        id: selected
        if: env.GREENLINE_SERVER_URL == ''
        run: pytest --greenline-select=deselect --greenline-record
      - name: Review digest
        if: ${{ !cancelled() && env.GREENLINE_SERVER_URL == '' }}
        run: greenline review --base "$BASE_SHA" --format markdown >> "$GITHUB_STEP_SUMMARY"
      - name: Triage the failures
        if: ${{ !cancelled() && steps.selected.outcome == 'failure' }}
        run: greenline triage | tee -a "$GITHUB_STEP_SUMMARY"
      - name: "Check runs on the pull request: the selection (a red run: flaky, triage)"
        if: >-
          ${{ !cancelled() && github.event_name == 'pull_request'
          && env.GREENLINE_SERVER_URL == '' }}
        env:
          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
          RED: ${{ steps.selected.outcome == 'failure' }}
        run: |
          greenline github check selection
          if [ "$RED" = true ]; then
            greenline github check flaky
            greenline github check triage
          fi
      - name: The whole suite before the group lands (team server)
        if: github.event_name == 'merge_group' && env.GREENLINE_SERVER_URL != ''
        run: pytest --greenline-select=reorder --greenline-server "$GREENLINE_SERVER_URL"
      - name: The whole suite before the group lands
        if: github.event_name == 'merge_group' && env.GREENLINE_SERVER_URL == ''
        run: pytest --greenline-select=reorder

  nightly:
    name: Nightly suite and flaky-test scan
    if: github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "@PYTHON@"
      - name: Install
        run: |
@INSTALL@
      - name: The whole suite, recorded (team server)
        if: env.GREENLINE_SERVER_URL != ''
        run: pytest --greenline-record --greenline-server "$GREENLINE_SERVER_URL"
      - name: The whole suite, recorded
        id: suite
        if: env.GREENLINE_SERVER_URL == ''
        run: pytest --greenline-record
      - name: Triage the failures
        if: ${{ !cancelled() && steps.suite.outcome == 'failure' }}
        run: greenline triage | tee -a "$GITHUB_STEP_SUMMARY"
      - name: Scan for flaky tests
        if: ${{ !cancelled() }}
        run: |
          mkdir -p @FOLDER@
          greenline flaky scan --runs 10 --budget 30m --format json > @FOLDER@/flaky-scan.json
          greenline flaky list | tee -a "$GITHUB_STEP_SUMMARY"
      - name: Keep the scan's report
        if: ${{ !cancelled() }}
        uses: actions/upload-artifact@v4
        with:
          name: greenline-flaky-scan
          path: @FOLDER@/flaky-scan.json
"""

CIRCLECI_TEMPLATE = """\
# greenline for CircleCI, written by `greenline init circleci` (greenline @VERSION@).
#
# CircleCI reads only .circleci/config.yml: with no config of your own, rename this file to
# config.yml; otherwise copy its `executors`, `jobs` and `workflows` entries into yours.
#
# - on @BRANCH_NAME@: run the suite with per-test coverage and keep it as the baseline: on the team
#   server when GREENLINE_SERVER_URL is set (with GREENLINE_TOKEN, in a context or the project's
#   environment variables), else as a baseline file in the cache;
# - on other branches: the tests the change can break, most likely to fail first;
# - on a scheduled pipeline (Project Settings > Triggers, e.g. nightly): the whole suite,
#   recorded, and a flaky-test scan;
# - a red run is triaged: why each failing test failed.
version: 2.1

executors:
  greenline-python:
    docker:
      - image: cimg/python:@PYTHON@

commands:
  greenline-install:
    steps:
      - run:
          name: Install
          command: |
@INSTALL@

jobs:
  greenline-baseline:
    executor: greenline-python
    steps:
      - checkout
      - greenline-install
      - run:
          name: Run the suite with per-test coverage
          command: |
            if [ -n "${GREENLINE_SERVER_URL:-}" ]; then
              pytest --greenline-record --greenline-server "$GREENLINE_SERVER_URL"
            else
              pytest --greenline-record
            fi
      - run:
          name: Export the baseline
          when: always
          command: |
            mkdir -p @FOLDER@
            if [ -z "${GREENLINE_SERVER_URL:-}" ]; then
              greenline baseline export @FOLDER@/baseline.json.gz
            fi
      - save_cache:
          when: always
          key: greenline-baseline-{{ .Revision }}
          paths:
            - @FOLDER@
      - run:
          name: Triage the failures
          when: on_fail
          command: |
            if [ -z "${GREENLINE_SERVER_URL:-}" ]; then greenline triage; fi

  greenline-change:
    executor: greenline-python
    steps:
      - checkout
      - greenline-install
      - restore_cache:
          keys:
            - greenline-baseline-
      - run:
          name: Import the baseline
          command: |
            if [ -z "${GREENLINE_SERVER_URL:-}" ] && [ -f @FOLDER@/baseline.json.gz ]; then
              greenline baseline import @FOLDER@/baseline.json.gz
            fi
      - run:
          name: The tests the change can break, most likely to fail first
          command: |
            if [ -n "${GREENLINE_SERVER_URL:-}" ]; then
              pytest --greenline-select=deselect --greenline-server "$GREENLINE_SERVER_URL"
            else
              pytest --greenline-select=deselect --greenline-record
            fi
      - run:
          name: Triage the failures
          when: on_fail
          command: |
            if [ -z "${GREENLINE_SERVER_URL:-}" ]; then greenline triage; fi

  greenline-nightly:
    executor: greenline-python
    steps:
      - checkout
      - greenline-install
      - run:
          name: The whole suite, recorded
          command: |
            if [ -n "${GREENLINE_SERVER_URL:-}" ]; then
              pytest --greenline-record --greenline-server "$GREENLINE_SERVER_URL"
            else
              pytest --greenline-record
            fi
      - run:
          name: Triage the failures
          when: on_fail
          command: |
            if [ -z "${GREENLINE_SERVER_URL:-}" ]; then greenline triage; fi
      - run:
          name: Scan for flaky tests
          when: always
          command: |
            mkdir -p @FOLDER@
            greenline flaky scan --runs 10 --budget 30m --format json > @FOLDER@/flaky-scan.json
            greenline flaky list
      - store_artifacts:
          path: @FOLDER@/flaky-scan.json

workflows:
  greenline:
    when:
      not:
        equal: [scheduled_pipeline, << pipeline.trigger_source >>]
    jobs:
      - greenline-baseline:
          filters:
            branches:
              only: @BRANCH@
      - greenline-change:
          filters:
            branches:
              ignore: @BRANCH@
  greenline-nightly:
    when:
      equal: [scheduled_pipeline, << pipeline.trigger_source >>]
    jobs:
      - greenline-nightly
"""


def _fill(template: str, facts: CiFacts, install_indent: int) -> str:
    return (
        template.replace("@VERSION@", __version__)
        .replace("@BRANCH_NAME@", facts.branch)
        .replace("@BRANCH@", json.dumps(facts.branch))
        .replace("@PYTHON@", facts.python)
        .replace("@FOLDER@", CI_FOLDER)
        .replace("@INSTALL@", _indent(facts.install, install_indent))
    )


def github_workflow(facts: CiFacts) -> str:
    """``.github/workflows/greenline.yml``."""
    return _fill(GITHUB_TEMPLATE, facts, 10)


def circleci_config(facts: CiFacts) -> str:
    """``.circleci/greenline.yml``: a whole config, to rename or merge into config.yml."""
    return _fill(CIRCLECI_TEMPLATE, facts, 12)
