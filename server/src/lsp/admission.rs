//! Which message bodies tower-lsp-server may see: exactly the JSON-RPC messages it can decode,
//! with the meaning the LSP specification gives them.
//!
//! tower-lsp-server decodes every body into an untagged `Response | Request` enum and ends the
//! session when that fails: an id that is a float or over `i64::MAX`, a duplicate top-level
//! key, an `error` object with an extra field. Other shapes decode into the wrong thing: a
//! message with both `method` and `result` decodes as a response and is never answered, one with
//! no `method` at all as a request for the method `""`, and a request named `exit` ends the
//! session. [`admit`] checks a body against the JSON-RPC 2.0 and LSP rules and re-encodes what
//! passes from tower-lsp-server's own `Request` and `Response` types, so what is forwarded always
//! decodes, and decodes as what was checked. Everything else gets a [`Rejection`].

use serde::Deserialize;
use serde_json::{json, Map, Value};
use tower_lsp_server::jsonrpc::{Error, Id, Request, Response};

/// JSON-RPC "Parse error": the body is not JSON (or nests deeper than 128 levels).
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request": JSON, but not a message the server can take.
pub const INVALID_REQUEST: i64 = -32600;

/// Why a body was refused, as the error response the client gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The request's id when it is a valid one (an integer or a string), else null: an invalid
    /// id is never echoed, and a malformed response's id names a request of the server's.
    pub id: Value,
    /// [`PARSE_ERROR`] or [`INVALID_REQUEST`].
    pub code: i64,
    /// What was wrong, for the client's log.
    pub message: String,
}

impl Rejection {
    /// A -32700 for input that is not a JSON message at all.
    pub fn parse_error(reason: &str) -> Self {
        Self { id: Value::Null, code: PARSE_ERROR, message: format!("Parse error: {reason}") }
    }

    fn invalid(id: &Value, reason: &str) -> Self {
        Self { id: id.clone(), code: INVALID_REQUEST, message: format!("Invalid request: {reason}") }
    }

    /// The JSON-RPC error response.
    pub fn to_response(&self) -> Value {
        json!({ "jsonrpc": "2.0", "id": self.id, "error": { "code": self.code, "message": self.message } })
    }
}

/// Checks one message body; `Ok` holds the body to forward, re-encoded.
pub fn admit(body: &[u8]) -> Result<Vec<u8>, Rejection> {
    let value: Value = serde_json::from_slice(body).map_err(|err| Rejection::parse_error(&err.to_string()))?;
    let Value::Object(mut message) = value else {
        let what = if value.is_array() { "batches are not supported" } else { "a message must be a JSON object" };
        return Err(Rejection::invalid(&Value::Null, what));
    };
    let is_response = !message.contains_key("method") && ["result", "error"].iter().any(|k| message.contains_key(*k));
    let id = message.get("id").and_then(request_id);
    let reply_to = match (&id, is_response) {
        (Some(Id::Number(number)), false) => Value::from(*number),
        (Some(Id::String(text)), false) => Value::from(text.as_str()),
        _ => Value::Null,
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Rejection::invalid(&reply_to, "\"jsonrpc\" must be \"2.0\""));
    }
    let admitted = if is_response { response(&mut message)? } else { request(&mut message, id, &reply_to)? };
    serde_json::to_vec(&admitted).map_err(|err| Rejection::invalid(&reply_to, &err.to_string()))
}

/// A request or notification, checked.
fn request(message: &mut Map<String, Value>, id: Option<Id>, reply_to: &Value) -> Result<Admitted, Rejection> {
    let method = match message.get("method") {
        Some(Value::String(method)) => method.clone(),
        Some(_) => return Err(Rejection::invalid(reply_to, "\"method\" must be a string")),
        None => return Err(Rejection::invalid(reply_to, "a message needs a \"method\" (or \"result\"/\"error\")")),
    };
    if message.contains_key("result") || message.contains_key("error") {
        return Err(Rejection::invalid(reply_to, "a message with a \"method\" cannot have a \"result\" or \"error\""));
    }
    if message.contains_key("id") && id.is_none() {
        return Err(Rejection::invalid(&Value::Null, "a request id must be an integer (64-bit) or a string"));
    }
    if method == "exit" && id.is_some() {
        return Err(Rejection::invalid(reply_to, "exit is a notification; it must not have an id"));
    }
    let params = message.remove("params");
    if !matches!(params, None | Some(Value::Object(_) | Value::Array(_) | Value::Null)) {
        return Err(Rejection::invalid(reply_to, "\"params\" must be an object or an array"));
    }
    let mut request = Request::build(method);
    if let Some(id) = id {
        request = request.id(id);
    }
    if let Some(params) = params {
        request = request.params(params);
    }
    Ok(Admitted::Request(request.finish()))
}

/// A response to one of the server's requests, checked.
fn response(message: &mut Map<String, Value>) -> Result<Admitted, Rejection> {
    let invalid = |reason: &str| Err(Rejection::invalid(&Value::Null, reason));
    let id = match message.get("id") {
        None => return invalid("a response needs an \"id\""),
        Some(Value::Null) => Id::Null,
        Some(id) => match request_id(id) {
            Some(id) => id,
            None => return invalid("a response id must be an integer (64-bit), a string or null"),
        },
    };
    match (message.remove("result"), message.remove("error")) {
        (Some(_), Some(_)) => invalid("a response has a \"result\" or an \"error\", not both"),
        (Some(result), None) => Ok(Admitted::Response(Response::from_ok(id, result))),
        (None, Some(error)) => match Error::deserialize(&error) {
            Ok(error) => Ok(Admitted::Response(Response::from_error(id, error))),
            Err(err) => invalid(&format!("a response error must be {{code, message[, data]}}: {err}")),
        },
        (None, None) => invalid("a response needs a \"result\" or an \"error\""),
    }
}

/// A message as tower-lsp-server's own types, which encode to what it decodes.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Admitted {
    Request(Request),
    Response(Response),
}

/// A valid request id: an integer that fits `i64`, or a string.
fn request_id(id: &Value) -> Option<Id> {
    match id {
        Value::Number(number) => number.as_i64().map(Id::Number),
        Value::String(text) => Some(Id::String(text.clone())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tower-lsp-server's own `Message` (crate-private there): what its codec decodes a body into.
    #[derive(Deserialize, serde::Serialize)]
    #[serde(untagged)]
    enum Message {
        Response(Response),
        Request(Request),
    }

    /// What tower-lsp-server reads from an admitted body, as JSON.
    fn forwarded(body: &str) -> Value {
        let admitted = admit(body.as_bytes()).unwrap_or_else(|rejection| panic!("{body} was refused: {rejection:?}"));
        let decoded: Message = serde_json::from_slice(&admitted).expect("tower-lsp-server decodes it");
        serde_json::to_value(decoded).expect("json")
    }

    fn refused(body: &str) -> (i64, Value) {
        let rejection = admit(body.as_bytes()).expect_err(body);
        (rejection.code, rejection.id)
    }

    #[test]
    fn well_formed_messages_pass_unchanged_in_meaning() {
        let request = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;
        assert_eq!(forwarded(request), serde_json::from_str::<Value>(request).unwrap());
        let notification = forwarded(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#);
        assert_eq!(notification, json!({"jsonrpc":"2.0","method":"initialized","params":{}}));
        assert_eq!(forwarded(r#"{"jsonrpc":"2.0","id":"a","method":"shutdown","params":null}"#)["params"], Value::Null);
        assert_eq!(forwarded(r#"{"jsonrpc":"2.0","id":-9223372036854775808,"method":"x"}"#)["id"], i64::MIN);
        assert_eq!(
            forwarded(r#"{"jsonrpc":"2.0","id":"a","result":null}"#),
            json!({"jsonrpc":"2.0","id":"a","result":null})
        );
        let error = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"no","data":[1]}}"#;
        assert_eq!(forwarded(error), serde_json::from_str::<Value>(error).unwrap());
    }

    #[test]
    fn duplicate_keys_are_forwarded_once() {
        // tower-lsp-server fails on a duplicate field; JSON.parse keeps the last one, and so do we.
        let admitted = forwarded(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"a","method":"splice/status"}"#);
        assert_eq!((admitted["id"].as_i64(), admitted["method"].as_str()), (Some(2), Some("splice/status")));
    }

    #[test]
    fn not_json_is_a_parse_error_with_a_null_id() {
        for body in ["{not json", "", "\u{feff}{}", r#"{"id":1e400}"#, "{\"a\":\"\\ud800\"}"] {
            assert_eq!(refused(body), (PARSE_ERROR, Value::Null), "{body:?}");
        }
        assert_eq!(admit(b"{\"a\":\"\xff\"}").unwrap_err().code, PARSE_ERROR, "invalid UTF-8");
        let deep = format!(r#"{{"jsonrpc":"2.0","method":"x","params":{}{}}}"#, "[".repeat(200), "]".repeat(200));
        assert_eq!(refused(&deep), (PARSE_ERROR, Value::Null), "nested too deep");
    }

    #[test]
    fn ids_that_are_not_64_bit_integers_or_strings_are_refused_with_a_null_id() {
        for id in ["1e3", "9223372036854775808", "10000084.5", "1.0", "-0.5", "true", "[1]", "{}", "null"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"splice/status","params":{{}}}}"#);
            assert_eq!(refused(&body), (INVALID_REQUEST, Value::Null), "id {id}");
        }
        let response = r#"{"jsonrpc":"2.0","id":1.5,"result":1}"#;
        assert_eq!(refused(response), (INVALID_REQUEST, Value::Null));
    }

    #[test]
    fn messages_that_tower_lsp_server_would_misread_are_refused() {
        let cases = [
            // Decodes as a response, never answered.
            (r#"{"jsonrpc":"2.0","id":10000276,"method":"splice/status","result":1}"#, json!(10000276)),
            (r#"{"jsonrpc":"2.0","id":"s","method":"splice/status","error":{"code":1,"message":"m"}}"#, json!("s")),
            // Decode as a request for the method "".
            (r#"{"jsonrpc":"2.0","id":5}"#, json!(5)),
            (r#"{"jsonrpc":"2.0","id":6,"method":7}"#, json!(6)),
            (r#"{"jsonrpc":"2.0","method":null}"#, Value::Null),
            // Ends the session.
            (r#"{"jsonrpc":"2.0","id":8,"method":"exit"}"#, json!(8)),
            // Params that are not structured.
            (r#"{"jsonrpc":"2.0","id":9,"method":"splice/status","params":"x"}"#, json!(9)),
            (r#"{"jsonrpc":"2.0","method":"initialized","params":3}"#, Value::Null),
            // Versions.
            (r#"{"id":4,"method":"x"}"#, json!(4)),
            (r#"{"jsonrpc":2.0,"id":4,"method":"x"}"#, json!(4)),
            (r#"{"jsonrpc":"1.0","id":4.5,"method":"x"}"#, Value::Null),
            // Not objects.
            ("[1, 2]", Value::Null),
            (r#"[{"jsonrpc":"2.0","id":1,"method":"x"}]"#, Value::Null),
            ("\"text\"", Value::Null),
            ("null", Value::Null),
        ];
        for (body, id) in cases {
            assert_eq!(refused(body), (INVALID_REQUEST, id), "{body}");
        }
    }

    #[test]
    fn malformed_responses_are_refused_with_a_null_id() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","result":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","extra":0}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":"boom"}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":9223372036854775808,"message":"m"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"result":1}"#,
        ] {
            assert_eq!(refused(body), (INVALID_REQUEST, Value::Null), "{body}");
        }
    }

    #[test]
    fn a_rejection_is_a_json_rpc_error_response() {
        let response = Rejection::parse_error("boom").to_response();
        assert_eq!(response, json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error: boom"}}));
    }
}
