"""deploy/tenantgate.schema.json agrees with the filter's own parser: every
shipped configuration passes both, and broken ones fail both."""

import copy
import json
import subprocess

import jsonschema
import pytest
import yaml

from harness import REPO_ROOT, wasm_filter_config
from test_deploy_examples import PLUGIN_CONFIGS

SCHEMA = json.loads((REPO_ROOT / "deploy" / "tenantgate.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def embedded_default():
    return wasm_filter_config(yaml.safe_load((REPO_ROOT / "envoy.yaml").read_text()))["configuration"]["value"]


SHIPPED = {"envoy.yaml": embedded_default, **PLUGIN_CONFIGS}


def parser_accepts(config, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    subprocess.run(["cargo", "build", "--quiet", "--bin", "tenantgate-check-config"], cwd=REPO_ROOT, check=True)
    result = subprocess.run(
        [REPO_ROOT / "target" / "debug" / "tenantgate-check-config", path], capture_output=True, text=True
    )
    return result.returncode == 0


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_configurations_match_the_schema(name):
    config = json.loads(SHIPPED[name]())
    errors = [f"{list(error.path)}: {error.message}" for error in VALIDATOR.iter_errors(config)]
    assert errors == [], errors


def set_path(config, path, value):
    target = config
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


BREAKAGES = [
    (["tenancy", "backend"], "nope"),
    (["providers"], []),
    (["providers", 0, "audiences"], "x"),
    (["providers", 0, "algorithms"], ["none"]),
    (["providers", 0, "clock_skew_s"], 3600),
    (["providers", 0, "cache_duration_s"], 0),
    (["providers", 0, "discovery", "authority"], "a/b"),
    (["providers", 0, "unknown_setting"], 1),
    (["tenancy", "select_prefix"], "/select"),
    (["realm"], 'a"b'),
    (["key_wait_timeout_ms"], 0),
    # Two key sources at once.
    (["providers", 0, "hmac_secrets"], [{"secret": "s" * 40}]),
]


def test_configured_keys_of_the_token_table_match_the_schema():
    import token_table

    config = token_table.build()["config"]
    errors = [error.message for error in VALIDATOR.iter_errors(config)]
    assert errors == []
    for broken_secret in ({"secret": "short"}, {"secret": "s" * 40, "secret_base64": "c2VjcmV0"}):
        broken = copy.deepcopy(config)
        broken["providers"][2]["hmac_secrets"] = [broken_secret]
        assert not VALIDATOR.is_valid(broken)


@pytest.mark.parametrize("path,value", BREAKAGES, ids=[".".join(map(str, p)) for p, _ in BREAKAGES])
def test_schema_and_parser_refuse_the_same_mistakes(path, value, tmp_path):
    config = json.loads(embedded_default())
    broken = copy.deepcopy(config)
    set_path(broken, path, value)
    assert not VALIDATOR.is_valid(broken), "schema accepts it"
    assert not parser_accepts(broken, tmp_path), "parser accepts it"
    assert parser_accepts(config, tmp_path)


def schema_fields(node, prefix=""):
    """Dotted field names of the schema, as the README's reference writes them."""
    node = SCHEMA["$defs"][node["$ref"].split("/")[-1]] if "$ref" in node else node
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}{name}"
        child = SCHEMA["$defs"][child["$ref"].split("/")[-1]] if "$ref" in child else child
        if child.get("type") == "array" and "$ref" in child.get("items", {}):
            yield path
            yield from schema_fields(child["items"], f"{path}[].")
        elif child.get("type") == "object" and "properties" in child:
            yield from schema_fields(child, f"{path}.")
        else:
            yield path


def test_readme_reference_lists_every_field():
    readme = (REPO_ROOT / "README.md").read_text()
    missing = [field for field in schema_fields(SCHEMA) if f"| `{field}` |" not in readme]
    assert missing == [], f"README configuration reference lacks {missing}"
