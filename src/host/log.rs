//! Log lines go to Envoy's log. Nothing from a token is ever logged.

use proxy_wasm::hostcalls;
use proxy_wasm::types::LogLevel;

pub fn debug(message: &str) {
    let _ = hostcalls::log(LogLevel::Debug, message);
}

pub fn info(message: &str) {
    let _ = hostcalls::log(LogLevel::Info, message);
}

pub fn warn(message: &str) {
    let _ = hostcalls::log(LogLevel::Warn, message);
}

pub fn error(message: &str) {
    let _ = hostcalls::log(LogLevel::Error, message);
}

pub fn critical(message: &str) {
    let _ = hostcalls::log(LogLevel::Critical, message);
}
