//! Rewriting the request in place so that the backend enforces the tenancy:
//! the path (cluster tenants), the query (labels and filters), the headers
//! (client tenancy headers removed), and a check of form bodies.

pub mod body;
pub mod endpoints;
pub mod multipart;
pub mod path;
pub mod query;

use std::fmt;
use std::fmt::Write;

pub use body::{body_check, check_body, BodyCheck};
pub use endpoints::Endpoint;
pub use path::Target;

use crate::config::Backend;
use crate::tenancy::{Enforcement, Operation};

pub use crate::tenancy::TENANT_HEADERS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewriteError {
    TargetTooLong,
    NonCanonicalPath,
    InvalidQuery,
    EndpointNotAllowed,
    MethodNotAllowed,
    AmbiguousContentType,
    MultipartBody,
    InvalidMultipartBody,
    InvalidFormBody,
    EnforcementInBody,
    BodyTooLarge,
    UndecodableHeader,
    InvalidContentType,
}

impl RewriteError {
    pub fn description(self) -> &'static str {
        match self {
            RewriteError::TargetTooLong => "request target is too long",
            RewriteError::NonCanonicalPath => {
                "request path must be canonical: no empty or dot segments, no percent-encoding or backslashes"
            }
            RewriteError::InvalidQuery => "query string holds a raw ';', '#', space or control character",
            RewriteError::EndpointNotAllowed => "endpoint is not available through the gateway",
            RewriteError::MethodNotAllowed => "method is not allowed on this endpoint",
            RewriteError::AmbiguousContentType => "request has more than one Content-Type header",
            RewriteError::MultipartBody => "only multipart/form-data bodies are accepted",
            RewriteError::InvalidMultipartBody => "multipart body is not canonical RFC 7578 form-data",
            RewriteError::InvalidFormBody => "form body holds a raw ';'",
            RewriteError::EnforcementInBody => {
                "form body must not carry extra_label or extra_filters: the gateway sets them"
            }
            RewriteError::BodyTooLarge => "request body is larger than the gateway buffers",
            RewriteError::UndecodableHeader => "request method, path, Authorization or Content-Type is not UTF-8",
            RewriteError::InvalidContentType => "Content-Type must be a plain ASCII media type",
        }
    }
}

impl fmt::Display for RewriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for RewriteError {}

/// A request the gateway may pass on once the tenant is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub target: Target<'a>,
    pub endpoint: Endpoint<'a>,
    /// The query parameter the token came in, if any; never forwarded.
    pub token_param: Option<&'a str>,
}

/// Checks the target and finds the endpoint; refuses what is not allowed.
#[inline]
pub fn route<'a>(
    method: &str,
    raw_target: &'a str,
    backend: &Backend,
) -> Result<Route<'a>, RewriteError> {
    let target = path::parse_target(raw_target)?;
    let endpoint =
        endpoints::classify(target.path, backend).ok_or(RewriteError::EndpointNotAllowed)?;
    if !endpoints::method_allowed(method, endpoint.operation) {
        return Err(RewriteError::MethodNotAllowed);
    }
    Ok(Route {
        target,
        endpoint,
        token_param: None,
    })
}

/// Bytes reserved beyond the client's target for a backend prefix and a
/// cluster tenant; a longer prefix only costs one more allocation.
const PREFIX_ROOM: usize = 64;

/// The `:path` the backend receives; `arguments` are the enforcement's
/// query arguments, encoded ([`query::enforcement_arguments`]).
#[inline]
pub fn rewritten_path(
    route: &Route<'_>,
    enforcement: &Enforcement,
    arguments: &str,
    backend: &Backend,
) -> String {
    // Room for the longest prefix and the tenant, so the query is written
    // without moving the path.
    let mut path = String::with_capacity(
        route.target.path.len()
            + PREFIX_ROOM
            + route.target.query.map_or(0, str::len)
            + arguments.len(),
    );
    match (backend, enforcement.cluster_tenant) {
        (
            Backend::VmCluster {
                select_prefix,
                insert_prefix,
            },
            Some(tenant),
        ) => {
            let prefix = match route.endpoint.operation {
                Operation::Read => select_prefix,
                Operation::Write => insert_prefix,
            };
            // Writing to a String cannot fail.
            let _ = write!(
                path,
                "{prefix}/{}:{}/prometheus{}",
                tenant.account_id, tenant.project_id, route.endpoint.api_path
            );
        }
        (
            Backend::Mimir {
                prometheus_prefix, ..
            },
            _,
        ) if route.endpoint.operation == Operation::Read => {
            path.push_str(prometheus_prefix);
            path.push_str(route.endpoint.api_path);
        }
        _ => path.push_str(route.target.path),
    }
    query::append_query(&mut path, route.target.query, arguments, route.token_param);
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::VmTenant;

    fn enforcement(tenant: Option<VmTenant>, labels: &[&str]) -> Enforcement {
        Enforcement {
            cluster_tenant: tenant,
            extra_labels: labels.iter().map(|s| s.to_string()).collect(),
            ..Enforcement::default()
        }
    }

    fn route<'a>(method: &str, target: &'a str) -> Result<Route<'a>, RewriteError> {
        super::route(method, target, &Backend::VmSingle)
    }

    #[test]
    fn mimir_reads_go_below_the_prefix_writes_stay() {
        let backend = Backend::Mimir {
            prometheus_prefix: "/prometheus".into(),
            federation: false,
        };
        let none = Enforcement::default();
        let read = super::route("GET", "/api/v1/query?query=up&extra_label=a=b", &backend).unwrap();
        assert_eq!(
            rewritten_path(&read, &none, "", &backend),
            "/prometheus/api/v1/query?query=up"
        );
        let prefixed = super::route("POST", "/prometheus/api/v1/series", &backend).unwrap();
        assert_eq!(
            rewritten_path(&prefixed, &none, "", &backend),
            "/prometheus/api/v1/series"
        );
        let push = super::route("POST", "/api/v1/push", &backend).unwrap();
        assert_eq!(rewritten_path(&push, &none, "", &backend), "/api/v1/push");
    }

    #[test]
    fn single_node_keeps_the_path_and_sets_arguments() {
        let route = route("GET", "/prometheus/api/v1/query?query=up&extra_label=t=b").unwrap();
        let enforcement = enforcement(None, &["t=a"]);
        let arguments = query::enforcement_arguments(&enforcement);
        let path = rewritten_path(&route, &enforcement, &arguments, &Backend::VmSingle);
        assert_eq!(path, "/prometheus/api/v1/query?query=up&extra_label=t%3Da");
    }

    #[test]
    fn cluster_puts_the_tenant_in_the_path() {
        let backend = Backend::VmCluster {
            select_prefix: "/select".into(),
            insert_prefix: "/vminsert/insert".into(),
        };
        let tenant = Some(VmTenant {
            account_id: 7,
            project_id: 3,
        });
        let read = super::route("GET", "/api/v1/query?query=up", &backend).unwrap();
        assert_eq!(
            rewritten_path(&read, &enforcement(tenant, &[]), "", &backend),
            "/select/7:3/prometheus/api/v1/query?query=up"
        );
        let write = super::route("POST", "/prometheus/api/v1/write", &backend).unwrap();
        assert_eq!(
            rewritten_path(&write, &enforcement(tenant, &[]), "", &backend),
            "/vminsert/insert/7:3/prometheus/api/v1/write"
        );
    }

    #[test]
    fn refuses_unknown_endpoints_and_methods() {
        assert_eq!(
            route("GET", "/api/v1/metadata"),
            Err(RewriteError::EndpointNotAllowed)
        );
        assert_eq!(
            route("DELETE", "/api/v1/query"),
            Err(RewriteError::MethodNotAllowed)
        );
        assert_eq!(
            route("GET", "/api/v1/write"),
            Err(RewriteError::MethodNotAllowed)
        );
        assert_eq!(
            route("GET", "/api/../v1/query"),
            Err(RewriteError::NonCanonicalPath)
        );
    }
}
