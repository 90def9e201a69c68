//! The grants of recently seen values of the mapped claim. Tokens of one
//! tenant carry the same claim value token after token (every refresh,
//! every replica of a client), and a grant is a function of that value and
//! the configuration alone (`tenancy::grant_of_claim`), so a new token
//! whose value was seen before shares the grant worked out then.
//!
//! Values are matched only when they are the same JSON value exactly, down
//! to the kind and bits of every number, which is finer than any reading a
//! mapping makes of them: a match can never hand out another value's grant.
//! A fingerprint of each value spares the exact comparison with values
//! that differ, so a value seen for the first time costs one walk over it.

use std::collections::VecDeque;
use std::hash::Hasher;
use std::rc::Rc;

use rustc_hash::FxHasher;
use serde_json::{Number, Value};

use super::{Granted, VerifiedToken};
use crate::config::Tenancy;
use crate::tenancy::{grant_of_claim, mapped_claim};
use crate::verify::token::Claims;

/// Tokens remembered, each for its claim value. Few: they are searched one
/// by one.
pub const GRANT_MEMO_SIZE: usize = 8;

pub struct GrantMemo {
    capacity: usize,
    /// The newest first.
    recent: VecDeque<Remembered>,
}

/// A token whose mapped claim had this fingerprint. The token, rather than
/// a copy of its claim value, is kept: it already holds the value.
struct Remembered {
    fingerprint: u64,
    token: Rc<VerifiedToken>,
}

impl GrantMemo {
    /// A memo of `capacity` claim values; 0 remembers none.
    pub fn new(capacity: usize) -> GrantMemo {
        GrantMemo {
            capacity,
            recent: VecDeque::with_capacity(capacity),
        }
    }

    /// The verified token of `claims`, sharing the grant of a remembered
    /// token whose mapped claim is the same value.
    pub fn verified_token(&mut self, tenancy: &Tenancy, claims: Claims) -> Rc<VerifiedToken> {
        let claim = mapped_claim(tenancy, &claims);
        let fingerprint = fingerprint(claim);
        let seen = self.recent.iter().find(|seen| {
            seen.fingerprint == fingerprint
                && same_claim(mapped_claim(tenancy, &seen.token.claims), claim)
        });
        if let Some(seen) = seen {
            let granted = seen.token.tenancy.clone();
            return Rc::new(VerifiedToken::new(claims, granted));
        }
        let granted = Rc::new(Granted::new(grant_of_claim(tenancy, claim)));
        let token = Rc::new(VerifiedToken::new(claims, granted));
        if self.capacity > 0 {
            if self.recent.len() >= self.capacity {
                self.recent.pop_back();
            }
            self.recent.push_front(Remembered {
                fingerprint,
                token: token.clone(),
            });
        }
        token
    }
}

/// A hash of the value's every kind, number bit and byte. Unkeyed: it only
/// tells values apart for the exact comparison, which has the last word.
fn fingerprint(claim: Option<&Value>) -> u64 {
    let mut hasher = FxHasher::default();
    match claim {
        None => hasher.write_u8(0),
        Some(value) => feed(&mut hasher, value),
    }
    hasher.finish()
}

fn feed(hasher: &mut FxHasher, value: &Value) {
    match value {
        Value::Null => hasher.write_u8(1),
        Value::Bool(flag) => hasher.write_u8(2 + u8::from(*flag)),
        Value::Number(number) => {
            hasher.write_u8(4);
            if let Some(bits) = number.as_u64() {
                hasher.write_u64(bits);
            } else if let Some(bits) = number.as_i64() {
                hasher.write_i64(bits);
            } else if let Some(float) = number.as_f64() {
                hasher.write_u64(float.to_bits());
            }
        }
        Value::String(text) => {
            hasher.write_u8(5);
            feed_text(hasher, text);
        }
        Value::Array(items) => {
            hasher.write_u8(6);
            hasher.write_usize(items.len());
            for item in items {
                feed(hasher, item);
            }
        }
        Value::Object(members) => {
            hasher.write_u8(7);
            hasher.write_usize(members.len());
            for (name, member) in members {
                feed_text(hasher, name);
                feed(hasher, member);
            }
        }
    }
}

fn feed_text(hasher: &mut FxHasher, text: &str) {
    hasher.write_usize(text.len());
    hasher.write(text.as_bytes());
}

fn same_claim(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => identical(a, b),
        _ => false,
    }
}

/// The same JSON value exactly. Stricter than `Value`'s `==`, which takes
/// `0.0` and `-0.0` for one number though they print differently.
fn identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => same_number(a, b),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| identical(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((name_a, a), (name_b, b))| name_a == name_b && identical(a, b))
        }
        _ => false,
    }
}

/// The same kind of number (unsigned, negative, floating) with the same bits.
fn same_number(a: &Number, b: &Number) -> bool {
    if a.is_u64() || b.is_u64() {
        a.as_u64().is_some() && a.as_u64() == b.as_u64()
    } else if a.is_i64() || b.is_i64() {
        a.as_i64().is_some() && a.as_i64() == b.as_i64()
    } else {
        match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn claims(payload: Value) -> Claims {
        match payload {
            Value::Object(object) => Claims::from(object),
            _ => unreachable!("claims are an object"),
        }
    }

    fn tenancy(extra: &str) -> Tenancy {
        let document = format!(
            r#"{{"providers": [{{"name": "p", "issuer": "https://idp.example",
                 "discovery": {{"cluster": "idp"}}}}],
                 "tenancy": {{"backend": "vm_cluster"{extra}}}}}"#
        );
        match Config::from_json(document.as_bytes()) {
            Ok(config) => config.tenancy,
            Err(error) => panic!("test configuration: {error}"),
        }
    }

    #[test]
    fn numbers_are_the_same_only_in_kind_and_bits() {
        let same = |a: Value, b: Value| identical(&a, &b);
        assert!(same(json!(1), json!(1)));
        assert!(same(json!(-1), json!(-1)));
        assert!(same(json!(1.5), json!(1.5)));
        assert!(!same(json!(1), json!(1.0)));
        assert!(!same(json!(0.0), json!(-0.0)));
        assert!(!same(json!(-1), json!(-1.0)));
        assert!(!same(json!(u64::MAX), json!(-1)));
        assert!(!same(json!(1), json!("1")));
        assert!(!same(json!(null), json!(false)));
    }

    #[test]
    fn containers_are_the_same_member_by_member() {
        let same = |a: Value, b: Value| identical(&a, &b);
        assert!(same(
            json!({"a": [1, {"b": null}]}),
            json!({"a": [1, {"b": null}]})
        ));
        assert!(!same(
            json!({"a": [1, {"b": null}]}),
            json!({"a": [1, {"b": 0}]})
        ));
        assert!(!same(json!({"a": 1}), json!({"a": 1, "b": 1})));
        assert!(!same(json!({"a": 1}), json!({"b": 1})));
        assert!(!same(json!([1, 2]), json!([2, 1])));
        assert!(!same(json!([1]), json!([1, 1])));
        assert!(!same(json!([]), json!({})));
    }

    fn granted(memo: &mut GrantMemo, tenancy: &Tenancy, payload: Value) -> Rc<Granted> {
        memo.verified_token(tenancy, claims(payload))
            .tenancy
            .clone()
    }

    #[test]
    fn a_claim_value_seen_before_shares_its_grant() {
        let tenancy = tenancy("");
        let mut memo = GrantMemo::new(2);
        let team = |account: u32, jti: &str| json!({"jti": jti, "vm_access": {"tenant_id": {"account_id": account}}});
        let first = granted(&mut memo, &tenancy, team(1, "a"));
        let again = granted(&mut memo, &tenancy, team(1, "b"));
        let other = granted(&mut memo, &tenancy, team(2, "c"));
        assert!(Rc::ptr_eq(&first, &again));
        assert!(!Rc::ptr_eq(&first, &other));
        assert_ne!(first.grant, other.grant);
        // A third value pushes the oldest out; it is worked out anew, alike.
        granted(&mut memo, &tenancy, team(3, "d"));
        let anew = granted(&mut memo, &tenancy, team(1, "e"));
        assert!(!Rc::ptr_eq(&first, &anew));
        assert_eq!(first.grant, anew.grant);
    }

    #[test]
    fn values_alike_in_all_but_number_kind_do_not_share() {
        let tenancy = tenancy("");
        let mut memo = GrantMemo::new(4);
        let whole = granted(&mut memo, &tenancy, json!({"vm_access": {"mode": 1}}));
        let float = granted(&mut memo, &tenancy, json!({"vm_access": {"mode": 1.0}}));
        assert!(!Rc::ptr_eq(&whole, &float));
        assert!(whole.grant.is_ok());
        assert!(float.grant.is_err());
    }

    #[test]
    fn a_missing_claim_and_the_default_are_told_apart_from_values() {
        let mut memo = GrantMemo::new(4);
        let plain = tenancy("");
        let missing = granted(&mut memo, &plain, json!({"sub": "x"}));
        assert_eq!(missing.grant, grant_of_claim(&plain, None));
        let null = granted(&mut memo, &plain, json!({"vm_access": null}));
        assert!(Rc::ptr_eq(&missing, &null));
        let present = granted(&mut memo, &plain, json!({"vm_access": {}}));
        assert!(!Rc::ptr_eq(&missing, &present));
        let with_default = tenancy(r#", "default": {"tenant_id": {"account_id": 4}}"#);
        let mut memo = GrantMemo::new(4);
        let defaulted = granted(&mut memo, &with_default, json!({"sub": "x"}));
        let written = granted(
            &mut memo,
            &with_default,
            json!({"vm_access": {"tenant_id": {"account_id": 4}}}),
        );
        assert!(defaulted.grant.is_ok());
        assert!(Rc::ptr_eq(&defaulted, &written));
    }

    #[test]
    fn size_zero_remembers_nothing() {
        let tenancy = tenancy("");
        let mut memo = GrantMemo::new(0);
        let token = json!({"vm_access": {"tenant_id": {"account_id": 1}}});
        let first = granted(&mut memo, &tenancy, token.clone());
        let second = granted(&mut memo, &tenancy, token);
        assert!(!Rc::ptr_eq(&first, &second));
        assert_eq!(first.grant, second.grant);
    }
}
