//! A filter that does the least a header-rewriting filter can do: read one
//! request header and set one. Its throughput is the ceiling for any
//! proxy-wasm filter in the same Envoy.
//!
//! Configured with the text `tenantgate_warm_calls`, it instead makes the
//! host calls tenantgate makes on a warm request, and nothing else: read the
//! whole header map, read the clock, set `:path` (with an `extra_label`
//! argument appended), remove `Authorization`. Beside tenantgate it splits
//! the warm path's cost into the host's part and the filter's own.

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
        let headers = self.get_http_request_headers_bytes();
        let _ = self.get_current_time();
        let path = headers
            .iter()
            .find(|(name, _)| name == ":path")
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
            .unwrap_or_default();
        let rewritten = format!("{path}&extra_label=tenant%3Dteam-a");
        self.set_http_request_header(":path", Some(&rewritten));
        self.set_http_request_header("authorization", None);
        Action::Continue
    }
}
