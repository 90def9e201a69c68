//! Request bodies the backend reads arguments from. VictoriaMetrics reads
//! `extra_label`/`extra_filters` from a POST/PUT/PATCH form body
//! (`application/x-www-form-urlencoded` or `multipart/form-data`) as well as
//! from the URL, merging the two up to v1.142, so a body that carries one is
//! refused; everything else passes unchanged. Other multipart types, which
//! no metrics client sends, are refused.

use super::query::is_enforcement_key;
use super::{multipart, RewriteError};

/// What must happen to the request body before the request may go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyCheck {
    /// The backend does not read arguments from this body.
    None,
    /// An `application/x-www-form-urlencoded` body, checked once complete.
    Form,
    /// A `multipart/form-data` body, checked once complete.
    Multipart { boundary: String },
}

/// Decides from the `Content-Type` header values (the media type is matched
/// the way Go's `mime.ParseMediaType` does: case-insensitive).
#[inline]
pub fn body_check(content_types: &[&str]) -> Result<BodyCheck, RewriteError> {
    let content_type = match content_types {
        [] => return Ok(BodyCheck::None),
        [one] => *one,
        _ => return Err(RewriteError::AmbiguousContentType),
    };
    // Go lower-cases with Unicode rules (`İ` becomes `i`), so anything but
    // printable ASCII could name a form to the backend and not to us.
    if !content_type
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(RewriteError::InvalidContentType);
    }
    let media_type = crate::encoding::media_type(content_type);
    match media_type.as_str() {
        "application/x-www-form-urlencoded" => Ok(BodyCheck::Form),
        "multipart/form-data" => Ok(BodyCheck::Multipart {
            boundary: multipart::boundary(content_type)?,
        }),
        other if other.starts_with("multipart/") => Err(RewriteError::MultipartBody),
        _ => Ok(BodyCheck::None),
    }
}

/// Decides about a complete body held back by `check`.
pub fn check_body(check: &BodyCheck, body: &[u8]) -> Result<(), RewriteError> {
    match check {
        BodyCheck::None => Ok(()),
        BodyCheck::Form => check_form_body(body),
        BodyCheck::Multipart { boundary } => multipart::check(body, boundary),
    }
}

/// Refuses a form body that carries an enforcement argument (in any
/// spelling) or a raw `;`.
fn check_form_body(body: &[u8]) -> Result<(), RewriteError> {
    if body.contains(&b';') {
        return Err(RewriteError::InvalidFormBody);
    }
    if form_urlencoded::parse(body).any(|(key, _)| is_enforcement_key(&key)) {
        return Err(RewriteError::EnforcementInBody);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_decides_the_check() {
        assert_eq!(body_check(&[]), Ok(BodyCheck::None));
        assert_eq!(body_check(&["application/x-protobuf"]), Ok(BodyCheck::None));
        assert_eq!(
            body_check(&["Application/X-WWW-Form-Urlencoded; charset=utf-8"]),
            Ok(BodyCheck::Form)
        );
        assert_eq!(
            body_check(&["multipart/form-data; boundary=x"]),
            Ok(BodyCheck::Multipart {
                boundary: "x".into()
            })
        );
        assert_eq!(
            body_check(&["Multipart/Form-Data"]),
            Err(RewriteError::InvalidMultipartBody)
        );
        for other in [
            "multipart/mixed; boundary=x",
            "multipart/related; boundary=x",
        ] {
            assert_eq!(body_check(&[other]), Err(RewriteError::MultipartBody));
        }
        assert_eq!(
            body_check(&["text/plain", "text/plain"]),
            Err(RewriteError::AmbiguousContentType)
        );
        for disguised in [
            "appl\u{130}cation/x-www-form-urlencoded",
            "mult\u{130}part/form-data; boundary=x",
            "text/plain\n",
        ] {
            assert_eq!(
                body_check(&[disguised]),
                Err(RewriteError::InvalidContentType),
                "{disguised:?}"
            );
        }
    }

    #[test]
    fn form_body_with_enforcement_is_refused() {
        assert_eq!(check_form_body(b"query=up&start=1"), Ok(()));
        for body in [
            &b"query=up&extra_label=team=b"[..],
            b"extra_filters=%7Bteam%3D%22b%22%7D",
            b"extra_filters%5B%5D=x",
            b"extra%5flabel=x",
            b"query=up;extra_label=x",
        ] {
            assert!(
                check_form_body(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
