//! Times signature verification, one line per algorithm and implementation.
//!
//! Native: `cargo run --release --example sigbench [iterations] [ours|baseline]`.
//! V8: `cargo build --release --target wasm32-wasip1 --example sigbench`, then
//! `node --no-warnings tools/wasi-run.mjs
//! target/wasm32-wasip1/release/examples/sigbench.wasm 1000`.
//! A third argument keeps only the lines whose label contains it
//! (`... 1000 ours ES256`).
//! The keys and signatures are the first valid Wycheproof vector of each
//! kind, so the inputs are real and the same for every implementation.

use std::hint::black_box;

use serde_json::Value;

const RS256: &str = include_str!("../tests/data/wycheproof/rsa_signature_2048_sha256_test.json");
const PS256: &str = include_str!("../tests/data/wycheproof/rsa_pss_2048_sha256_mgf1_32_test.json");
const ES256: &str = include_str!("../tests/data/wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
const ES384: &str = include_str!("../tests/data/wycheproof/ecdsa_secp384r1_sha384_p1363_test.json");
const EDDSA: &str = include_str!("../tests/data/wycheproof/ed25519_test.json");

struct Vector {
    group: Value,
    message: Vec<u8>,
    signature: Vec<u8>,
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn first_valid(file: &str) -> Vector {
    let root: Value = serde_json::from_str(file).expect("json");
    for group in root["testGroups"].as_array().expect("groups") {
        for test in group["tests"].as_array().expect("tests") {
            if test["result"] == "valid" && !test["msg"].as_str().unwrap_or("").is_empty() {
                return Vector {
                    group: group.clone(),
                    message: hex(test["msg"].as_str().expect("msg")),
                    signature: hex(test["sig"].as_str().expect("sig")),
                };
            }
        }
    }
    panic!("no valid vector")
}

/// Rounds per measurement; the best round is reported, because the machine
/// is shared and a slow round says more about the neighbours than the code.
const ROUNDS: u32 = 25;

/// CPU time of this process in nanoseconds: unlike wall-clock time it does
/// not count the time other processes hold the CPU.
#[cfg(target_os = "wasi")]
fn cpu_nanos() -> u64 {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn clock_time_get(id: u32, precision: u64, time: *mut u64) -> u16;
    }
    const PROCESS_CPUTIME: u32 = 2;
    let mut time = 0u64;
    // SAFETY: WASI writes one u64 through the pointer, which is valid.
    let errno = unsafe { clock_time_get(PROCESS_CPUTIME, 1, &mut time) };
    assert_eq!(errno, 0, "clock_time_get");
    time
}

#[cfg(not(target_os = "wasi"))]
fn cpu_nanos() -> u64 {
    #[repr(C)]
    struct Timespec {
        seconds: i64,
        nanos: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, time: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut time = Timespec {
        seconds: 0,
        nanos: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the valid pointer.
    let status = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "clock_gettime");
    time.seconds as u64 * 1_000_000_000 + time.nanos as u64
}

fn time(label: &str, iterations: u32, mut verify: impl FnMut() -> bool) {
    // An optional third argument keeps only the lines whose label contains
    // it, e.g. to profile one algorithm with `node --cpu-prof`.
    if std::env::args()
        .nth(3)
        .is_some_and(|filter| !label.contains(&filter))
    {
        return;
    }
    assert!(verify(), "{label}: the vector does not verify");
    let per_round = iterations.div_ceil(ROUNDS).max(1);
    let best = (0..ROUNDS)
        .map(|_| {
            let start = cpu_nanos();
            for _ in 0..per_round {
                black_box(verify());
            }
            (cpu_nanos() - start) as f64 / 1e3 / f64::from(per_round)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{label:<28} {best:>9.1} µs");
}

fn rsa_key(vector: &Vector) -> (Vec<u8>, Vec<u8>) {
    let key = &vector.group["publicKey"];
    (
        hex(key["modulus"].as_str().expect("n")),
        hex(key["publicExponent"].as_str().expect("e")),
    )
}

fn ec_point(vector: &Vector) -> Vec<u8> {
    hex(vector.group["publicKey"]["uncompressed"]
        .as_str()
        .expect("point"))
}

fn baseline(iterations: u32) {
    use rsa::{BigUint, Pkcs1v15Sign, Pss};
    use sha2::{Digest, Sha256, Sha384};
    use signature::Verifier;

    let v = first_valid(RS256);
    let (n, e) = rsa_key(&v);
    let key = rsa::RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
        .expect("rsa key");
    time("RS256-2048 rsa 0.9", iterations, || {
        key.verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(&v.message),
            &v.signature,
        )
        .is_ok()
    });

    let v = first_valid(PS256);
    let (n, e) = rsa_key(&v);
    let key = rsa::RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
        .expect("rsa key");
    time("PS256-2048 rsa 0.9", iterations, || {
        key.verify(
            Pss::new::<Sha256>(),
            &Sha256::digest(&v.message),
            &v.signature,
        )
        .is_ok()
    });

    let v = first_valid(ES256);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&ec_point(&v)).expect("p256 key");
    let signature = p256::ecdsa::Signature::from_slice(&v.signature).expect("sig");
    time("ES256 p256 0.13", iterations, || {
        key.verify(&v.message, &signature).is_ok()
    });

    let v = first_valid(ES384);
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&ec_point(&v)).expect("p384 key");
    let signature = p384::ecdsa::Signature::from_slice(&v.signature).expect("sig");
    time("ES384 p384 0.13", iterations, || {
        key.verify(&v.message, &signature).is_ok()
    });
    let _ = Sha384::digest(b"");
}

fn eddsa(iterations: u32) {
    let v = first_valid(EDDSA);
    let bytes: [u8; 32] = hex(v.group["publicKey"]["pk"].as_str().expect("pk"))
        .try_into()
        .expect("32 bytes");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).expect("ed25519 key");
    let signature = ed25519_dalek::Signature::from_slice(&v.signature).expect("sig");
    time("EdDSA ed25519-dalek 2", iterations, || {
        key.verify_strict(&v.message, &signature).is_ok()
    });
}

fn ours(iterations: u32) {
    use tenantgate::crypto::{ed25519, p256, p384, rsa::RsaPublicKey, Hash};

    let v = first_valid(RS256);
    let (n, e) = rsa_key(&v);
    let key = RsaPublicKey::from_be_bytes(&n, &e).expect("rsa key");
    time("RS256-2048 crypto", iterations, || {
        key.verify_pkcs1v15(Hash::Sha256, &v.message, &v.signature)
    });

    let v = first_valid(PS256);
    let (n, e) = rsa_key(&v);
    let key = RsaPublicKey::from_be_bytes(&n, &e).expect("rsa key");
    time("PS256-2048 crypto", iterations, || {
        key.verify_pss(Hash::Sha256, &v.message, &v.signature)
    });

    let v = first_valid(ES256);
    let point = ec_point(&v);
    let key = p256::PublicKey::from_sec1(&point).expect("p256 key");
    time("ES256 crypto", iterations, || {
        key.verify(&v.message, &v.signature)
    });
    time("ES256 key set-up", iterations / 20, || {
        p256::PublicKey::from_sec1(&point).is_ok()
    });

    let v = first_valid(ES384);
    let point = ec_point(&v);
    let key = p384::PublicKey::from_sec1(&point).expect("p384 key");
    time("ES384 crypto", iterations, || {
        key.verify(&v.message, &v.signature)
    });
    time("ES384 key set-up", iterations / 20, || {
        p384::PublicKey::from_sec1(&point).is_ok()
    });

    let v = first_valid(EDDSA);
    let key =
        ed25519::PublicKey::from_bytes(&hex(v.group["publicKey"]["pk"].as_str().expect("pk")))
            .expect("ed25519 key");
    time("EdDSA crypto", iterations, || {
        key.verify(&v.message, &v.signature)
    });
}

fn main() {
    let iterations = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(200);
    println!("{iterations} verifications each");
    let which = std::env::args().nth(2).unwrap_or_default();
    if which != "ours" {
        baseline(iterations);
        eddsa(iterations);
    }
    if which != "baseline" {
        ours(iterations);
    }
}
