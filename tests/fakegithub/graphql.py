"""The fake's GraphQL API: the part of GitHub's schema greenline queries (a repository, its
pull requests filtered by state and label, paged by cursor), executed by graphql-core, so a
query that GitHub's schema would refuse is refused here too."""

from __future__ import annotations

import base64
from typing import Any

from graphql import build_schema, graphql_sync

from tests.fakegithub.endpoint import Context, RefusalError
from tests.fakegithub.state import Pull, Repository, State

SCHEMA = build_schema(
    """
    type Query {
      repository(owner: String!, name: String!): Repository
      rateLimit: RateLimit
    }
    type RateLimit { limit: Int! remaining: Int! resetAt: String! cost: Int! }
    enum PullRequestState { OPEN CLOSED MERGED }
    enum MergeableState { MERGEABLE CONFLICTING UNKNOWN }
    type Repository {
      nameWithOwner: String!
      defaultBranchRef: Ref
      pullRequest(number: Int!): PullRequest
      pullRequests(first: Int, after: String, states: [PullRequestState!], labels: [String!]):
        PullRequestConnection!
    }
    type Ref { name: String! target: Commit }
    type Commit { oid: String! }
    type PageInfo { hasNextPage: Boolean! endCursor: String }
    type PullRequestConnection { totalCount: Int! pageInfo: PageInfo! nodes: [PullRequest!]! }
    type LabelConnection { totalCount: Int! nodes: [Label!]! }
    type Label { name: String! }
    type PullRequest {
      number: Int!
      title: String!
      url: String!
      state: PullRequestState!
      merged: Boolean!
      mergeable: MergeableState!
      headRefName: String!
      headRefOid: String!
      baseRefName: String!
      baseRefOid: String!
      labels(first: Int): LabelConnection
    }
    """
)


def _cursor(n: int) -> str:
    return base64.b64encode(f"cursor:v2:{n}".encode()).decode()


def _index(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1]) + 1
    except (ValueError, IndexError):
        raise ValueError(f"`{cursor}` does not appear to be a valid cursor.") from None


def _pull_node(repo: Repository, pull: Pull) -> dict[str, Any]:
    repo.refresh_merged(pull)
    state = "MERGED" if pull.merged_at else "CLOSED" if pull.closed_at else "OPEN"
    return {
        "number": pull.number,
        "title": pull.title,
        "url": f"https://github.com/{repo.full_name}/pull/{pull.number}",
        "state": state,
        "merged": pull.merged_at is not None,
        "mergeable": "UNKNOWN" if pull.merged_at else "MERGEABLE",
        "headRefName": pull.head_ref,
        "headRefOid": repo.head_of(pull),
        "baseRefName": pull.base_ref,
        "baseRefOid": repo.resolve(f"refs/heads/{pull.base_ref}") or "",
        "labels": {"totalCount": len(pull.labels), "nodes": [{"name": n} for n in pull.labels]},
    }


def _repository_node(repo: Repository) -> dict[str, Any]:
    def pull_requests(
        _info: Any,
        first: int = 30,
        after: str | None = None,
        states: list[str] | None = None,
        labels: list[str] | None = None,
    ) -> Any:
        if not 1 <= first <= 100:
            raise ValueError("`first` on PullRequestConnection must be between 1 and 100")
        nodes = [_pull_node(repo, p) for p in sorted(repo.pulls.values(), key=lambda p: p.number)]
        nodes = [n for n in nodes if not states or n["state"] in states]
        nodes = [
            n
            for n in nodes
            if not labels or {label["name"] for label in n["labels"]["nodes"]} & set(labels)
        ]
        start = _index(after)
        page = nodes[start : start + first]
        end = start + len(page) - 1
        return {
            "totalCount": len(nodes),
            "pageInfo": {
                "hasNextPage": start + first < len(nodes),
                "endCursor": _cursor(end) if page else None,
            },
            "nodes": page,
        }

    def pull_request(_info: Any, number: int) -> Any:
        pull = repo.pulls.get(number)
        return _pull_node(repo, pull) if pull else None

    tip = repo.resolve(f"refs/heads/{repo.default_branch}")
    return {
        "nameWithOwner": repo.full_name,
        "defaultBranchRef": {"name": repo.default_branch, "target": {"oid": tip or ""}},
        "pullRequests": pull_requests,
        "pullRequest": pull_request,
    }


class Root:
    def __init__(self, state: State, ctx: Context) -> None:
        self.state, self.ctx = state, ctx

    def repository(self, _info: Any, owner: str, name: str) -> Any:
        repo = self.state.repository(f"{owner}/{name}")
        caller = self.ctx.caller
        if repo is None or (
            caller is not None
            and caller.kind == "installation"
            and caller.installation_id != repo.installation_id
        ):
            raise LookupError(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return _repository_node(repo)

    def rateLimit(self, _info: Any) -> Any:
        return {"limit": 5000, "remaining": 4999, "resetAt": "2099-01-01T00:00:00Z", "cost": 1}


def run_query(ctx: Context) -> tuple[int, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    query = body.get("query")
    if not isinstance(query, str):
        raise RefusalError(400, "A query attribute must be specified and must be a string.")
    result = graphql_sync(
        SCHEMA,
        query,
        root_value=Root(ctx.state, ctx),
        variable_values=body.get("variables") or {},
        field_resolver=_resolve,
    )
    doc: dict[str, Any] = {"data": result.data}
    if result.errors:
        doc["errors"] = [
            {
                "message": e.message,
                "type": "NOT_FOUND" if "resolve" in e.message else "INVALID",
                "path": e.path,
                "locations": [
                    {"line": loc.line, "column": loc.column} for loc in e.locations or []
                ],
            }
            for e in result.errors
        ]
    return 200, doc  # GitHub answers 200 with "errors" for a query it cannot answer


def _resolve(source: Any, info: Any, **args: Any) -> Any:
    """Fields from dicts and objects; a callable field gets the query's arguments."""
    name = info.field_name
    value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
    return value(info, **args) if callable(value) else value
