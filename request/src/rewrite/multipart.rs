//! `multipart/form-data` bodies (RFC 7578), read the way Go's
//! `mime/multipart` reads them for `Request.FormValue`, but strictly: a
//! body is accepted only in the canonical form every client sends (no
//! preamble, CRLF lines, nothing after a boundary but CRLF or `--`, no
//! folded or non-ASCII part headers, plain `name` parameters). Wherever Go
//! could read a body differently from this reader, this reader refuses it,
//! so the part names checked here are the part names the backend sees.

use super::query::is_enforcement_key;
use super::RewriteError;

const CRLF: &[u8] = b"\r\n";

/// The `boundary` of a `multipart/form-data` Content-Type, whose media
/// type the caller has matched.
pub fn boundary(content_type: &str) -> Result<String, RewriteError> {
    let (_, parameters) = media_parameters(content_type)?;
    let boundary = parameters
        .into_iter()
        .find(|(name, _)| name == "boundary")
        .map(|(_, value)| value)
        .ok_or(RewriteError::InvalidMultipartBody)?;
    // RFC 2046 bchars, 1-70 of them, not ending in a space.
    let valid = (1..=70).contains(&boundary.len())
        && !boundary.ends_with(' ')
        && boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    if valid {
        Ok(boundary)
    } else {
        Err(RewriteError::InvalidMultipartBody)
    }
}

/// Refuses a body that is not canonical multipart or that has a part named
/// like an enforcement argument.
pub fn check(body: &[u8], boundary: &str) -> Result<(), RewriteError> {
    let malformed = Err(RewriteError::InvalidMultipartBody);
    let dash_boundary = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    let Some(mut rest) = body.strip_prefix(dash_boundary.as_bytes()) else {
        return malformed;
    };
    loop {
        // After a boundary: `--` closes the body, CRLF starts a part.
        if rest.starts_with(b"--") {
            return Ok(());
        }
        let Some(part_start) = rest.strip_prefix(CRLF) else {
            return malformed;
        };
        let Some(end) = find(part_start, delimiter.as_bytes()) else {
            return malformed;
        };
        check_part_headers(&part_start[..end])?;
        rest = &part_start[end + delimiter.len()..];
    }
}

/// The header block of one part (up to its first empty line).
fn check_part_headers(part: &[u8]) -> Result<(), RewriteError> {
    let headers = if part.starts_with(CRLF) {
        &part[..0]
    } else {
        match find(part, b"\r\n\r\n") {
            Some(end) => &part[..end],
            None => return Err(RewriteError::InvalidMultipartBody),
        }
    };
    let mut disposition_seen = false;
    for line in split_lines(headers) {
        let (name, value) = header_line(line)?;
        if !name.eq_ignore_ascii_case("content-disposition") {
            continue;
        }
        if disposition_seen {
            return Err(RewriteError::InvalidMultipartBody);
        }
        disposition_seen = true;
        let (_, parameters) = media_parameters(value)?;
        if parameters
            .iter()
            .any(|(name, value)| name == "name" && is_enforcement_key(value))
        {
            return Err(RewriteError::EnforcementInBody);
        }
    }
    Ok(())
}

fn split_lines(headers: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(headers).filter(|h| !h.is_empty());
    std::iter::from_fn(move || {
        let current = rest?;
        match find(current, CRLF) {
            Some(end) => {
                rest = Some(&current[end + 2..]);
                Some(&current[..end])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `Name: value`, printable ASCII, no folding, no bare CR or LF.
fn header_line(line: &[u8]) -> Result<(&str, &str), RewriteError> {
    let printable = line
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    let text = std::str::from_utf8(line)
        .ok()
        .filter(|_| printable)
        .ok_or(RewriteError::InvalidMultipartBody)?;
    let (name, value) = text
        .split_once(':')
        .filter(|(name, _)| !name.is_empty() && name.bytes().all(is_token_byte))
        .ok_or(RewriteError::InvalidMultipartBody)?;
    Ok((name, value.trim_matches([' ', '\t'])))
}

/// A media type or disposition with its parameters, names lower-cased.
/// Strict: tokens or quoted strings without backslashes, no `name*`
/// (RFC 2231) parameters, no duplicates. `text` is printable ASCII.
fn media_parameters(text: &str) -> Result<(String, Vec<(String, String)>), RewriteError> {
    let malformed = RewriteError::InvalidMultipartBody;
    let split = text.find(';').unwrap_or(text.len());
    let kind = text[..split].trim_matches([' ', '\t']);
    if kind.is_empty() || !kind.bytes().all(|b| is_token_byte(b) || b == b'/') {
        return Err(malformed);
    }
    let mut parameters: Vec<(String, String)> = Vec::new();
    let mut rest = &text[split..];
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        let Some(after) = rest.strip_prefix(';') else {
            if rest.is_empty() {
                break;
            }
            return Err(malformed);
        };
        rest = after.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            break; // a trailing `;`
        }
        let (name, after) = split_token(rest);
        let name = name.to_ascii_lowercase();
        let Some(after) = after.strip_prefix('=') else {
            return Err(malformed);
        };
        if name.is_empty() || name.contains('*') || parameters.iter().any(|(n, _)| *n == name) {
            return Err(malformed);
        }
        let (value, after) = parameter_value(after).ok_or(malformed)?;
        parameters.push((name, value.to_string()));
        rest = after;
    }
    Ok((kind.to_ascii_lowercase(), parameters))
}

/// A token or a quoted string without backslashes, and what follows it.
fn parameter_value(text: &str) -> Option<(&str, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let (value, after) = quoted.split_once('"')?;
        return (!value.contains('\\')).then_some((value, after));
    }
    let (token, after) = split_token(text);
    (!token.is_empty()).then_some((token, after))
}

fn split_token(text: &str) -> (&str, &str) {
    let len = text.bytes().take_while(|&b| is_token_byte(b)).count();
    text.split_at(len)
}

/// RFC 9110 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[&str]) -> Vec<u8> {
        let mut out = String::new();
        for part in parts {
            out.push_str("--XyZ\r\n");
            out.push_str(part);
            out.push_str("\r\n");
        }
        out.push_str("--XyZ--\r\n");
        out.into_bytes()
    }

    fn field(name: &str, value: &str) -> String {
        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
    }

    #[test]
    fn boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=XyZ"),
            Ok("XyZ".into())
        );
        assert_eq!(
            boundary("multipart/form-data;BOUNDARY=\"a b:c\";charset=utf-8;"),
            Ok("a b:c".into())
        );
        for bad in [
            "multipart/form-data",
            "multipart/form-data; boundary=",
            "multipart/form-data; boundary=a; boundary=b",
            "multipart/form-data; boundary*=utf-8''a",
            "multipart/form-data; boundary=\"a\\b\"",
            "multipart/form-data; boundary=a b",
            "multipart/form-data; boundary=\"ends \"",
            "multipart/form-data; boundary=\"a\"x",
        ] {
            assert_eq!(
                boundary(bad),
                Err(RewriteError::InvalidMultipartBody),
                "{bad}"
            );
        }
    }

    #[test]
    fn ordinary_forms_pass() {
        assert_eq!(
            check(&body(&[&field("query", "up"), &field("time", "1")]), "XyZ"),
            Ok(())
        );
        let file = "Content-Disposition: form-data; name=\"data\"; filename=\"a.txt\"\r\n\
                    Content-Type: text/plain\r\n\r\nline\r\n--XY\r\n";
        assert_eq!(check(&body(&[file]), "XyZ"), Ok(()));
        assert_eq!(check(b"--XyZ--", "XyZ"), Ok(()));
        let no_headers = body(&["\r\nvalue"]);
        assert_eq!(check(&no_headers, "XyZ"), Ok(()));
    }

    #[test]
    fn enforcement_parts_are_refused_in_any_spelling() {
        for part in [
            field("extra_label", "team=b"),
            field("extra_filters", "{team=\"b\"}"),
            field("extra_filters[]", "{team=\"b\"}"),
            "content-disposition: form-data; name=extra_label\r\n\r\nx".to_string(),
            "CONTENT-DISPOSITION:form-data;NAME=\"extra_label\"\r\n\r\nx".to_string(),
            "Content-Disposition: attachment; name=\"extra_label\"\r\n\r\nx".to_string(),
        ] {
            assert_eq!(
                check(&body(&[&field("query", "up"), &part]), "XyZ"),
                Err(RewriteError::EnforcementInBody),
                "{part:?}"
            );
        }
    }

    #[test]
    fn anything_go_could_read_differently_is_refused() {
        let malformed: Vec<Vec<u8>> = vec![
            b"preamble\r\n--XyZ\r\n\r\nx\r\n--XyZ--".to_vec(),
            b"--XyZ\nContent-Disposition: form-data; name=\"extra_label\"\n\nx\n--XyZ--".to_vec(),
            body(&["Content-Disposition: form-data; name*=utf-8''extra%5Flabel\r\n\r\nx"]),
            body(&["Content-Disposition: form-data; name=\"extra\\_label\"\r\n\r\nx"]),
            body(&["Content-Disposition: form-data; name=\"a\"; name=\"extra_label\"\r\n\r\nx"]),
            body(&["Content-Disposition: form-data; name=\"a\"\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nx"]),
            body(&["Content-Disposition: form-data;\r\n name=\"extra_label\"\r\n\r\nx"]),
            body(&["Content-Disposition: form-data; name=\"a\"\nContent-Disposition: x\r\n\r\nx"]),
            body(&["Content-Disposition : form-data; name=\"a\"\r\n\r\nx"]),
            body(&["Content-Disposition: form-data; name=\"é\"\r\n\r\nx"]),
            body(&["no blank line"]),
            b"--XyZ\r\n\r\nx\r\n--XyZ \r\n\r\ny\r\n--XyZ--".to_vec(),
            b"--XyZ\r\n\r\nx\r\n--XyZ\n\r\ny\r\n--XyZ--".to_vec(),
            b"--XyZ\r\n\r\nx".to_vec(),
            b"--XyZ\r\n\r\nx\r\n--XyZtail".to_vec(),
            // Go reads this as content; refusing it is the safe side.
            b"--XyZ\r\n\r\nx\r\n--XyZx\r\n--XyZ--".to_vec(),
            b"".to_vec(),
        ];
        for body in malformed {
            assert_eq!(
                check(&body, "XyZ"),
                Err(RewriteError::InvalidMultipartBody),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}
