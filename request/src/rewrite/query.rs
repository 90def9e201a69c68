//! Query arguments: every client copy of an enforcement argument is dropped
//! and the gateway's own are appended. The kept arguments are re-encoded
//! from their decoded form, so the backend reads exactly what was checked
//! (`extra%5Flabel` is `extra_label` to it as well); an argument that
//! re-encoding would leave as it is, is copied.

use crate::tenancy::Enforcement;

/// Arguments through which VictoriaMetrics narrows (or, for the OR-ed
/// filters, widens) what a request sees.
pub const ENFORCEMENT_KEYS: [&str; 3] = ["extra_label", "extra_filters", "extra_filters[]"];

pub fn is_enforcement_key(key: &str) -> bool {
    ENFORCEMENT_KEYS.contains(&key)
}

/// Writes the new query at the end of `out`, which holds the path: `?`
/// and the client's arguments but enforcement keys and `token_param` (the
/// parameter the token came in), then `arguments` from
/// [`enforcement_arguments`]; nothing when that query is empty.
#[inline]
pub fn append_query(
    out: &mut String,
    query: Option<&str>,
    arguments: &str,
    token_param: Option<&str>,
) {
    let query = query.unwrap_or("");
    // Re-encoding keeps the length of most queries; one allocation then
    // holds the whole target.
    out.reserve(query.len() + arguments.len() + 2);
    let path_end = out.len();
    out.push('?');
    let query_start = out.len();
    let kept = |key: &str| !is_enforcement_key(key) && token_param != Some(key);
    // The pairs `form_urlencoded::parse` reads: split at `&`, none empty.
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        if let Some(key) = encoded_as_is(pair) {
            if kept(key) {
                separate(out, query_start);
                out.push_str(pair);
            }
            continue;
        }
        for (key, value) in form_urlencoded::parse(pair.as_bytes()) {
            if kept(&key) {
                append_encoded(out, query_start, &key, &value);
            }
        }
    }
    if !arguments.is_empty() {
        separate(out, query_start);
    }
    out.push_str(arguments);
    if out.len() == query_start {
        out.truncate(path_end);
    }
}

/// Bytes form encoding writes as they are (`form_urlencoded::byte_serialize`).
const AS_IS: [bool; 256] =
    byte_table!(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'));

/// The key of `key=value` when decoding and encoding the pair again gives
/// the same bytes and the key reads as written: one `=`, no `%`, and a `+`
/// (read as a space, written as `+`) only in the value, since the key is
/// compared with the enforcement keys and the token's parameter as it is.
/// Such a pair is copied; any other is decoded and encoded, so either way
/// the backend reads what was checked.
fn encoded_as_is(pair: &str) -> Option<&str> {
    let (key, value) = pair.split_once('=')?;
    let key_as_is = key.bytes().all(|byte| AS_IS[usize::from(byte)]);
    let value_same = value
        .bytes()
        .all(|byte| AS_IS[usize::from(byte)] || byte == b'+');
    (key_as_is && value_same).then_some(key)
}

/// `&` before every argument but the first.
fn separate(out: &mut String, query_start: usize) {
    if out.len() > query_start {
        out.push('&');
    }
}

/// `key=value` form-encoded as `form_urlencoded::Serializer` encodes a
/// pair, without its per-pair bookkeeping.
#[inline]
fn append_encoded(out: &mut String, query_start: usize, key: &str, value: &str) {
    separate(out, query_start);
    out.extend(form_urlencoded::byte_serialize(key.as_bytes()));
    out.push('=');
    out.extend(form_urlencoded::byte_serialize(value.as_bytes()));
}

/// The gateway's own arguments, encoded: every `extra_label`, then every
/// `extra_filters`.
#[inline]
pub fn enforcement_arguments(enforcement: &Enforcement) -> String {
    let mut out = String::new();
    let labels = enforcement.extra_labels.iter().map(|l| ("extra_label", l));
    let filters = enforcement
        .extra_filters
        .iter()
        .map(|f| ("extra_filters", f));
    for (key, value) in labels.chain(filters) {
        append_encoded(&mut out, 0, key, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enforcement(labels: &[&str], filters: &[&str]) -> Enforcement {
        Enforcement {
            cluster_tenant: None,
            extra_labels: labels.iter().map(|s| s.to_string()).collect(),
            extra_filters: filters.iter().map(|s| s.to_string()).collect(),
            ..Enforcement::default()
        }
    }

    /// The query `append_query` writes after a path, without the `?`.
    fn rewrite_query(query: Option<&str>, arguments: &str, token_param: Option<&str>) -> String {
        let mut target = String::from("/p");
        append_query(&mut target, query, arguments, token_param);
        match target.strip_prefix("/p") {
            Some(rest) => rest.strip_prefix('?').unwrap_or(rest).to_string(),
            None => panic!("the path was changed: {target}"),
        }
    }

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn replaces_client_enforcement_in_every_spelling() {
        let query = "query=up&extra_label=team=b&extra_filters=%7Bteam%3D%22b%22%7D\
                     &extra_filters%5B%5D=x&extra%5Flabel=team%3Db&extra_filters[]=y&time=1";
        let rewritten = rewrite_query(
            Some(query),
            &enforcement_arguments(&enforcement(&["team=a"], &["{env=\"prod\"}"])),
            None,
        );
        assert_eq!(
            pairs(&rewritten),
            [
                ("query".into(), "up".into()),
                ("time".into(), "1".into()),
                ("extra_label".into(), "team=a".into()),
                ("extra_filters".into(), "{env=\"prod\"}".into()),
            ]
        );
    }

    #[test]
    fn keeps_values_exactly_as_decoded() {
        let rewritten = rewrite_query(
            Some("query=rate(x%5B5m%5D)+%2B+1&a=%zz"),
            &enforcement_arguments(&enforcement(&["t=a"], &[])),
            None,
        );
        assert_eq!(pairs(&rewritten)[0].1, "rate(x[5m]) + 1");
        assert_eq!(pairs(&rewritten)[1].1, "%zz");
    }

    #[test]
    fn no_query_gets_only_the_enforcement() {
        let arguments = enforcement_arguments(&enforcement(&["t=a"], &[]));
        assert_eq!(rewrite_query(None, &arguments, None), "extra_label=t%3Da");
        assert_eq!(rewrite_query(Some("query=up"), "", None), "query=up");
        assert_eq!(
            rewrite_query(None, &enforcement_arguments(&enforcement(&[], &[])), None),
            ""
        );
    }

    #[test]
    fn enforcement_is_encoded_as_a_form_serializer_encodes_it() {
        let labels = ["team=a", "x=a b&c", "", "ü=%+"];
        let filters = ["{env=~\"prod|dev\"}", "up{a=\"1\"} or x"];
        for (labels, filters) in [
            (&labels[..], &filters[..]),
            (&[][..], &filters[..1]),
            (&labels[..1], &[][..]),
        ] {
            let mut reference = form_urlencoded::Serializer::new(String::new());
            for label in labels {
                reference.append_pair("extra_label", label);
            }
            for filter in filters {
                reference.append_pair("extra_filters", filter);
            }
            assert_eq!(
                enforcement_arguments(&enforcement(labels, filters)),
                reference.finish()
            );
        }
    }

    /// A parameter name with a space reaches the filter as `+` or `%20`.
    #[test]
    fn token_parameter_is_dropped_in_every_spelling() {
        let arguments = enforcement_arguments(&enforcement(&["t=a"], &[]));
        for query in [
            "access+token=a.b.c&query=up",
            "access%20token=a.b.c&query=up",
        ] {
            assert_eq!(
                rewrite_query(Some(query), &arguments, Some("access token")),
                "query=up&extra_label=t%3Da"
            );
        }
        assert_eq!(
            rewrite_query(Some("a+b=1&q=x+y"), "", Some("a+b")),
            "a+b=1&q=x+y",
            "`a+b` is the parameter `a b`"
        );
    }

    #[test]
    fn token_parameter_is_dropped() {
        let rewritten = rewrite_query(
            Some("query=up&auth_token=a.b.c"),
            &enforcement_arguments(&enforcement(&["t=a"], &[])),
            Some("auth_token"),
        );
        assert_eq!(rewritten, "query=up&extra_label=t%3Da");
    }
}
