"""The bench's Envoy configuration: one listener per filter setup, all on one
worker, every route a direct_response 200 so no upstream is measured."""

import json

HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
JWT_AUTHN_TYPE = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue"


def socket_address(port):
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def wasm_filter(name, wasm_path, vm_id, configuration=None):
    """A Wasm HTTP filter; filters with one vm_id share a VM per worker."""
    config = {
        "name": name,
        "root_id": name,
        "fail_open": False,
        "vm_config": {
            "vm_id": vm_id,
            "runtime": "envoy.wasm.runtime.v8",
            "code": {"local": {"filename": str(wasm_path)}},
        },
    }
    if configuration is not None:
        config["configuration"] = {"@type": STRING_VALUE_TYPE, "value": json.dumps(configuration)}
    return {"name": name, "typed_config": {"@type": WASM_TYPE, "config": config}}


def jwt_authn_filter(issuer, audience, jwks, cache_size):
    """Envoy's own JWT filter on the same keys, inline; cache_size 0 = no token cache."""
    provider = {
        "issuer": issuer,
        "audiences": [audience],
        "local_jwks": {"inline_string": json.dumps(jwks)},
    }
    if cache_size:
        provider["jwt_cache_config"] = {"jwt_cache_size": cache_size}
    config = {
        "@type": JWT_AUTHN_TYPE,
        "providers": {"demo": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "demo"}}],
    }
    return {"name": "envoy.filters.http.jwt_authn", "typed_config": config}


def listener(name, port, http_filters):
    """A listener answering 200 itself after `http_filters`; the connection
    manager options are envoy.yaml's, so path handling costs the same."""
    manager = {
        "@type": HCM_TYPE,
        "stat_prefix": name,
        "normalize_path": True,
        "merge_slashes": True,
        "path_with_escaped_slashes_action": "REJECT_REQUEST",
        "route_config": {
            "name": name,
            "virtual_hosts": [
                {
                    "name": name,
                    "domains": ["*"],
                    "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200}}],
                }
            ],
        },
        "http_filters": http_filters + [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER_TYPE}}],
    }
    return {
        "name": name,
        "address": socket_address(port),
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}]}],
    }


def static_cluster(name, port):
    return {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [{"endpoint": {"address": socket_address(port)}}]}]},
    }


def envoy_config(admin_port, listeners, idp_port):
    """`listeners`: (name, port, http_filters) triples."""
    return {
        "admin": {"address": socket_address(admin_port)},
        "static_resources": {
            "listeners": [listener(name, port, filters) for name, port, filters in listeners],
            "clusters": [static_cluster("demo_idp", idp_port)],
        },
    }
