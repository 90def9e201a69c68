//! A filter that does the least a header-rewriting filter can do: read one
//! request header and set one. Its throughput is the ceiling for any
//! proxy-wasm filter in the same Envoy.
//!
//! Configured with the text `tenantgate_warm_calls`, it instead makes the
//! host calls tenantgate makes on a warm request: read the
//! whole header map (in place, with tenantgate's own code), read the clock,
//! set `:path` (with an `extra_label` argument appended), remove
//! `Authorization`, with only the work those calls need. Beside tenantgate
//! it splits the warm path's cost into the host's part and the filter's own.

#[path = "../../../src/host/header_map.rs"]
mod header_map;
#[allow(dead_code)] // the included file carries more than this filter uses
#[path = "../../../request/src/header_pairs.rs"]
mod header_pairs;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(FloorRoot { warm_calls: false })
    });
}}

struct FloorRoot {
    warm_calls: bool,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let configuration = self.get_plugin_configuration().unwrap_or_default();
        self.warm_calls = String::from_utf8_lossy(&configuration).contains("tenantgate_warm_calls");
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.warm_calls {
            Some(Box::new(WarmCallsStream))
        } else {
            Some(Box::new(FloorStream))
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct FloorStream;

impl Context for FloorStream {}

impl HttpContext for FloorStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let seen = self.get_http_request_header("authorization").is_some();
        self.set_http_request_header("x-floor", Some(if seen { "1" } else { "0" }));
        Action::Continue
    }
}

struct WarmCallsStream;

impl Context for WarmCallsStream {}

impl HttpContext for WarmCallsStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let block = header_map::request_header_block();
        let _ = self.get_current_time();
        let spans = header_pairs::pair_spans(&block).unwrap_or_default();
        let path = spans
            .iter()
            .find(|span| &block[span.name.clone()] == b":path")
            .map(|span| String::from_utf8_lossy(&block[span.value.clone()]).into_owned())
            .unwrap_or_default();
        let rewritten = format!("{path}&extra_label=tenant%3Dteam-a");
        self.set_http_request_header(":path", Some(&rewritten));
        self.set_http_request_header("authorization", None);
        Action::Continue
    }
}
