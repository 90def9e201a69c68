//! Whatever query a client sends, the rewritten one carries exactly the
//! gateway's enforcement under the enforcement keys, as the backend decodes it.

use proptest::prelude::*;

use tenantgate::config::Backend;
use tenantgate::rewrite::{rewritten_path, route};
use tenantgate::tenancy::Enforcement;

/// Keys a client might use, in raw and percent-encoded spellings.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("extra_label".to_string()),
        Just("extra_filters".to_string()),
        Just("extra_filters[]".to_string()),
        Just("extra%5Flabel".to_string()),
        Just("extra_filters%5B%5D".to_string()),
        Just("extra_filters%5b%5d".to_string()),
        Just("%65xtra_label".to_string()),
        Just("query".to_string()),
        "[a-z_%5B5D]{0,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    "[a-z0-9={}\"%+&]{0,16}"
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((key(), value()), 0..8).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn enforcement() -> Enforcement {
    Enforcement {
        cluster_tenant: None,
        extra_labels: vec!["tenant=team-a".into()],
        extra_filters: vec!["{env=\"prod\"}".into()],
        ..Enforcement::default()
    }
}

proptest! {
    #[test]
    fn only_the_gateway_sets_enforcement(query in query()) {
        let target = format!("/api/v1/query?{query}");
        // Targets the filter refuses outright need no rewriting.
        if let Ok(route) = route("GET", &target, &Backend::VmSingle) {
            let path = rewritten_path(&route, &enforcement(), &Backend::VmSingle);
            let (_, rewritten) = path.split_once('?').expect("enforcement is always set");
            let mut labels = Vec::new();
            let mut filters = Vec::new();
            for (k, v) in form_urlencoded::parse(rewritten.as_bytes()) {
                match k.as_ref() {
                    "extra_label" => labels.push(v.into_owned()),
                    "extra_filters" | "extra_filters[]" => filters.push(v.into_owned()),
                    _ => {}
                }
            }
            prop_assert_eq!(labels, vec!["tenant=team-a".to_string()]);
            prop_assert_eq!(filters, vec!["{env=\"prod\"}".to_string()]);
        }
    }
}
