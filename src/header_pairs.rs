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

/// The block a host writes for `pairs` (the tests and the bench build
/// requests with it).
pub fn write_block(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let length = |len: usize| u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes();
    let mut out = Vec::new();
    out.extend(length(pairs.len()));
    for (name, value) in pairs {
        out.extend(length(name.len()));
        out.extend(length(value.len()));
    }
    for (name, value) in pairs {
        out.extend(*name);
        out.push(0);
        out.extend(*value);
        out.push(0);
    }
    out
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
        assert_eq!(read(&write_block(&pairs)), pairs);
        assert_eq!(read(&write_block(&[])), Vec::<(&[u8], &[u8])>::new());
        assert_eq!(pair_spans(&[]), Ok(Vec::new()));
    }

    #[test]
    fn refuses_every_damaged_block() {
        let good = write_block(&[(b"a", b"bc"), (b"d", b"")]);
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
