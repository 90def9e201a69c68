//! A request's head read in place from the header map as a proxy-wasm host
//! writes it.

use proptest::prelude::*;

use tenantgate::header_pairs::{write_block, MalformedHeaderMap};
use tenantgate::pipeline::RequestHead;

/// What a head holds, owned, to compare.
type Read = (String, String, Vec<(String, String)>, Vec<String>);

fn read(head: &RequestHead<'_>) -> Read {
    (
        head.method.to_string(),
        head.target.to_string(),
        head.headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        head.undecodable
            .iter()
            .map(|name| name.to_string())
            .collect(),
    )
}

/// The head as read with every name and value decoded on its own.
fn head_by_parts(pairs: &[(Vec<u8>, Vec<u8>)]) -> Read {
    let (mut method, mut target, mut headers, mut undecodable) =
        (String::new(), String::new(), Vec::new(), Vec::new());
    for (name, value) in pairs {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        match (name, std::str::from_utf8(value)) {
            (":method", Ok(value)) => method = value.to_string(),
            (":path", Ok(value)) => target = value.to_string(),
            (":method" | ":path", Err(_)) => undecodable.push(name.to_string()),
            (pseudo, _) if pseudo.starts_with(':') => {}
            (_, Ok(value)) => headers.push((name.to_string(), value.to_string())),
            (_, Err(_)) => undecodable.push(name.to_string()),
        }
    }
    (method, target, headers, undecodable)
}

#[test]
fn a_request_head_reads_the_block_in_place() {
    let request = write_block(&[
        (b":method", b"GET"),
        (b":path", b"/api/v1/query"),
        (b":authority", b"gateway"),
        (b"authorization", b"Bearer a.b.c"),
        (b"x-bytes", b"\xff"),
        (b"\xff", b"dropped"),
    ]);
    let head = RequestHead::from_header_block(&request).unwrap();
    assert_eq!((head.method, head.target), ("GET", "/api/v1/query"));
    assert_eq!(head.headers, [("authorization", "Bearer a.b.c")]);
    assert_eq!(head.undecodable, ["x-bytes"]);
    let bad_path = write_block(&[(b":path", b"/\xff")]);
    let head = RequestHead::from_header_block(&bad_path).unwrap();
    assert_eq!((head.target, head.undecodable), ("", vec![":path"]));
}

#[test]
fn multibyte_characters_are_read_whole() {
    let request = write_block(&[
        (b":path", "/api/v1/query?query=\u{e9}t\u{e9}".as_bytes()),
        ("x-na\u{ef}ve".as_bytes(), "\u{1f600}".as_bytes()),
        (b"authorization", b"Bearer a.b.c"),
    ]);
    let head = RequestHead::from_header_block(&request).unwrap();
    assert_eq!(head.target, "/api/v1/query?query=\u{e9}t\u{e9}");
    assert_eq!(
        head.headers,
        [
            ("x-na\u{ef}ve", "\u{1f600}"),
            ("authorization", "Bearer a.b.c")
        ]
    );
    assert!(head.undecodable.is_empty());
}

#[test]
fn a_malformed_block_gives_no_head() {
    let mut block = write_block(&[(b"authorization", b"Bearer a.b.c")]);
    block.pop();
    assert_eq!(
        RequestHead::from_header_block(&block).map(|head| read(&head)),
        Err(MalformedHeaderMap)
    );
    let empty = RequestHead::from_header_block(&[]).unwrap();
    assert_eq!(read(&empty), Read::default());
}

/// A header name: the pseudo-headers the head reads, other bytes, or text.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b":path".to_vec()),
        Just(b":method".to_vec()),
        Just(b":authority".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..6),
        "[a-z\u{e9}\u{1f600}-]{0,6}".prop_map(String::into_bytes),
    ]
}

/// A header value: mostly text (NUL and multi-byte characters among it),
/// sometimes any bytes, sometimes as long as a token.
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => "[ -~\u{e9}\u{20ac}\u{1f600}\u{0}]{0,8}".prop_map(String::into_bytes),
        1 => "[A-Za-z0-9._\u{e9}-]{120,300}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..8),
    ]
}

proptest! {
    /// Whether all of a block is checked as UTF-8 at once or, when some of
    /// its bytes are not UTF-8, part by part, the head is what decoding
    /// each name and value on its own gives.
    #[test]
    fn a_head_decodes_each_part_as_on_its_own(
        pairs in proptest::collection::vec((name(), value()), 0..6)
    ) {
        let parts: Vec<(&[u8], &[u8])> =
            pairs.iter().map(|(name, value)| (&name[..], &value[..])).collect();
        let block = write_block(&parts);
        let head = RequestHead::from_header_block(&block).unwrap();
        prop_assert_eq!(read(&head), head_by_parts(&pairs));
    }
}
