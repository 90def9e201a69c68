//! The request target, checked before any decision is made on it. Only the
//! canonical spelling of a path is accepted, so the path the filter decides
//! on is the path the backend serves: no dot segments, no empty segments, no
//! percent-encoding, no backslashes.

use super::RewriteError;

const MAX_TARGET_BYTES: usize = 16 << 10;

/// `:path` split into its path and its query (without the `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    pub path: &'a str,
    pub query: Option<&'a str>,
}

#[inline]
pub fn parse_target(target: &str) -> Result<Target<'_>, RewriteError> {
    if target.len() > MAX_TARGET_BYTES {
        return Err(RewriteError::TargetTooLong);
    }
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    if !is_canonical_path(path) {
        return Err(RewriteError::NonCanonicalPath);
    }
    if let Some(query) = query {
        check_query(query)?;
    }
    Ok(Target { path, query })
}

/// One pass over the bytes: each segment is non-empty, not `.` or `..`,
/// and made of path bytes only.
#[inline]
fn is_canonical_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let mut segment_start = 0;
    for (index, &byte) in rest.as_bytes().iter().enumerate() {
        if byte == b'/' {
            if !is_segment(&rest.as_bytes()[segment_start..index]) {
                return false;
            }
            segment_start = index + 1;
        } else if !PATH_BYTES[usize::from(byte)] {
            return false;
        }
    }
    is_segment(&rest.as_bytes()[segment_start..])
}

/// A segment whose bytes were checked already: not empty, not a dot segment.
fn is_segment(segment: &[u8]) -> bool {
    !matches!(segment, b"" | b"." | b"..")
}

/// RFC 3986 `pchar` without `%` (encoded bytes have other spellings);
/// the path is checked on every request.
const PATH_BYTES: [bool; 256] = byte_table!(|b| b.is_ascii_alphanumeric()
    || matches!(
        b,
        b'-' | b'.'
            | b'_'
            | b'~'
            | b'!'
            | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'@'
    ));

/// A raw `;` was a query separator in older Go servers, and a `#` or a
/// control byte has no place in a request target.
fn check_query(query: &str) -> Result<(), RewriteError> {
    if query
        .bytes()
        .any(|b| b == b';' || b == b'#' || b <= b' ' || b == 0x7f)
    {
        return Err(RewriteError::InvalidQuery);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_path_and_query() {
        let target = parse_target("/api/v1/query?query=up&time=1").unwrap();
        assert_eq!(target.path, "/api/v1/query");
        assert_eq!(target.query, Some("query=up&time=1"));
        assert_eq!(parse_target("/").unwrap().query, None);
    }

    /// The definition the one-pass check implements.
    fn canonical_by_segments(path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        rest.is_empty()
            || rest.split('/').all(|segment| {
                !matches!(segment, "" | "." | "..")
                    && segment.bytes().all(|b| PATH_BYTES[usize::from(b)])
            })
    }

    #[test]
    fn one_pass_check_agrees_with_the_segment_definition() {
        let alphabet = ["/", ".", "a", "%", "\\", ":", "é", "?", "~", "-"];
        let mut paths = vec![String::new()];
        for _ in 0..6 {
            paths = paths
                .iter()
                .flat_map(|path| alphabet.iter().map(move |piece| format!("{path}{piece}")))
                .collect();
            for path in &paths {
                assert_eq!(
                    is_canonical_path(path),
                    canonical_by_segments(path),
                    "{path:?}"
                );
            }
        }
    }

    #[test]
    fn refuses_every_non_canonical_spelling() {
        for bad in [
            "",
            "api/v1/query",
            "//api/v1/query",
            "/api//v1/query",
            "/api/v1/query/",
            "/api/./v1/query",
            "/api/v1/../v1/query",
            "/api/v1/%71uery",
            "/api/v1%2fquery",
            "/api/v1/query%2e",
            "/api\\v1\\query",
            "/api/v1/query#x",
            "/api/v1/qu ery",
        ] {
            assert_eq!(
                parse_target(bad),
                Err(RewriteError::NonCanonicalPath),
                "{bad:?}"
            );
        }
        for bad in ["/q?a=1;extra_label=x", "/q?a=b c", "/q?a#b"] {
            assert_eq!(
                parse_target(bad),
                Err(RewriteError::InvalidQuery),
                "{bad:?}"
            );
        }
        let long = format!("/{}", "a".repeat(MAX_TARGET_BYTES));
        assert_eq!(parse_target(&long), Err(RewriteError::TargetTooLong));
    }
}
