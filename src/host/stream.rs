//! One HTTP request. The decision is made by the core; this file reads the
//! request, applies the decision, and holds the request back while keys load
//! or while a form body is checked.
//!
//! The functions that act on a request use `hostcalls` directly, so the root
//! context can run them for a waiting request after making it the effective
//! context.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType, MapType};

use super::clock::now_ms;
use super::header_map;
use super::key_store::HostKeyStore;
use super::log;
use super::phase_timing::{self, Timed};
use super::root::{Shared, Waiter};
use crate::pipeline::{
    check_body, decide_on_header_block, Decision, HeaderNotWritten, RequestHeaders,
};
use crate::reply::Refusal;
use crate::rewrite::{BodyCheck, RewriteError};

/// Where a request is on its way through the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Headers,
    AwaitingKeys,
    CheckingBody,
    Forwarded,
    Replied,
}

/// What the filter needs to remember about a request between callbacks.
#[derive(Debug)]
pub struct StreamState {
    pub phase: Phase,
    /// The request's header map as the host handed it over.
    header_block: Vec<u8>,
    body_complete: bool,
    body_size: usize,
    /// How the held body is checked once complete.
    body_check: BodyCheck,
}

pub type StreamRef = Rc<RefCell<StreamState>>;

/// Whether the proxy should pass the request on now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Continue,
    Hold,
}

impl StreamState {
    fn new() -> StreamState {
        StreamState {
            phase: Phase::Headers,
            header_block: Vec::new(),
            body_complete: false,
            body_size: 0,
            body_check: BodyCheck::None,
        }
    }

    fn read_headers(&mut self, end_of_stream: bool) {
        self.header_block = header_map::request_header_block();
        self.body_complete = end_of_stream;
    }
}

/// Decides about the request in the effective context and acts on it.
pub fn decide_and_act(shared: &mut Shared, context_id: u32, stream: &StreamRef) -> Step {
    let Some(config) = shared.config.clone() else {
        return refuse(
            &mut stream.borrow_mut(),
            "tenantgate",
            Refusal::KeysUnavailable,
        );
    };
    let now = now_ms();
    let decision = {
        let state = stream.borrow();
        let Shared {
            keys,
            refetch_requests,
            token_cache,
            signatures,
            ..
        } = shared;
        let mut keys = HostKeyStore {
            keys,
            config: &config,
            refetch_requests,
            now_ms: now,
            signatures: &**signatures,
        };
        let start = phase_timing::mark();
        let decision = decide_on_header_block(
            &config,
            &state.header_block,
            &mut keys,
            token_cache,
            now / 1000,
        );
        phase_timing::add(Timed::Decide, &start);
        decision
    };
    let mut state = stream.borrow_mut();
    match decision {
        Decision::Refuse(refusal) => refuse(&mut state, &config.realm, refusal),
        Decision::AwaitKeys {
            provider,
            on_timeout,
        } => {
            state.phase = Phase::AwaitingKeys;
            shared.waiting.push(Waiter {
                context_id,
                provider,
                since_ms: now,
                on_timeout,
                stream: stream.clone(),
            });
            Step::Hold
        }
        Decision::Forward(forward) => {
            let start = phase_timing::mark();
            let applied = forward.apply(&mut HostRequestHeaders);
            phase_timing::add(Timed::ApplyDecision, &start);
            let Ok(body_check) = applied else {
                return refuse(&mut state, &config.realm, Refusal::RewriteFailed);
            };
            state.body_check = body_check;
            match state.body_check {
                BodyCheck::None => {
                    state.phase = Phase::Forwarded;
                    Step::Continue
                }
                _ if state.body_complete => check_whole_body(&mut state, &config),
                // Envoy delivers no body to a filter whose headers are held
                // (proxy-wasm's Pause is StopAllIteration), so the headers
                // go on and the body is held until it is complete and checked.
                _ => {
                    state.phase = Phase::CheckingBody;
                    Step::Continue
                }
            }
        }
    }
}

/// The request headers of the effective context, as the decision changes
/// them.
struct HostRequestHeaders;

impl RequestHeaders for HostRequestHeaders {
    fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderNotWritten> {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value))
            .map_err(|_| HeaderNotWritten)
    }

    fn remove(&mut self, name: &str) -> Result<(), HeaderNotWritten> {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None)
            .map_err(|_| HeaderNotWritten)
    }

    fn add(&mut self, name: &str, value: &str) -> Result<(), HeaderNotWritten> {
        hostcalls::add_map_value(MapType::HttpRequestHeaders, name, value)
            .map_err(|_| HeaderNotWritten)
    }
}

/// Reads the complete body and lets the core decide about it.
fn check_whole_body(state: &mut StreamState, config: &crate::config::Config) -> Step {
    let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, state.body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    match check_body(config, &state.body_check, &body) {
        Ok(()) => {
            state.phase = Phase::Forwarded;
            Step::Continue
        }
        Err(refusal) => refuse(state, &config.realm, refusal),
    }
}

/// Sends the local reply for `refusal`; the request goes no further.
pub fn refuse(state: &mut StreamState, realm: &str, refusal: Refusal) -> Step {
    let reply = refusal.reply(realm);
    let headers: Vec<(&str, &str)> = reply
        .headers
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    let _ = hostcalls::send_http_response(reply.status, headers, Some(reply.body.as_bytes()));
    state.phase = Phase::Replied;
    Step::Hold
}

/// The HTTP context Envoy creates for each request.
pub struct Stream {
    context_id: u32,
    shared: Rc<RefCell<Shared>>,
    state: StreamRef,
}

impl Stream {
    pub fn new(context_id: u32, shared: Rc<RefCell<Shared>>) -> Stream {
        Stream {
            context_id,
            shared,
            state: Rc::new(RefCell::new(StreamState::new())),
        }
    }
}

impl Context for Stream {}

/// The SDK drops the context when Envoy deletes the stream, also when the
/// client left while the request waited for keys. (The release build has no
/// `on_done` callback, see `tools/trim_callbacks.py`.)
impl Drop for Stream {
    fn drop(&mut self) {
        // Streams are deleted only from the host, never while a callback
        // holds the shared state.
        match self.shared.try_borrow_mut() {
            Ok(mut shared) => {
                if shared.forget_waiter(self.context_id) {
                    log::debug(&format!(
                        "request {}: the client left while the request waited for keys",
                        self.context_id
                    ));
                }
            }
            Err(_) => log::warn(&format!(
                "request {}: ended while the filter was busy; its wait for keys ends at the timeout",
                self.context_id
            )),
        }
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let start = phase_timing::mark();
        phase_timing::request_started(&start);
        self.state.borrow_mut().read_headers(end_of_stream);
        phase_timing::add(Timed::ReadHeaders, &start);
        let step = decide_and_act(&mut self.shared.borrow_mut(), self.context_id, &self.state);
        phase_timing::request_finished();
        match step {
            Step::Continue => Action::Continue,
            Step::Hold => Action::Pause,
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        {
            let mut state = self.state.borrow_mut();
            state.body_size = body_size;
            state.body_complete = end_of_stream;
        }
        self.body_step()
    }

    /// Trailers end a body without an end-of-stream data frame: the held
    /// body is complete now and is checked before anything goes on.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.state.borrow_mut().body_complete = true;
        self.body_step()
    }
}

impl Stream {
    /// Holds the body until the decision is made and, when it must be
    /// checked, until it is complete; held forever once answered locally.
    fn body_step(&mut self) -> Action {
        let mut state = self.state.borrow_mut();
        match state.phase {
            Phase::Forwarded => Action::Continue,
            Phase::Headers | Phase::AwaitingKeys | Phase::Replied => Action::Pause,
            Phase::CheckingBody => {
                let Some(config) = self.shared.borrow().config.clone() else {
                    return Action::Pause;
                };
                let step = if state.body_size > config.max_body_bytes {
                    refuse(
                        &mut state,
                        &config.realm,
                        Refusal::Request(RewriteError::BodyTooLarge),
                    )
                } else if state.body_complete {
                    check_whole_body(&mut state, &config)
                } else {
                    Step::Hold
                };
                match step {
                    Step::Continue => Action::Continue,
                    Step::Hold => Action::Pause,
                }
            }
        }
    }
}
