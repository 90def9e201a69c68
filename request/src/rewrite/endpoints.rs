//! The endpoint allow-lists: which paths are reads, which are writes, per
//! backend. Anything else is refused: for VictoriaMetrics the endpoints that
//! ignore `extra_label`/`extra_filters` (metadata, status, rules, admin
//! paths) and client-supplied cluster paths (`/select/...`, `/insert/...`);
//! for Mimir everything but the Prometheus query API, remote write and OTLP
//! (admin, ruler, alertmanager, distributor and status pages).

use crate::config::Backend;
use crate::tenancy::Operation;

/// Reads whose results VictoriaMetrics filters by `extra_label` and
/// `extra_filters`.
const READS: &[&str] = &[
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/export",
    "/api/v1/export/csv",
    "/api/v1/export/native",
    "/federate",
    // No tenant data; Grafana asks for it when testing a data source.
    "/api/v1/status/buildinfo",
];

/// Ingestion paths where `extra_label` overrides same-named labels.
const WRITES: &[&str] = &[
    "/api/v1/write",
    "/api/v1/import",
    "/api/v1/import/csv",
    "/api/v1/import/native",
    "/api/v1/import/prometheus",
];

/// Mimir's Prometheus read API (below its prefix) whose answers its label
/// policies filter.
const MIMIR_READS: &[&str] = &[
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/status/buildinfo",
];

/// Mimir's ingestion paths: remote write and OTLP.
const MIMIR_WRITES: &[&str] = &["/api/v1/push", "/otlp/v1/metrics"];

/// An allowed endpoint: what it does, and its path below the optional
/// `/prometheus` prefix (the form cluster paths are built from).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint<'a> {
    pub operation: Operation,
    pub api_path: &'a str,
}

/// Classifies a canonical path for the backend; `None` when it is not
/// allowed.
#[inline]
pub fn classify<'a>(path: &'a str, backend: &Backend) -> Option<Endpoint<'a>> {
    match backend {
        Backend::Mimir {
            prometheus_prefix, ..
        } => classify_mimir(path, prometheus_prefix),
        Backend::VmSingle | Backend::VmCluster { .. } => classify_vm(path),
    }
}

/// Reads with or without the Prometheus prefix (the backend gets it
/// either way); writes at their own paths.
#[inline]
fn classify_mimir<'a>(path: &'a str, prefix: &str) -> Option<Endpoint<'a>> {
    if MIMIR_WRITES.contains(&path) {
        return Some(Endpoint {
            operation: Operation::Write,
            api_path: path,
        });
    }
    let api_path = below(path, prefix);
    (MIMIR_READS.contains(&api_path) || is_label_values(api_path)).then_some(Endpoint {
        operation: Operation::Read,
        api_path,
    })
}

/// `path` without `prefix` when it is below it, else `path`.
#[inline]
fn below<'a>(path: &'a str, prefix: &str) -> &'a str {
    path.strip_prefix(prefix)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(path)
}

#[inline]
fn classify_vm(path: &str) -> Option<Endpoint<'_>> {
    let api_path = below(path, "/prometheus");
    let operation = if READS.contains(&api_path) || is_label_values(api_path) {
        Operation::Read
    } else if WRITES.contains(&api_path) {
        Operation::Write
    } else {
        return None;
    };
    Some(Endpoint {
        operation,
        api_path,
    })
}

/// `/api/v1/label/<name>/values`
#[inline]
fn is_label_values(path: &str) -> bool {
    path.strip_prefix("/api/v1/label/")
        .and_then(|rest| rest.strip_suffix("/values"))
        .is_some_and(|name| {
            let mut bytes = name.bytes();
            bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// Methods each operation may use; VictoriaMetrics reads accept form posts.
#[inline]
pub fn method_allowed(method: &str, operation: Operation) -> bool {
    match operation {
        Operation::Read => matches!(method, "GET" | "HEAD" | "POST"),
        Operation::Write => matches!(method, "POST" | "PUT"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(path: &str) -> Option<Endpoint<'_>> {
        super::classify(path, &Backend::VmSingle)
    }

    fn mimir(path: &str) -> Option<Endpoint<'_>> {
        let backend = Backend::Mimir {
            prometheus_prefix: "/prometheus".into(),
            federation: false,
        };
        super::classify(path, &backend)
    }

    #[test]
    fn mimir_allows_the_query_api_push_and_otlp_only() {
        let read = mimir("/prometheus/api/v1/query_range").unwrap();
        assert_eq!(
            (read.operation, read.api_path),
            (Operation::Read, "/api/v1/query_range")
        );
        assert_eq!(mimir("/api/v1/labels").unwrap().api_path, "/api/v1/labels");
        assert_eq!(mimir("/api/v1/push").unwrap().operation, Operation::Write);
        assert_eq!(
            mimir("/otlp/v1/metrics").unwrap().operation,
            Operation::Write
        );
        for refused in [
            "/prometheus/api/v1/push",
            "/api/v1/write",
            "/prometheus/api/v1/metadata",
            "/prometheus/api/v1/rules",
            "/prometheus/config/v1/rules",
            "/api/v1/user_stats",
            "/distributor/all_user_stats",
            "/ingester/flush",
            "/multitenant_alertmanager/status",
            "/alertmanager/api/v2/alerts",
            "/prometheus/api/v1/cardinality/label_names",
            "/api/v1/admin/tsdb/delete_series",
            "/compactor/delete_tenant",
            "/federate",
            "/api/v1/export",
            "/metrics",
            "/config",
        ] {
            assert_eq!(mimir(refused), None, "{refused}");
        }
    }

    #[test]
    fn classifies_reads_and_writes_with_or_without_prefix() {
        let read = classify("/prometheus/api/v1/query").unwrap();
        assert_eq!(
            read,
            Endpoint {
                operation: Operation::Read,
                api_path: "/api/v1/query"
            }
        );
        assert_eq!(
            classify("/api/v1/label/job/values").unwrap().operation,
            Operation::Read
        );
        assert_eq!(
            classify("/api/v1/write").unwrap().operation,
            Operation::Write
        );
        assert_eq!(
            classify("/prometheus/api/v1/import/prometheus")
                .unwrap()
                .api_path,
            "/api/v1/import/prometheus"
        );
    }

    #[test]
    fn refuses_everything_off_the_list() {
        for path in [
            "/",
            "/prometheus",
            "/prometheusapi/v1/query",
            "/api/v1/metadata",
            "/api/v1/series/count",
            "/api/v1/status/top_queries",
            "/api/v1/status/active_queries",
            "/api/v1/status/tsdb",
            "/api/v1/rules",
            "/api/v1/alerts",
            "/api/v1/admin/tsdb/delete_series",
            "/api/v1/label/a-b/values",
            "/api/v1/label//values",
            "/metrics",
            "/flags",
            "/snapshot/create",
            "/internal/resetRollupResultCache",
            "/-/reload",
            "/select/0:0/prometheus/api/v1/query",
            "/insert/0:0/prometheus/api/v1/write",
            "/graphite/metrics/find",
            "/vmalert/api/v1/rules",
        ] {
            assert_eq!(classify(path), None, "{path}");
        }
    }

    #[test]
    fn methods_follow_the_operation() {
        assert!(method_allowed("POST", Operation::Read));
        assert!(!method_allowed("DELETE", Operation::Read));
        assert!(!method_allowed("GET", Operation::Write));
    }
}
