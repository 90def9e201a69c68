//! The header map as a proxy-wasm host hands it over: one block holding
//! the number of pairs, each pair's name and value lengths, then every name
//! and value followed by a NUL byte, all integers 32-bit little-endian.
//! Reading it in place costs one allocation per request instead of two per
//! header.

use std::ops::Range;

/// Where one header's name and value are in the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSpan {
    pub name: Range<usize>,
    pub value: Range<usize>,
}

/// The block does not have the layout above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedHeaderMap;

/// The spans of every pair in `block`, in the host's order. An empty block
/// is an empty map.
pub fn pair_spans(block: &[u8]) -> Result<Vec<PairSpan>, MalformedHeaderMap> {
    if block.is_empty() {
        return Ok(Vec::new());
    }
    let count = read_u32(block, 0)?;
    let lengths_end = count
        .checked_mul(8)
        .and_then(|bytes| bytes.checked_add(4))
        .filter(|&end| end <= block.len())
        .ok_or(MalformedHeaderMap)?;
    let mut spans = Vec::with_capacity(count);
    let mut at = lengths_end;
    for index in 0..count {
        let name = take(block, &mut at, read_u32(block, 4 + 8 * index)?)?;
        let value = take(block, &mut at, read_u32(block, 8 + 8 * index)?)?;
        spans.push(PairSpan { name, value });
    }
    if at != block.len() {
        return Err(MalformedHeaderMap);
    }
    Ok(spans)
}

fn read_u32(block: &[u8], at: usize) -> Result<usize, MalformedHeaderMap> {
    let bytes = block.get(at..at + 4).ok_or(MalformedHeaderMap)?;
    let value = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    usize::try_from(value).map_err(|_| MalformedHeaderMap)
}

/// The next `len` bytes from `at`, which must be followed by a NUL.
fn take(block: &[u8], at: &mut usize, len: usize) -> Result<Range<usize>, MalformedHeaderMap> {
    let end = at.checked_add(len).ok_or(MalformedHeaderMap)?;
    if block.get(end) != Some(&0) {
        return Err(MalformedHeaderMap);
    }
    let span = *at..end;
    *at = end + 1;
    Ok(span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    /// The layout written out, as a host writes it.
    fn block(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (name, value) in pairs {
            out.extend((name.len() as u32).to_le_bytes());
            out.extend((value.len() as u32).to_le_bytes());
        }
        for (name, value) in pairs {
            out.extend(*name);
            out.push(0);
            out.extend(*value);
            out.push(0);
        }
        out
    }

    fn read(block: &[u8]) -> Vec<(&[u8], &[u8])> {
        pair_spans(block)
            .unwrap()
            .into_iter()
            .map(|span| (&block[span.name], &block[span.value]))
            .collect()
    }

    #[test]
    fn reads_every_pair_in_order() {
        let pairs: [(&[u8], &[u8]); 4] = [
            (b":path", b"/api/v1/query?query=up"),
            (b"authorization", b"Bearer a.b.c"),
            (b"x-empty", b""),
            (b"x-bytes", b"\xff\xfe"),
        ];
        assert_eq!(read(&block(&pairs)), pairs);
        assert_eq!(read(&block(&[])), Vec::<(&[u8], &[u8])>::new());
        assert_eq!(pair_spans(&[]), Ok(Vec::new()));
    }

    #[test]
    fn a_request_head_reads_the_block_in_place() {
        let request = block(&[
            (b":method", b"GET"),
            (b":path", b"/api/v1/query"),
            (b":authority", b"gateway"),
            (b"authorization", b"Bearer a.b.c"),
            (b"x-bytes", b"\xff"),
            (b"\xff", b"dropped"),
        ]);
        let spans = pair_spans(&request).unwrap();
        let head = crate::pipeline::RequestHead::from_header_block(&request, &spans);
        assert_eq!((head.method, head.target), ("GET", "/api/v1/query"));
        assert_eq!(head.headers, [("authorization", "Bearer a.b.c")]);
        assert_eq!(head.undecodable, ["x-bytes"]);
        let bad_path = block(&[(b":path", b"/\xff")]);
        let spans = pair_spans(&bad_path).unwrap();
        let head = crate::pipeline::RequestHead::from_header_block(&bad_path, &spans);
        assert_eq!((head.target, head.undecodable), ("", vec![":path"]));
    }

    /// The head as read with every name and value decoded on its own.
    fn head_by_parts(
        pairs: &[(Vec<u8>, Vec<u8>)],
    ) -> (String, String, Vec<(String, String)>, Vec<String>) {
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
    fn a_head_of_text_with_multibyte_characters_reads_whole_characters() {
        let request = block(&[
            (b":path", "/api/v1/query?query=\u{e9}t\u{e9}".as_bytes()),
            ("x-na\u{ef}ve".as_bytes(), "\u{1f600}".as_bytes()),
            (b"authorization", b"Bearer a.b.c"),
        ]);
        let spans = pair_spans(&request).unwrap();
        let head = crate::pipeline::RequestHead::from_header_block(&request, &spans);
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

    proptest::proptest! {
        /// Whether the whole block is checked at once or, when some bytes
        /// are not UTF-8, part by part, the head is what decoding each name
        /// and value on its own gives.
        #[test]
        fn a_head_decodes_each_part_as_on_its_own(
            pairs in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just(b":path".to_vec()),
                        proptest::strategy::Just(b":method".to_vec()),
                        proptest::strategy::Just(b":authority".to_vec()),
                        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6),
                        "[a-z\u{e9}\u{1f600}-]{0,6}".prop_map(String::into_bytes),
                    ],
                    proptest::prop_oneof![
                        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
                        "[ -~\u{e9}\u{20ac}\u{1f600}\u{0}]{0,8}".prop_map(String::into_bytes),
                    ],
                ),
                0..6,
            )
        ) {
            let refs: Vec<(&[u8], &[u8])> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
            let request = block(&refs);
            let spans = pair_spans(&request).unwrap();
            let head = crate::pipeline::RequestHead::from_header_block(&request, &spans);
            let read = (
                head.method.to_string(),
                head.target.to_string(),
                head.headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>(),
                head.undecodable.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            );
            proptest::prop_assert_eq!(read, head_by_parts(&pairs));
        }
    }

    #[test]
    fn refuses_every_damaged_block() {
        let good = block(&[(b"a", b"bc"), (b"d", b"")]);
        for cut in 1..good.len() {
            assert_eq!(
                pair_spans(&good[..cut]),
                Err(MalformedHeaderMap),
                "cut {cut}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(pair_spans(&longer), Err(MalformedHeaderMap));
        let mut unterminated = good.clone();
        let last = unterminated.len() - 1;
        unterminated[last] = b'x';
        assert_eq!(pair_spans(&unterminated), Err(MalformedHeaderMap));
        let mut huge_count = good.clone();
        huge_count[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(pair_spans(&huge_count), Err(MalformedHeaderMap));
        let mut huge_length = good;
        huge_length[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(pair_spans(&huge_length), Err(MalformedHeaderMap));
    }
}
