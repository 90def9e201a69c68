//! A scratch filter around tenantgate's host signature backend.
//!
//! At configure time it runs `host_signature::probe()`, checks a few answers
//! of Envoy's `verify_signature` that the backend relies on (no RSA-PSS, raw
//! r‖s and a truncated key not accepted), times the host call for RS256
//! and ES256, and logs one `tenantgate-probe {...}` JSON line. Per request it
//! verifies one probe vector (header `x-verify: RS256|ES256`) and answers
//! 500 itself when that fails, so a bench can measure a host verification
//! per request. A request with `x-time-host-calls: 1` times the host calls
//! tenantgate's warm path makes and logs `tenantgate-probe-calls {...}`.

#![allow(dead_code)] // the included sources carry more than this filter uses

#[path = "../../../policy/src/verify/algorithm.rs"]
pub mod algorithm;
#[path = "../../../policy/src/encoding.rs"]
mod encoding;
#[path = "../../../src/host/header_map.rs"]
mod header_map;
#[path = "../../../policy/src/verify/host_format.rs"]
pub mod host_format;
#[path = "../../../src/host/host_signature.rs"]
mod host_signature;

/// The paths the included files use for each other.
mod verify {
    pub use super::algorithm::Algorithm;
    pub use super::host_format;
}
use algorithm::Algorithm;

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, MapType};

use host_format::PROBE_VECTORS;
use host_signature::HostSignatureError;

const TIMED_CALLS: u32 = 2000;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(ProbeRoot { vectors: Rc::new(Vec::new()) })
    });
}}

/// A probe vector ready to send: key DER and genuine signature decoded.
struct Ready {
    alg: Algorithm,
    key_der: Vec<u8>,
    message: &'static [u8],
    signature: Vec<u8>,
}

fn ready_vectors() -> Vec<Ready> {
    PROBE_VECTORS
        .iter()
        .filter_map(|vector| {
            Some(Ready {
                alg: vector.alg,
                key_der: vector.key_der().ok()?,
                message: vector.message,
                signature: vector.genuine_signature().ok()?,
            })
        })
        .collect()
}

struct ProbeRoot {
    vectors: Rc<Vec<Ready>>,
}

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        self.vectors = Rc::new(ready_vectors());
        let report = format!(
            "tenantgate-probe {{\"probe\":{},{},{},\"host_rs256_us\":{:.2},\"host_es256_us\":{:.2}}}",
            host_signature::probe(),
            pss_facts(),
            format_facts(&self.vectors),
            time_calls(&self.vectors, Algorithm::Rs256),
            time_calls(&self.vectors, Algorithm::Es256),
        );
        let _ = hostcalls::log(LogLevel::Warn, &report);
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeStream {
            vectors: self.vectors.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct ProbeStream {
    vectors: Rc<Vec<Ready>>,
}

impl Context for ProbeStream {}

impl HttpContext for ProbeStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.get_http_request_header("x-time-host-calls").is_some() {
            let _ = hostcalls::log(LogLevel::Warn, &time_host_calls());
        }
        let wanted = self
            .get_http_request_header("x-verify")
            .and_then(|name| Algorithm::from_name(&name));
        let verified = wanted
            .and_then(|alg| self.vectors.iter().find(|v| v.alg == alg))
            .map(|v| host_signature::verify(v.alg, &v.key_der, v.message, &v.signature));
        match verified {
            // A request that asked for a verification that did not hold
            // never reaches the route, so a 200 means "verified".
            None => Action::Continue,
            Some(Ok(true)) => {
                self.set_http_request_header("x-verified", Some("true"));
                Action::Continue
            }
            Some(_) => {
                self.send_http_response(500, vec![], Some(b"host verification failed"));
                Action::Pause
            }
        }
    }
}

fn now_ns() -> u128 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_nanos())
}

/// Microseconds per host verification of the genuine vector for `alg`;
/// negative when any call did not answer "valid".
fn time_calls(vectors: &[Ready], alg: Algorithm) -> f64 {
    let Some(vector) = vectors.iter().find(|v| v.alg == alg) else {
        return -1.0;
    };
    let started = now_ns();
    let mut all_valid = true;
    for _ in 0..TIMED_CALLS {
        let answer =
            host_signature::verify(alg, &vector.key_der, vector.message, &vector.signature);
        all_valid &= answer == Ok(true);
    }
    let elapsed_us = (now_ns() - started) as f64 / 1000.0;
    if all_valid {
        elapsed_us / f64::from(TIMED_CALLS)
    } else {
        -1.0
    }
}

/// Microseconds per `f` over TIMED_CALLS calls.
fn per_call_us(mut f: impl FnMut()) -> f64 {
    let started = now_ns();
    for _ in 0..TIMED_CALLS {
        f();
    }
    (now_ns() - started) as f64 / 1000.0 / f64::from(TIMED_CALLS)
}

/// The host calls of tenantgate's warm path, each timed in a loop on the
/// current request: the header map read (in place, as tenantgate reads it),
/// a clock read, `:path` set, and an absent header removed; and the one
/// header read of the floor, for comparison.
fn time_host_calls() -> String {
    let original_path = hostcalls::get_map_value(MapType::HttpRequestHeaders, ":path")
        .ok()
        .flatten()
        .unwrap_or_else(|| "/".into());
    let read_map = per_call_us(|| {
        std::hint::black_box(header_map::request_header_block());
    });
    let read_one = per_call_us(|| {
        std::hint::black_box(
            hostcalls::get_map_value(MapType::HttpRequestHeaders, "authorization").ok(),
        );
    });
    let clock = per_call_us(|| {
        std::hint::black_box(hostcalls::get_current_time().ok());
    });
    let set_path = per_call_us(|| {
        let _ =
            hostcalls::set_map_value(MapType::HttpRequestHeaders, ":path", Some(&original_path));
    });
    let remove = per_call_us(|| {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "x-scope-orgid", None);
    });
    format!(
        "tenantgate-probe-calls {{\"read_header_map_us\":{read_map:.3},\"current_time_us\":{clock:.3},\"set_path_us\":{set_path:.3},\"remove_header_us\":{remove:.3},\"read_one_header_us\":{read_one:.3}}}"
    )
}

fn answer_name(answer: Result<bool, HostSignatureError>) -> String {
    match answer {
        Ok(valid) => valid.to_string(),
        Err(error) => format!("\"{error:?}\""),
    }
}

/// RSA-PSS through the host: a PS256 signature is sent as RS256 would be
/// (the function has no padding option), next to a PKCS#1 v1.5 signature by
/// the same key as the control.
fn pss_facts() -> String {
    let decode = |text: &str| encoding::decode_strict(text).unwrap_or_default();
    let key = host_format::rsa_spki_der(&decode(PSS_N), &[1, 0, 1]).unwrap_or_default();
    let pkcs1 = host_signature::verify(
        Algorithm::Rs256,
        &key,
        MESSAGE,
        &decode(PKCS1_SIGNATURE_SAME_KEY),
    );
    let pss = host_signature::verify(Algorithm::Rs256, &key, MESSAGE, &decode(PSS_SIGNATURE));
    format!(
        "\"pkcs1_control\":{},\"pss_signature_as_rs256\":{},\"ps256_via_backend\":{}",
        answer_name(pkcs1),
        answer_name(pss),
        answer_name(host_signature::verify(
            Algorithm::Ps256,
            &key,
            MESSAGE,
            &decode(PSS_SIGNATURE)
        )),
    )
}

/// How the host answers inputs the backend must never send or must expect.
fn format_facts(vectors: &[Ready]) -> String {
    let es256 = vectors.iter().find(|v| v.alg == Algorithm::Es256);
    let raw_rs = es256.map(|v| raw_answer("sha256", v));
    let mut bad_key = PROBE_VECTORS[0].key_der().unwrap_or_default();
    bad_key.truncate(40);
    let rs256 = vectors.iter().find(|v| v.alg == Algorithm::Rs256);
    let bad_key_answer =
        rs256.map(|v| host_signature::verify(v.alg, &bad_key, v.message, &v.signature));
    let empty_key_answer =
        rs256.map(|v| host_signature::verify(v.alg, &[], v.message, &v.signature));
    let unknown_hash_answer = rs256.map(|v| raw_answer("md5", v));
    format!(
        "\"raw_ecdsa_signature_accepted\":{},\"truncated_key\":{},\"empty_key\":{},\"unknown_hash\":{}",
        raw_rs.unwrap_or_else(|| "null".into()),
        bad_key_answer.map_or_else(|| "null".into(), answer_name),
        empty_key_answer.map_or_else(|| "null".into(), answer_name),
        unknown_hash_answer.unwrap_or_else(|| "null".into()),
    )
}

/// The host's answer to `v`'s key, signature and message sent as they are,
/// with `hash` named as the hash function.
fn raw_answer(hash: &str, v: &Ready) -> String {
    let arguments =
        host_format::verify_signature_arguments(hash, &v.key_der, &v.signature, v.message);
    match hostcalls::call_foreign_function(host_format::VERIFY_SIGNATURE_FUNCTION, Some(&arguments))
    {
        Ok(answer) => answer_name(
            host_format::verify_signature_result(&answer.unwrap_or_default())
                .map_err(HostSignatureError::Format),
        ),
        Err(status) => format!("\"{status:?}\""),
    }
}

const MESSAGE: &[u8] = b"tenantgate host signature probe";
const PSS_N: &str = "qTW3U0yAakalpGHpGE4JKGTs38PkRs8q8Fh_QIAqRAf0tyfmS4gn-6XUFuLkwve451-S9rukrQhlCc_O0mTSk0D2zOE0OmfImu08gL_b4PhcdQ1gKO2Xo7x8DBAHmjGP6cAR6XGEZjRslQFgKXnA06Nz9RgrfJyok_2hM8BJDiJKsVyRXY1rOOqRYD2pq_1KJJ0tASLf8gfA9DCttbB0wzOaG6PsegKxjLK9KH1__ckeqlxU608mMxPRdF4o-PepPL95LQxHjWnwys9_edjy7IEGGMtsdR6NPf607S7RIY4UAkLnTqGASv3regAntOffAhd0Ns5_Md6iEUQXAL67cQ";
const PSS_SIGNATURE: &str = "A8JuVg2A-OgthlBBui3MUVgP3N2pZyogd-C4Tp8ykFfLH00sl8Hr2xUparY1qCDzft3GpcEtrnWdds00--ljIPowMrrr5FJjPs7NW6mMTGx-P-odJUFIGM-nQo8RbdZRLa0DtJKW33U2kNEELGHzMAx3Eep2rddaKSN4MsnUjmNFTWxhzTUfxohMy8YUoVbaUjQrkiL2a_QJhF56Hy1Do9wgiHRzBg1nGiskNGiMQ2O-Z9j7T6XjEuaFbDVDJ9GMgItHhI-vtvRP8WF14hRaKn6MJhU6x7X7jgMc8W9nXKVkAPikf5agtR5t5OwOXAfrn2GGukXIq9h8_gH0BoSPiA";
const PKCS1_SIGNATURE_SAME_KEY: &str = "jeYMYOloXBBIwjdMpLhSN7eg0sKmis-s2piWrb1HnSPjl9yyeOZDeLYXMiXiN9ZnFvsBfZ6VseZp_qpNUW0kWDGdoDDTUrZ4pS1rztXJciFsb776GyzzV-7zNd-KembvxyTDVd2nuHj25GhbeEOfFobqPZEfLOEJedXz3E0oecFxGSvER47m_KVC-LzZMgLF3VOqMaM6zIK967LJtTQLihloypKUBYrWJJ4A-KnHCsNYSS8i3HGjl6X2n8WA6WTxjIOvLZx6aWX3pHMD7VJivfned0JhFnp_y9RA6sYrvMnMeuXePR3_1gQmRSjHC7crRqhVarcVk-pgV3OAPxXJVA";
