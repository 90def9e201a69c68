"""The JSON Schema and the filter's parser agree on the tenancy settings:
claim mappings, access policies, the mimir backend, identity headers."""

import copy
import json

import pytest

from test_config_schema import VALIDATOR, embedded_default, parser_accepts

POLICIES = {
    "backend": "mimir",
    "mapping": "access_policies",
    "claim": "groups",
    "pattern": "metrics-(.+)",
    "federation": True,
    "prometheus_prefix": "/api/prom",
    "policies": {"ops": {"tenants": ["ops"], "scopes": ["read", "write"], "selectors": ['{env="prod"}']}},
    "default": ["metrics-ops"],
}

ACCEPTED = {
    "vmauth on the cluster": {"backend": "vm_cluster", "mapping": "vmauth", "claim": "ext.\"vm.access\"[0]"},
    "vm_access default": {"backend": "vm_single", "default": {"extra_labels": {"team": "guest"}, "mode": 1}},
    "mimir access policies": POLICIES,
    "single-node policies": {
        "backend": "vm_single",
        "mapping": "access_policies",
        "pattern": "(\\w+)",
        "policies": {"a": {"scopes": ["read"], "selectors": ['{team="a"}']}},
    },
}


def with_tenancy(tenancy, identity_headers=None):
    config = json.loads(embedded_default())
    config["tenancy"] = tenancy
    if identity_headers is not None:
        config["identity_headers"] = identity_headers
    return config


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_both_accept(name, tmp_path):
    config = with_tenancy(ACCEPTED[name], [{"claim": "email", "header": "X-WEBAUTH-EMAIL"}])
    assert VALIDATOR.is_valid(config), [e.message for e in VALIDATOR.iter_errors(config)]
    assert parser_accepts(config, tmp_path)


def changed(**fields):
    tenancy = copy.deepcopy(POLICIES)
    for name, value in fields.items():
        if value is None:
            tenancy.pop(name)
        else:
            tenancy[name] = value
    return tenancy


REFUSED = {
    "mimir without policies mapping": {"backend": "mimir"},
    "unknown mapping": {"backend": "vm_single", "mapping": "gem"},
    "pattern on vm_access": {"backend": "vm_single", "pattern": "(x)"},
    "federation on single-node": {"backend": "vm_single", "federation": True},
    "prefix of another backend": {"backend": "vm_cluster", "prometheus_prefix": "/p"},
    "policies missing": changed(policies=None),
    "pattern missing": changed(pattern=None),
    "unknown scope": changed(policies={"ops": {"tenants": ["ops"], "scopes": ["admin"]}}),
    "no scopes": changed(policies={"ops": {"tenants": ["ops"], "scopes": []}}),
    "unknown policy field": changed(policies={"ops": {"tenants": ["ops"], "scopes": ["read"], "labels": {}}}),
    "federation not a boolean": changed(federation="yes"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_both_refuse(name, tmp_path):
    config = with_tenancy(REFUSED[name])
    assert not VALIDATOR.is_valid(config), "schema accepts it"
    assert not parser_accepts(config, tmp_path), "parser accepts it"


@pytest.mark.parametrize(
    "identity_headers",
    [
        [{"claim": "email", "header": "Authorization"}],
        [{"claim": "email", "header": "X-Scope-OrgID"}],
        [{"claim": "email", "header": "bad header"}],
        [{"claim": "email"}],
        [{"claim": "email", "header": "x-a", "extra": 1}],
    ],
)
def test_both_refuse_bad_identity_headers(identity_headers, tmp_path):
    config = with_tenancy({"backend": "vm_single"}, identity_headers)
    assert not VALIDATOR.is_valid(config), "schema accepts it"
    assert not parser_accepts(config, tmp_path), "parser accepts it"
