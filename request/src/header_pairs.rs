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
    Pairs::of(block)?.collect()
}

/// The pairs of a block one by one, each checked as it is read, so that a
/// reader needs no list of spans: the last item is an error when anything
/// in the block is out of place, the layout's end included.
pub struct Pairs<'a> {
    block: &'a [u8],
    count: usize,
    names_start: usize,
    index: usize,
    /// Where the next name starts.
    at: usize,
    failed: bool,
}

impl<'a> Pairs<'a> {
    /// The pairs of `block`; refused when its count does not fit in it.
    pub fn of(block: &'a [u8]) -> Result<Pairs<'a>, MalformedHeaderMap> {
        let (count, names_start) = if block.is_empty() {
            (0, 0)
        } else {
            let count = read_u32(block, 0)?;
            let names_start = count
                .checked_mul(8)
                .and_then(|bytes| bytes.checked_add(4))
                .filter(|&end| end <= block.len())
                .ok_or(MalformedHeaderMap)?;
            (count, names_start)
        };
        Ok(Pairs {
            block,
            count,
            names_start,
            index: 0,
            at: names_start,
            failed: false,
        })
    }

    /// How many pairs the block says it holds (at most one per 8 bytes).
    pub fn pair_count(&self) -> usize {
        self.count
    }

    /// Where the first name starts: the names and values follow the
    /// lengths.
    pub fn names_start(&self) -> usize {
        self.names_start
    }

    #[inline]
    fn next_pair(&mut self) -> Result<PairSpan, MalformedHeaderMap> {
        let lengths = 4 + 8 * self.index;
        let name = take(self.block, &mut self.at, read_u32(self.block, lengths)?)?;
        let value = take(self.block, &mut self.at, read_u32(self.block, lengths + 4)?)?;
        Ok(PairSpan { name, value })
    }
}

impl Iterator for Pairs<'_> {
    type Item = Result<PairSpan, MalformedHeaderMap>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = if self.index < self.count {
            let pair = self.next_pair();
            self.index += 1;
            pair
        } else if self.at != self.block.len() {
            Err(MalformedHeaderMap)
        } else {
            return None;
        };
        self.failed = item.is_err();
        Some(item)
    }
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

    /// A reader sees the good pairs, then one error for what follows
    /// them out of place, then nothing.
    #[test]
    fn pairs_end_in_one_error_when_the_block_does_not_end_where_they_do() {
        let mut block = write_block(&[(b"a", b"bc"), (b"d", b"")]);
        block.push(b'x');
        let mut pairs = Pairs::of(&block).unwrap();
        assert_eq!(pairs.pair_count(), 2);
        assert_eq!(&block[pairs.names_start()..pairs.names_start() + 1], b"a");
        assert!(pairs.next().is_some_and(|pair| pair.is_ok()));
        assert!(pairs.next().is_some_and(|pair| pair.is_ok()));
        assert_eq!(pairs.next(), Some(Err(MalformedHeaderMap)));
        assert_eq!(pairs.next(), None);
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
