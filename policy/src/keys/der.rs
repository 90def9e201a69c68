//! Just enough DER (X.690) to read the key structures PEM files carry.
//!
//! Written here rather than taken from the `der`/`spki`/`pkcs8` crates:
//! reading six fixed structures needs a few lines, and those crates cost
//! about 55 KB of the filter's 600 KiB size budget.

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const BIT_STRING: u8 = 0x03;
pub const OCTET_STRING: u8 = 0x04;
pub const OBJECT_IDENTIFIER: u8 = 0x06;
/// `[0]` and `[1]`, constructed, context-specific (explicitly tagged fields).
pub const CONTEXT_0: u8 = 0xa0;
pub const CONTEXT_1: u8 = 0xa1;

/// The DER is not what the structure needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DerError;

/// A cursor over a run of DER elements.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The contents of the next element, which must have `tag`.
    pub fn read(&mut self, tag: u8) -> Result<&'a [u8], DerError> {
        let (&found, after_tag) = self.rest.split_first().ok_or(DerError)?;
        if found != tag {
            return Err(DerError);
        }
        let (length, after_length) = read_length(after_tag)?;
        if after_length.len() < length {
            return Err(DerError);
        }
        let (contents, rest) = after_length.split_at(length);
        self.rest = rest;
        Ok(contents)
    }

    /// A SEQUENCE's elements.
    pub fn sequence(&mut self) -> Result<Reader<'a>, DerError> {
        self.read(SEQUENCE).map(Reader::new)
    }

    /// A non-negative INTEGER as big-endian bytes without the sign byte.
    pub fn unsigned_integer(&mut self) -> Result<&'a [u8], DerError> {
        match self.read(INTEGER)? {
            [] => Err(DerError),
            [first, ..] if first & 0x80 != 0 => Err(DerError),
            [0, rest @ ..] if !rest.is_empty() => Ok(rest),
            bytes => Ok(bytes),
        }
    }

    /// A BIT STRING of whole bytes.
    pub fn bit_string(&mut self) -> Result<&'a [u8], DerError> {
        match self.read(BIT_STRING)? {
            [0, bytes @ ..] => Ok(bytes),
            _ => Err(DerError),
        }
    }

    /// An explicitly tagged optional field: its inner reader when present.
    pub fn optional(&mut self, tag: u8) -> Result<Option<Reader<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.read(tag).map(|inner| Some(Reader::new(inner)))
        } else {
            Ok(None)
        }
    }

    /// Everything left must be consumed: trailing bytes mean a different
    /// structure than the one read.
    pub fn finish(self) -> Result<(), DerError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DerError)
        }
    }
}

/// Definite lengths in their shortest form, at most 64 KiB.
fn read_length(bytes: &[u8]) -> Result<(usize, &[u8]), DerError> {
    match bytes {
        [short, rest @ ..] if *short < 0x80 => Ok((usize::from(*short), rest)),
        [0x81, length, rest @ ..] if *length >= 0x80 => Ok((usize::from(*length), rest)),
        [0x82, high, low, rest @ ..] if *high != 0 => {
            Ok((usize::from(*high) << 8 | usize::from(*low), rest))
        }
        _ => Err(DerError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_elements_and_refuses_what_is_not_der() {
        // SEQUENCE { INTEGER 0x00ff, BIT STRING 0x00 01 02 }
        let der = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0xff, 0x03, 0x03, 0x00, 0x01, 0x02,
        ];
        let mut outer = Reader::new(&der);
        let mut inner = outer.sequence().unwrap();
        assert_eq!(inner.unsigned_integer().unwrap(), [0xff]);
        assert_eq!(inner.bit_string().unwrap(), [0x01, 0x02]);
        inner.finish().unwrap();
        outer.finish().unwrap();

        assert!(
            Reader::new(&[0x02, 0x01, 0x80]).unsigned_integer().is_err(),
            "negative"
        );
        assert!(
            Reader::new(&[0x30, 0x05, 0x02]).sequence().is_err(),
            "truncated"
        );
        assert!(
            Reader::new(&[0x30, 0x81, 0x05]).sequence().is_err(),
            "long form for 5"
        );
        assert!(
            Reader::new(&[0x30, 0x80]).sequence().is_err(),
            "indefinite length"
        );
        assert!(
            Reader::new(&[0x03, 0x02, 0x01, 0xff]).bit_string().is_err(),
            "unused bits"
        );
        assert!(Reader::new(&[0x04, 0x00]).sequence().is_err(), "wrong tag");
    }
}
