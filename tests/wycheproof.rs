//! Every Wycheproof vector in tests/data/wycheproof gives the expected
//! result with `tenantgate::crypto`.
//!
//! "acceptable" vectors: the only ones in these files are PKCS#1 v1.5
//! signatures whose DigestInfo leaves out the NULL parameters. The verifier
//! rebuilds the encoding RFC 8017 §9.2 writes (with NULL) and compares it
//! whole, so it refuses them; the tests hold it to that.
//!
//! A key the constructors refuse counts as "every signature invalid"; a
//! valid vector under such a key fails the test.

use std::path::PathBuf;

use serde_json::Value;
use tenantgate::crypto::{ed25519, p256, p384, rsa::RsaPublicKey, Hash};

fn load(file: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/data/wycheproof", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file}: {error}"))
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name]
        .as_str()
        .unwrap_or_else(|| panic!("missing {name}"))
}

fn hash_named(name: &str) -> Hash {
    match name {
        "SHA-256" => Hash::Sha256,
        "SHA-384" => Hash::Sha384,
        "SHA-512" => Hash::Sha512,
        other => panic!("unexpected hash {other}"),
    }
}

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    refused_keys: usize,
    failures: Vec<String>,
}

/// Runs every test of `file`. `verifier` builds a key from a group and
/// returns the verify function, or the key error.
fn run<K>(
    file: &str,
    build_key: impl Fn(&Value) -> Result<K, String>,
    verify: impl Fn(&K, &[u8], &[u8]) -> bool,
) {
    let root = load(file);
    let mut tally = Tally::default();
    let mut total = 0;
    for group in root["testGroups"].as_array().expect("testGroups") {
        let key = build_key(group);
        if key.is_err() {
            tally.refused_keys += 1;
        }
        for test in group["tests"].as_array().expect("tests") {
            total += 1;
            let id = &test["tcId"];
            let result = field(test, "result");
            let accepted = match &key {
                Ok(key) => verify(key, &hex(field(test, "msg")), &hex(field(test, "sig"))),
                Err(error) => {
                    if result == "valid" {
                        tally.failures.push(format!(
                            "tcId {id}: valid, but the key was refused: {error}"
                        ));
                    }
                    false
                }
            };
            let expected = match result {
                "valid" => {
                    tally.valid += 1;
                    true
                }
                "invalid" => {
                    tally.invalid += 1;
                    false
                }
                "acceptable" => {
                    tally.acceptable += 1;
                    let flags = test["flags"].to_string();
                    assert!(flags.contains("MissingNull"), "tcId {id}: flags {flags}");
                    false
                }
                other => panic!("tcId {id}: result {other:?}"),
            };
            if accepted != expected {
                tally.failures.push(format!(
                    "tcId {id} ({result}, {}): verify said {accepted}",
                    test["comment"]
                ));
            }
        }
    }
    println!(
        "{file}: {total} tests ({} valid, {} invalid, {} acceptable refused), {} key(s) refused",
        tally.valid, tally.invalid, tally.acceptable, tally.refused_keys
    );
    assert_eq!(
        Some(total as u64),
        root["numberOfTests"].as_u64(),
        "{file}: count"
    );
    assert!(
        tally.failures.is_empty(),
        "{file}: {} failure(s):\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}

fn rsa_key(group: &Value) -> Result<(RsaPublicKey, Hash), String> {
    let key = &group["publicKey"];
    RsaPublicKey::from_be_bytes(
        &hex(field(key, "modulus")),
        &hex(field(key, "publicExponent")),
    )
    .map(|key| (key, hash_named(field(group, "sha"))))
    .map_err(|error| error.to_string())
}

fn pkcs1(file: &str) {
    run(file, rsa_key, |(key, hash), message, signature| {
        key.verify_pkcs1v15(*hash, message, signature)
    });
}

fn pss(file: &str) {
    let pss_key = |group: &Value| {
        let (key, hash) = rsa_key(group)?;
        // The JWS parameters: MGF1 with the same hash, salt as long as it.
        assert_eq!(field(group, "mgf"), "MGF1");
        assert_eq!(field(group, "mgfSha"), field(group, "sha"));
        assert_eq!(group["sLen"].as_u64(), Some(hash.output_len() as u64));
        Ok((key, hash))
    };
    run(file, pss_key, |(key, hash), message, signature| {
        key.verify_pss(*hash, message, signature)
    });
}

#[test]
fn rsa_pkcs1_2048_sha256() {
    pkcs1("rsa_signature_2048_sha256_test.json");
}

#[test]
fn rsa_pkcs1_2048_sha384() {
    pkcs1("rsa_signature_2048_sha384_test.json");
}

#[test]
fn rsa_pkcs1_2048_sha512() {
    pkcs1("rsa_signature_2048_sha512_test.json");
}

#[test]
fn rsa_pkcs1_3072_sha256() {
    pkcs1("rsa_signature_3072_sha256_test.json");
}

#[test]
fn rsa_pkcs1_4096_sha256() {
    pkcs1("rsa_signature_4096_sha256_test.json");
}

#[test]
fn rsa_pss_2048_sha256_salt32() {
    pss("rsa_pss_2048_sha256_mgf1_32_test.json");
}

#[test]
fn rsa_pss_2048_sha384_salt48() {
    pss("rsa_pss_2048_sha384_mgf1_48_test.json");
}

#[test]
fn rsa_pss_4096_sha512_salt64() {
    pss("rsa_pss_4096_sha512_mgf1_64_test.json");
}

fn ec_point(group: &Value) -> Vec<u8> {
    assert_eq!(field(group, "type"), "EcdsaP1363Verify");
    hex(field(&group["publicKey"], "uncompressed"))
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    run(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        |group| {
            assert_eq!(field(group, "sha"), "SHA-256");
            p256::PublicKey::from_sec1(&ec_point(group)).map_err(|error| error.to_string())
        },
        |key, message, signature| key.verify(message, signature),
    );
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    run(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        |group| {
            assert_eq!(field(group, "sha"), "SHA-384");
            p384::PublicKey::from_sec1(&ec_point(group)).map_err(|error| error.to_string())
        },
        |key, message, signature| key.verify(message, signature),
    );
}

#[test]
fn ed25519() {
    run(
        "ed25519_test.json",
        |group| {
            ed25519::PublicKey::from_bytes(&hex(field(&group["publicKey"], "pk")))
                .map_err(|error| error.to_string())
        },
        |key, message, signature| key.verify(message, signature),
    );
}
