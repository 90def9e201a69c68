//! Checks plugin configurations with the filter's own parser:
//! `tenantgate-check-config FILE...` (JSON files; `-` reads standard input).
//! Prints one line per file and exits non-zero when any is refused.

use std::io::Read;
use std::process::ExitCode;

use tenantgate::config::Config;

fn read(path: &str) -> std::io::Result<Vec<u8>> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(path)
    }
}

fn main() -> ExitCode {
    let paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        eprintln!(
            "usage: tenantgate-check-config FILE... (JSON plugin configurations; - for stdin)"
        );
        return ExitCode::from(2);
    }
    let mut all_valid = true;
    for path in &paths {
        match read(path).map(|bytes| Config::from_json(&bytes)) {
            Ok(Ok(_)) => println!("{path}: ok"),
            Ok(Err(error)) => {
                all_valid = false;
                println!("{path}: {error}");
            }
            Err(error) => {
                all_valid = false;
                println!("{path}: cannot read: {error}");
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
