"""``greenline backstage``: the entities are valid for Backstage, checked against the JSON schemas
of Backstage's own catalog model (the npm package @backstage/catalog-model, Apache-2.0, which
``make venv`` installs into the virtual environment when npm is there; read with node, their
``$ref``s resolved locally) and by its own validators."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from greenline.api.backstage import entity_name
from tests.cli.conftest import Cli
from tests.conftest import git

MODEL_ENV = "GREENLINE_TEST_BACKSTAGE_MODEL"
SCHEMAS_JS = """
const fs = require("fs"), path = require("path");
const out = {};
function walk(dir) {
  for (const name of fs.readdirSync(dir)) {
    const file = path.resolve(dir, name);
    if (fs.statSync(file).isDirectory()) walk(file);
    else if (file.endsWith(".schema.json.cjs.js")) {
      const schema = require(file).default;
      out[schema.$id] = schema;
    }
  }
}
walk(path.join(process.argv[1], "dist", "schema"));
process.stdout.write(JSON.stringify(out));
"""
VALIDATE_JS = """
const path = require("path");
const model = require(process.argv[1]);
const mcp = require(path.join(process.argv[1], "dist", "kinds", "McpServerApiEntity.cjs.js"));
const [api, component] = JSON.parse(require("fs").readFileSync(0, "utf8"));
const policies = [
  new model.SchemaValidEntityPolicy(),
  new model.FieldFormatEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
];
async function verdict(check) {
  try {
    return await check();
  } catch (e) {
    return String(e.message || e);
  }
}
async function enforce(entity) {
  for (const policy of policies) await policy.enforce(entity);
  return true;
}
(async () => {
  const checks = [
    ["mcp-server", await verdict(() => mcp.mcpServerApiEntityValidator.check(api))],
    ["api", await verdict(() => model.apiEntityV1alpha1Validator.check(api))],
    ["component", await verdict(() => model.componentEntityV1alpha1Validator.check(component))],
    ["api policies", await verdict(() => enforce(api))],
    ["component policies", await verdict(() => enforce(component))],
  ];
  process.stdout.write(JSON.stringify(checks));
})();
"""


@pytest.fixture(scope="session")
def catalog_model() -> Path:
    default = Path(sys.prefix) / "backstage" / "node_modules" / "@backstage" / "catalog-model"
    model = Path(os.environ.get(MODEL_ENV) or default)
    if shutil.which("node") is None or not (model / "package.json").is_file():
        pytest.skip(
            f"Backstage's catalog model is not at {model} (make venv installs it with npm; "
            f"or point {MODEL_ENV} at an installed @backstage/catalog-model)"
        )
    return model


def node(script: str, model: Path, stdin: str = "") -> Any:
    done = subprocess.run(
        ["node", "-e", script, str(model)],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def registry(catalog_model: Path) -> Registry[Any]:
    schemas = node(SCHEMAS_JS, catalog_model)
    assert {"Entity", "EntityMeta", "common", "ApiV1alpha1McpServer", "ComponentV1alpha1"} <= set(
        schemas
    )
    resources = [
        (sid, Resource.from_contents(s, default_specification=DRAFT7)) for sid, s in schemas.items()
    ]
    return Registry().with_resources(resources)


def errors(entity: dict[str, Any], schema_id: str, registry: Registry[Any]) -> list[str]:
    schema = registry.contents(schema_id)
    validator = jsonschema.Draft7Validator(schema, registry=registry)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(entity)]


@pytest.fixture
def repo(git_repo: Path) -> Path:
    git(git_repo, "remote", "add", "origin", "git@github.com:Octo-Org/My Shop!!.git")
    return git_repo


def entities(cli: Cli, *args: str) -> list[dict[str, Any]]:
    shown = cli("backstage", *args)
    assert shown.code == 0, shown.err
    return list(yaml.safe_load_all(shown.out))


def test_the_entities_are_valid_for_backstage(
    cli: Cli, repo: Path, catalog_model: Path, registry: Registry[Any]
) -> None:
    api, component = entities(cli, "--url", "https://greenline.example.com/")
    assert api["kind"] == "API" and component["kind"] == "Component"
    assert api["spec"]["type"] == "mcp-server"
    assert api["spec"]["remotes"] == [
        {"type": "streamable-http", "url": "https://greenline.example.com/mcp"}
    ]
    assert component["metadata"]["name"] == "My-Shop"
    assert api["metadata"]["name"] == "My-Shop-greenline-mcp"
    assert component["spec"]["owner"] == api["spec"]["owner"] == "Octo-Org"
    assert component["metadata"]["annotations"] == {"github.com/project-slug": "Octo-Org/My Shop!!"}
    assert "review_change" in api["spec"]["definition"]  # the tools, as the server lists them
    assert errors(api, "ApiV1alpha1McpServer", registry) == []
    assert errors(api, "ApiV1alpha1", registry) == []  # a catalog without the mcp-server layer
    assert errors(component, "ComponentV1alpha1", registry) == []
    checks = node(VALIDATE_JS, catalog_model, json.dumps([api, component]))
    assert [verdict for _, verdict in checks] == [True] * 5, checks
    # the checks do catch a bad entity: the schema an empty remotes, the policies a bad name
    broken = {**api, "metadata": {**api["metadata"], "name": "bad name!"}}
    broken["spec"] = {**api["spec"], "remotes": []}
    assert errors(broken, "ApiV1alpha1McpServer", registry) == [
        "['spec', 'remotes']: [] should be non-empty"
    ]
    refused = dict(node(VALIDATE_JS, catalog_model, json.dumps([broken, component])))
    assert "bad name!" in str(refused["api policies"])


def test_the_server_url_comes_from_the_settings(
    cli: Cli, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = cli("backstage")
    assert missing.code == 4 and "no team server address" in missing.err
    assert "Hint: pass --url" in missing.err
    monkeypatch.setenv("GREENLINE_SERVER_URL", "http://greenline.internal:8787")
    api, _ = entities(cli, "--owner", "group:qa", "--lifecycle", "experimental")
    assert api["spec"]["remotes"][0]["url"] == "http://greenline.internal:8787/mcp"
    assert (api["spec"]["owner"], api["spec"]["lifecycle"]) == ("group:qa", "experimental")
    shown = cli("backstage", "--url", "https://x.example/mcp", "-f", "json")
    doc = shown.json()
    assert doc["schema"] == "greenline.backstage/1"
    assert doc["entities"][0]["spec"]["remotes"][0]["url"] == "https://x.example/mcp"
    bad = cli("backstage", "--url", "https://user:secret@x.example")
    assert bad.code == 4 and "secret" not in bad.err and "not an http(s) address" in bad.err
    assert cli("backstage", "--url", "ftp://x.example").code == 4


@pytest.mark.parametrize(
    "raw,name",
    [
        ("shop", "shop"),
        ("My Shop!!", "My-Shop"),
        ("--a..b__c--", "a-b-c"),
        ("x" * 80, "x" * 63),
        ("日本", "repository"),
        ("a.b_c-d", "a.b_c-d"),
    ],
)
def test_names_follow_backstages_rule(raw: str, name: str) -> None:
    assert entity_name(raw) == name
