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
use super::key_store::HostKeyStore;
use super::root::{Shared, Waiter};
use crate::pipeline::{check_body, decide, Decision, RequestHead};
use crate::reply::Refusal;
use crate::rewrite::BodyCheck;

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
    method: String,
    target: String,
    authorization: Vec<String>,
    content_type: Vec<String>,
    body_complete: bool,
    body_size: usize,
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
            method: String::new(),
            target: String::new(),
            authorization: Vec::new(),
            content_type: Vec::new(),
            body_complete: false,
            body_size: 0,
        }
    }

    fn read_headers(&mut self, end_of_stream: bool) {
        // A header map that cannot be read leaves the request without
        // credentials, which is refused.
        let headers = hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default();
        for (name, value) in headers {
            match name.as_str() {
                ":method" => self.method = value,
                ":path" => self.target = value,
                "authorization" => self.authorization.push(value),
                "content-type" => self.content_type.push(value),
                _ => {}
            }
        }
        self.body_complete = end_of_stream;
    }

    fn head(&self) -> RequestHead<'_> {
        RequestHead {
            method: &self.method,
            target: &self.target,
            authorization: self.authorization.iter().map(String::as_str).collect(),
            content_type: self.content_type.iter().map(String::as_str).collect(),
        }
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
        let mut keys = HostKeyStore {
            keys: &shared.keys,
            config: &config,
            refetch_requests: &mut shared.refetch_requests,
            now_ms: now,
        };
        decide(&config, &state.head(), &mut keys, now / 1000)
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
            let _ =
                hostcalls::set_map_value(MapType::HttpRequestHeaders, ":path", Some(&forward.path));
            for name in &forward.remove_headers {
                let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
            }
            // Envoy delivers no body to a filter whose headers are held
            // (proxy-wasm's Pause is StopAllIteration), so the headers go on
            // and the body is held in `on_http_request_body` until checked.
            state.phase = match forward.body_check {
                BodyCheck::Form if !state.body_complete => Phase::CheckingBody,
                BodyCheck::Form | BodyCheck::None => Phase::Forwarded,
            };
            Step::Continue
        }
    }
}

fn check_whole_body(state: &mut StreamState, config: &crate::config::Config) -> Step {
    let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, state.body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    match check_body(config, &body) {
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

impl Context for Stream {
    fn on_done(&mut self) -> bool {
        self.shared.borrow_mut().forget_waiter(self.context_id);
        true
    }
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.state.borrow_mut().read_headers(end_of_stream);
        match decide_and_act(&mut self.shared.borrow_mut(), self.context_id, &self.state) {
            Step::Continue => Action::Continue,
            Step::Hold => Action::Pause,
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let mut state = self.state.borrow_mut();
        state.body_size = body_size;
        state.body_complete = end_of_stream;
        match state.phase {
            Phase::Forwarded => Action::Continue,
            Phase::CheckingBody => {
                let shared = self.shared.borrow();
                let Some(config) = shared.config.clone() else {
                    return Action::Pause;
                };
                if body_size > config.max_body_bytes {
                    let refusal = Refusal::Request(crate::rewrite::RewriteError::BodyTooLarge);
                    refuse(&mut state, &config.realm, refusal);
                    return Action::Pause;
                }
                if !end_of_stream {
                    return Action::Pause;
                }
                match check_whole_body(&mut state, &config) {
                    Step::Continue => Action::Continue,
                    Step::Hold => Action::Pause,
                }
            }
            // Buffer the body until the decision is made (or forever, once
            // the request was answered locally).
            Phase::Headers | Phase::AwaitingKeys | Phase::Replied => Action::Pause,
        }
    }
}
