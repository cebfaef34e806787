//! The LSP lifecycle in front of tower-lsp-server's service: what may come before `initialize`,
//! that every request gets an answer, and whether `shutdown` came before the end, which decides
//! the exit code.
//!
//! tower-lsp-server on its own answers a request for an unknown method before `initialize` with
//! -32601 instead of -32002 (ServerNotInitialized), answers nothing at all to an unknown `$/`
//! request (so the client waits forever), and shuts down on a `shutdown` sent as a notification.
//! [`SessionGate`] wraps its service and keeps the specification's rules: before `initialize`,
//! requests get -32002 and notifications are dropped (except `exit`); `shutdown` is a request.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Id, Request, Response};
use tower_service::Service;

/// Where the session is in the LSP lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No successful `initialize` yet.
    Uninitialized,
    /// `initialize` is being handled.
    Initializing,
    /// `initialize` succeeded; requests are served.
    Initialized,
    /// `shutdown` was received; only `exit` is expected.
    ShutDown,
}

/// How an LSP session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// `shutdown` came before `exit` (or before the client closed the input): exit code 0.
    AfterShutdown,
    /// `exit` without `shutdown`, or the input closed without either: exit code 1, as the LSP
    /// specification asks for `exit`.
    WithoutShutdown,
}

impl SessionEnd {
    /// The process exit code the LSP specification asks for.
    pub fn exit_code(self) -> ExitCode {
        match self {
            SessionEnd::AfterShutdown => ExitCode::SUCCESS,
            SessionEnd::WithoutShutdown => ExitCode::FAILURE,
        }
    }
}

/// What the gate does with one message.
#[derive(Debug, PartialEq)]
enum Route {
    /// Pass it on.
    Forward,
    /// Pass `initialize` on and follow its outcome.
    Initialize,
    /// Pass `shutdown` on; the session is shutting down.
    Shutdown,
    /// Answer it here with this error.
    Refuse(Error),
    /// A notification that must not reach the server.
    Drop(&'static str),
}

/// A [`Service`] in front of tower-lsp-server's `LspService` that keeps the LSP lifecycle rules
/// (see the module documentation). Cloning the [`SessionGate::phase`] handle lets the caller read
/// how the session ended.
pub struct SessionGate<S> {
    inner: S,
    phase: Arc<Mutex<Phase>>,
}

impl<S> SessionGate<S> {
    /// Wraps `inner`, a service that has not seen `initialize`.
    pub fn new(inner: S) -> Self {
        Self { inner, phase: Arc::new(Mutex::new(Phase::Uninitialized)) }
    }

    /// A handle to the session's phase, readable after the service is gone.
    pub fn phase(&self) -> Arc<Mutex<Phase>> {
        self.phase.clone()
    }
}

/// How a session whose last phase was `phase` ended.
pub fn session_end(phase: &Mutex<Phase>) -> SessionEnd {
    match *phase.lock().unwrap_or_else(|p| p.into_inner()) {
        Phase::ShutDown => SessionEnd::AfterShutdown,
        _ => SessionEnd::WithoutShutdown,
    }
}

/// The lifecycle rule for one message in `phase`.
fn route(phase: Phase, method: &str, is_request: bool) -> Route {
    match (phase, method, is_request) {
        (_, "exit", _) => Route::Forward,
        (Phase::Uninitialized | Phase::Initializing, _, false) => Route::Drop("before initialize"),
        (Phase::Uninitialized, "initialize", true) => Route::Initialize,
        (Phase::Initializing, "initialize", true) => {
            Route::Refuse(invalid_request("initialize is already in progress"))
        }
        (Phase::Uninitialized | Phase::Initializing, _, true) => Route::Refuse(not_initialized()),
        (Phase::Initialized, "shutdown", true) => Route::Shutdown,
        (Phase::Initialized, "shutdown", false) => Route::Drop("shutdown is a request, not a notification"),
        (Phase::Initialized | Phase::ShutDown, _, _) => Route::Forward,
    }
}

/// -32002, as tower-lsp-server words it.
fn not_initialized() -> Error {
    Error { code: ErrorCode::ServerError(-32002), message: "Server not initialized".into(), data: None }
}

fn invalid_request(reason: &'static str) -> Error {
    Error { code: ErrorCode::InvalidRequest, message: reason.into(), data: None }
}

/// -32601 for a request that tower-lsp-server left unanswered (it drops those for unknown `$/`
/// methods), worded as its own method-not-found errors.
fn method_not_found(id: Id, method: &str) -> Response {
    let mut error = Error::method_not_found();
    error.data = Some(method.into());
    Response::from_error(id, error)
}

type Answer<E> = Pin<Box<dyn Future<Output = Result<Option<Response>, E>> + Send>>;

impl<S> Service<Request> for SessionGate<S>
where
    S: Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut phase = self.phase.lock().unwrap_or_else(|p| p.into_inner());
        let id = request.id().cloned();
        let method = request.method().to_owned();
        match route(*phase, &method, id.is_some()) {
            Route::Drop(why) => {
                tracing::warn!(method, "dropped a notification: {why}");
                Box::pin(std::future::ready(Ok(None)))
            }
            Route::Refuse(error) => {
                tracing::warn!(method, code = %error.code, "refused a request: {}", error.message);
                Box::pin(std::future::ready(Ok(id.map(|id| Response::from_error(id, error)))))
            }
            Route::Initialize => {
                *phase = Phase::Initializing;
                let (answer, phase) = (self.inner.call(request), self.phase.clone());
                Box::pin(async move {
                    let response = answer.await;
                    let succeeded = matches!(&response, Ok(Some(response)) if response.is_ok());
                    *phase.lock().unwrap_or_else(|p| p.into_inner()) =
                        if succeeded { Phase::Initialized } else { Phase::Uninitialized };
                    response
                })
            }
            route => {
                if route == Route::Shutdown {
                    *phase = Phase::ShutDown;
                }
                let answer = self.inner.call(request);
                Box::pin(async move {
                    let response = answer.await?;
                    Ok(match (response, id) {
                        (None, Some(id)) => Some(method_not_found(id, &method)),
                        (response, _) => response,
                    })
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::convert::Infallible;

    /// A stand-in for tower-lsp-server's service: answers every request with its method name,
    /// fails `initialize` when its params say so, and answers nothing to `$/` methods.
    struct Echo;

    impl Service<Request> for Echo {
        type Response = Option<Response>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Option<Response>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            let fail = request.params().is_some_and(|params| params["fail"] == true);
            let answer = match request.id() {
                Some(_) if request.method().starts_with("$/") => None,
                Some(id) if fail => Some(Response::from_error(id.clone(), Error::invalid_params("fail"))),
                Some(id) => Some(Response::from_ok(id.clone(), json!(request.method()))),
                None => None,
            };
            std::future::ready(Ok(answer))
        }
    }

    fn send(gate: &mut SessionGate<Echo>, method: &str, id: Option<i64>) -> Option<Response> {
        send_with(gate, method, id, json!({}))
    }

    fn send_with(
        gate: &mut SessionGate<Echo>,
        method: &str,
        id: Option<i64>,
        params: serde_json::Value,
    ) -> Option<Response> {
        let mut request = Request::build(method.to_owned()).params(params);
        if let Some(id) = id {
            request = request.id(id);
        }
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(gate.call(request.finish())).unwrap_or_else(|never| match never {})
    }

    fn code(response: Option<Response>) -> Option<i64> {
        response.and_then(|r| r.error().map(|e| e.code.code()))
    }

    #[test]
    fn before_initialize_requests_get_server_not_initialized_and_notifications_are_dropped() {
        let mut gate = SessionGate::new(Echo);
        for method in ["splice/status", "textDocument/frobnicate", "shutdown", "$/anything"] {
            assert_eq!(code(send(&mut gate, method, Some(1))), Some(-32002), "{method}");
        }
        assert_eq!(send(&mut gate, "textDocument/didOpen", None), None);
        assert_eq!(code(send_with(&mut gate, "initialize", Some(2), json!({"fail": true}))), Some(-32602));
        assert_eq!(code(send(&mut gate, "splice/status", Some(3))), Some(-32002), "a failed initialize does not count");
        assert!(send(&mut gate, "initialize", Some(4)).is_some_and(|r| r.is_ok()));
        assert!(send(&mut gate, "splice/status", Some(5)).is_some_and(|r| r.is_ok()));
    }

    #[test]
    fn every_request_gets_an_answer() {
        let mut gate = SessionGate::new(Echo);
        send(&mut gate, "initialize", Some(1));
        let unknown = send(&mut gate, "$/unknown", Some(2)).expect("an answer");
        assert_eq!((unknown.id(), code(Some(unknown.clone()))), (&Id::Number(2), Some(-32601)));
        assert_eq!(send(&mut gate, "$/unknown", None), None, "notifications stay unanswered");
    }

    #[test]
    fn the_session_ends_cleanly_only_after_a_shutdown_request() {
        let mut gate = SessionGate::new(Echo);
        let phase = gate.phase();
        send(&mut gate, "initialize", Some(1));
        send(&mut gate, "shutdown", None);
        assert_eq!(session_end(&phase), SessionEnd::WithoutShutdown, "a shutdown notification is dropped");
        send(&mut gate, "shutdown", Some(2));
        assert_eq!(session_end(&phase), SessionEnd::AfterShutdown);
        assert_eq!(SessionEnd::WithoutShutdown.exit_code(), ExitCode::FAILURE);
    }

    #[test]
    fn exit_always_reaches_the_server() {
        assert_eq!(route(Phase::Uninitialized, "exit", false), Route::Forward);
        assert_eq!(route(Phase::ShutDown, "exit", false), Route::Forward);
        assert_eq!(
            route(Phase::Initializing, "initialize", true),
            Route::Refuse(invalid_request("initialize is already in progress"))
        );
    }
}
