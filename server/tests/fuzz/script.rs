//! What the fuzzer sends, as values it can shrink, and what each must cause: a [`Script`] of
//! abstract messages is rendered into bytes and [`Expect`]ations by [`Renderer`].
//!
//! Every expectation follows from how the message was built (a request with a fresh id, a frame
//! whose length was cut short, a line of garbage), never from running the guard's own checks.
//! Where JSON validity decides, `serde_json` is the reference: the JSON-RPC rules are the
//! harness's, the JSON grammar is not.

use serde_json::{json, Value};

/// JSON-RPC and LSP error codes the expectations name.
pub const PARSE_ERROR: i64 = -32700;
/// Invalid request.
pub const INVALID_REQUEST: i64 = -32600;
/// ServerNotInitialized.
pub const NOT_INITIALIZED: i64 = -32002;

/// One fuzz case: a whole session.
#[derive(Clone, Debug)]
pub struct Script {
    /// Messages sent before `initialize`.
    pub before_initialize: Vec<Msg>,
    /// Params of the first `initialize` (a second, plain one follows if the server refuses them).
    pub initialize_params: Value,
    /// Messages after `initialized`, in batches; after each batch the harness checks the
    /// session with a `splice/status` request.
    pub batches: Vec<Vec<Msg>>,
    /// How the session ends.
    pub end: End,
}

/// How a fuzz session ends.
#[derive(Clone, Debug)]
pub enum End {
    /// `shutdown`, then `exit`.
    ShutdownThenExit,
    /// `exit` alone.
    Exit,
    /// The client closes its output.
    CloseInput,
    /// The client closes its output in the middle of a frame (this many bytes of it).
    CloseMidFrame(usize),
}

/// One abstract message.
#[derive(Clone, Debug)]
pub enum Msg {
    /// A request or notification, possibly written wrongly.
    Call { call: Call, envelope: Envelope, framing: Framing },
    /// A response from the client, to a request the server never sent.
    Response { id: ResponseId, payload: Payload },
    /// `$/cancelRequest` for a request sent earlier in the session (`back` requests ago).
    Cancel { back: usize, as_request: bool },
    /// Bytes that are not a frame, followed by a blank line.
    Garbage(Vec<u8>),
}

/// A JSON-RPC call before it is written.
#[derive(Clone, Debug)]
pub struct Call {
    /// The method.
    pub method: String,
    /// The id.
    pub id: IdSpec,
    /// `params`, or none at all.
    pub params: Option<Value>,
}

/// Which id a call gets. Valid ids are made unique per session when rendered.
#[derive(Clone, Debug)]
pub enum IdSpec {
    /// A notification.
    Absent,
    /// A small positive integer.
    Small,
    /// A negative integer.
    Negative,
    /// Just under `i64::MAX`.
    NearMax,
    /// Just over `i64::MIN`.
    NearMin,
    /// A plain string.
    Text,
    /// A string with a NUL, an emoji and a lone combining mark.
    Unicode,
    /// The empty string the first time, then a plain string.
    Empty,
    /// Raw JSON that is not a valid request id.
    Invalid(&'static str),
}

/// Raw JSON ids that are not 64-bit integers or strings.
pub const INVALID_IDS: &[&str] = &[
    "1e3",
    "1E3",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "10000084.5",
    "1.0",
    "-0.0",
    "-0",
    "0.1e1",
    "1e400",
    "true",
    "false",
    "null",
    "[]",
    "[1]",
    "{}",
    "{\"id\":1}",
];

/// How the body is written.
#[derive(Clone, Debug)]
pub enum Envelope {
    /// As it should be.
    Plain,
    /// `jsonrpc`, `id`, `method` and `params` first written with these junk values, then again
    /// with the real ones (JSON.parse and serde keep the last).
    DuplicateKeys(Value),
    /// `params` replaced by arrays (or objects) nested this deep.
    Nested { depth: usize, objects: bool },
    /// JSON whitespace before and after the object.
    Whitespace(String),
    /// No `jsonrpc` member.
    NoVersion,
    /// `jsonrpc` with another value.
    Version(Value),
    /// `method` replaced by a non-string.
    MethodNotString(Value),
    /// A `result` member as well.
    WithResult(Value),
    /// An `error` member as well.
    WithError,
    /// `params` replaced by a scalar.
    ScalarParams(Value),
    /// No `method` member (and no result or error).
    NoMethod,
    /// The body is this JSON value instead of an object.
    NotObject(Value),
    /// The message inside a batch array.
    Batch,
    /// A 0xFF byte inserted at this fraction of the body (per mille).
    InvalidUtf8(u16),
    /// The body cut at this fraction (per mille).
    Truncated(u16),
    /// Something after the object.
    TrailingJunk(String),
    /// An empty body.
    Empty,
}

/// How the frame is written.
#[derive(Clone, Debug)]
pub enum Framing {
    /// `Content-Length: N\r\n\r\n`.
    Plain,
    /// `content-length: N`.
    LowerCase,
    /// A UTF-8 `Content-Type` (one of its accepted spellings) and other headers.
    ExtraHeaders(&'static str),
    /// `\n` instead of `\r\n`.
    BareNewlines,
    /// Blank lines before the header.
    LeadingBlankLines(usize),
    /// `Content-Length` twice, with the same value.
    DuplicateLength,
    /// A length longer than the body by this JSON whitespace, sent after it.
    PaddedLength(String),
    /// These bytes (no line break) before `Content-Length` on the same line.
    GarbagePrefix(Vec<u8>),
    /// This many (33..=48) unknown headers before `Content-Length`.
    ManyHeaders(usize),
    /// A charset that is not UTF-8: the body is skipped.
    BadCharset(&'static str),
    /// A `Content-Length` value that is not a length.
    InvalidLength(&'static str),
    /// No `Content-Length`.
    MissingLength,
    /// Two different lengths.
    ConflictingLength,
    /// A length this many bytes (at least 1) short.
    ShortLength(usize),
    /// `Content-Length: 0`, with the body after it anyway.
    ZeroLength,
}

/// Content-Length values that are not lengths.
pub const INVALID_LENGTHS: &[&str] =
    &["-1", "abc", "1e3", "", "+5", "0x10", "5 5", "99999999999999999999999", "536870913", "１２", "4294967296000"];

/// The id of a client response.
#[derive(Clone, Debug)]
pub enum ResponseId {
    /// A valid id (its value does not matter: the server sent no request).
    Valid(Value),
    /// Raw JSON that is not a valid id.
    Invalid(&'static str),
    /// No id member.
    Missing,
}

/// What a client response carries.
#[derive(Clone, Debug)]
pub enum Payload {
    /// A result.
    Result(Value),
    /// An error object, valid or not.
    Error(Value),
    /// Both a result and an error.
    Both,
}

/// What one rendered message must cause.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Exactly one response with this id (a result or an error).
    Reply(Value),
    /// Exactly one error response with this id (null for invalid ids) and this code.
    Error(Value, i64),
    /// Between `min` and `max` parse errors with a null id.
    ParseErrors(usize, usize),
    /// Nothing addressed to the client (it may still get notifications).
    Nothing,
}

/// One rendered message.
#[derive(Clone, Debug)]
pub struct Step {
    /// What is written.
    pub bytes: Vec<u8>,
    /// What it must cause.
    pub expect: Vec<Expect>,
    /// The server handled a `shutdown` request (the session will end with exit code 0).
    pub shuts_down: bool,
}

/// Turns abstract messages into bytes and expectations, giving every valid id a value not used
/// before in the session.
#[derive(Default)]
pub struct Renderer {
    counter: i64,
    empty_used: bool,
    /// The valid request ids sent so far, for `$/cancelRequest`.
    sent: Vec<Value>,
    /// Whether `initialize` has succeeded.
    pub initialized: bool,
    /// Whether `shutdown` has been handled.
    pub shut_down: bool,
}

impl Renderer {
    /// A fresh integer id.
    pub fn fresh_id(&mut self) -> Value {
        self.counter += 1;
        json!(self.counter)
    }

    /// One message.
    pub fn render(&mut self, msg: &Msg) -> Step {
        let step = match msg {
            Msg::Call { call, envelope, framing } => self.call(call, envelope, framing),
            Msg::Response { id, payload } => response(id, payload),
            Msg::Cancel { back, as_request } => self.cancel(*back, *as_request),
            Msg::Garbage(bytes) => garbage(bytes),
        };
        self.shut_down |= step.shuts_down;
        step
    }

    fn id(&mut self, spec: &IdSpec) -> Option<String> {
        self.counter += 1;
        let n = self.counter;
        let id = match spec {
            IdSpec::Absent => return None,
            IdSpec::Small => json!(n),
            IdSpec::Negative => json!(-n),
            IdSpec::NearMax => json!(i64::MAX - n),
            IdSpec::NearMin => json!(i64::MIN + n),
            IdSpec::Text => json!(format!("id-{n}")),
            IdSpec::Unicode => json!(format!("\u{0}😀\u{301}{n}")),
            IdSpec::Empty if !self.empty_used => {
                self.empty_used = true;
                json!("")
            }
            IdSpec::Empty => json!(format!("e{n}")),
            IdSpec::Invalid(raw) => return Some((*raw).to_owned()),
        };
        self.sent.push(id.clone());
        Some(id.to_string())
    }

    fn call(&mut self, call: &Call, envelope: &Envelope, framing: &Framing) -> Step {
        let id_text = self.id(&call.id);
        let id_value = id_text.as_deref().and_then(|text| serde_json::from_str::<Value>(text).ok());
        let valid_id = id_value.as_ref().filter(|id| id.is_string() || id.as_i64().is_some()).cloned();
        let mut fields = vec![("jsonrpc", json!("2.0").to_string())];
        if let Some(text) = &id_text {
            fields.push(("id", text.clone()));
        }
        fields.push(("method", json!(call.method).to_string()));
        if let Some(params) = &call.params {
            fields.push(("params", params.to_string()));
        }
        // Frames whose body leaks into the header section carry a plain one-line body.
        let envelope = if framing.serves() { envelope } else { &Envelope::Plain };
        let body = write_envelope(envelope, &fields);
        let parses = serde_json::from_slice::<Value>(&body).is_ok();
        let reply_to = valid_id.clone().unwrap_or(Value::Null);
        let (mut expect, served_call) = if !parses {
            (Expect::Error(Value::Null, PARSE_ERROR), false)
        } else if let Some(code) = envelope.invalid_code() {
            let to = if envelope.is_response_or_not_object() { Value::Null } else { reply_to };
            (Expect::Error(to, code), false)
        } else if id_text.is_some() && valid_id.is_none() {
            (Expect::Error(Value::Null, INVALID_REQUEST), false)
        } else {
            (self.call_expectation(&call.method, valid_id.clone()), true)
        };
        let framing = resolve(framing, &body);
        let (bytes, framing_errors) = frame(&framing, &body);
        if !framing.serves() {
            expect = Expect::Nothing;
        }
        let shuts_down = framing.serves()
            && served_call
            && self.initialized
            && !self.shut_down
            && call.method == "shutdown"
            && valid_id.is_some();
        let mut all = vec![expect];
        all.extend(framing_errors);
        Step { bytes, expect: all, shuts_down }
    }

    /// What a well-formed call causes in the session's phase.
    fn call_expectation(&self, method: &str, id: Option<Value>) -> Expect {
        match id {
            None => Expect::Nothing,
            Some(id) if method == "exit" => Expect::Error(id, INVALID_REQUEST),
            Some(id) if !self.initialized => Expect::Error(id, NOT_INITIALIZED),
            Some(id) => Expect::Reply(id),
        }
    }

    fn cancel(&mut self, back: usize, as_request: bool) -> Step {
        let target = match self.sent.len() {
            0 => json!(back),
            len => self.sent[len - 1 - back % len].clone(),
        };
        let id = if as_request { IdSpec::Small } else { IdSpec::Absent };
        let call = Call { method: "$/cancelRequest".to_owned(), id, params: Some(json!({ "id": target })) };
        self.call(&call, &Envelope::Plain, &Framing::Plain)
    }
}

impl Envelope {
    /// The error code of an envelope that makes any message invalid (parse errors aside).
    fn invalid_code(&self) -> Option<i64> {
        match self {
            Envelope::Plain | Envelope::DuplicateKeys(_) | Envelope::Nested { .. } | Envelope::Whitespace(_) => None,
            Envelope::InvalidUtf8(_) | Envelope::Truncated(_) | Envelope::TrailingJunk(_) | Envelope::Empty => {
                Some(PARSE_ERROR)
            }
            _ => Some(INVALID_REQUEST),
        }
    }

    /// Whether the error for it carries a null id whatever the message's id (a message with a
    /// `method` and a `result` is a request gone wrong: its valid id is echoed).
    fn is_response_or_not_object(&self) -> bool {
        matches!(
            self,
            Envelope::NotObject(_)
                | Envelope::Batch
                | Envelope::InvalidUtf8(_)
                | Envelope::Truncated(_)
                | Envelope::TrailingJunk(_)
                | Envelope::Empty
        )
    }
}

/// The body of a call written with `envelope`; `fields` are the raw JSON of its members.
fn write_envelope(envelope: &Envelope, fields: &[(&'static str, String)]) -> Vec<u8> {
    let object = |fields: &[(&'static str, String)]| {
        let members: Vec<String> = fields.iter().map(|(key, value)| format!("{}:{value}", json!(key))).collect();
        format!("{{{}}}", members.join(","))
    };
    let replace = |key: &'static str, value: Option<String>| {
        let mut fields: Vec<(&'static str, String)> = fields.iter().filter(|(k, _)| *k != key).cloned().collect();
        if let Some(value) = value {
            fields.push((key, value));
        }
        object(&fields)
    };
    let plain = object(fields);
    let text = match envelope {
        Envelope::Plain => plain,
        Envelope::DuplicateKeys(junk) => {
            let mut doubled: Vec<(&'static str, String)> =
                fields.iter().filter(|(key, _)| *key != "params").map(|(key, _)| (*key, junk.to_string())).collect();
            doubled.extend(fields.iter().cloned());
            object(&doubled)
        }
        Envelope::Nested { depth, objects } => {
            let (open, close) = if *objects { ("{\"a\":", "}") } else { ("[", "]") };
            replace("params", Some(format!("{}1{}", open.repeat(*depth), close.repeat(*depth))))
        }
        Envelope::Whitespace(space) => format!("{space}{plain}{space}"),
        Envelope::NoVersion => replace("jsonrpc", None),
        Envelope::Version(version) => replace("jsonrpc", Some(version.to_string())),
        Envelope::MethodNotString(method) => replace("method", Some(method.to_string())),
        Envelope::WithResult(result) => {
            let mut fields = fields.to_vec();
            fields.push(("result", result.to_string()));
            object(&fields)
        }
        Envelope::WithError => {
            let mut fields = fields.to_vec();
            fields.push(("error", json!({"code": 1, "message": "m"}).to_string()));
            object(&fields)
        }
        Envelope::ScalarParams(params) => replace("params", Some(params.to_string())),
        Envelope::NoMethod => replace("method", None),
        Envelope::NotObject(value) => value.to_string(),
        Envelope::Batch => format!("[{plain}]"),
        Envelope::InvalidUtf8(at) => {
            let mut bytes = plain.into_bytes();
            bytes.insert(bytes.len() * *at as usize / 1000, 0xff);
            return bytes;
        }
        Envelope::Truncated(at) => {
            let cut = plain.len() * *at as usize / 1000;
            return plain.as_bytes()[..cut.min(plain.len() - 1)].to_vec();
        }
        Envelope::TrailingJunk(junk) => format!("{plain}{junk}"),
        Envelope::Empty => String::new(),
    };
    text.into_bytes()
}

impl Framing {
    /// Whether the frame's body reaches the guard as a message.
    pub fn serves(&self) -> bool {
        !matches!(
            self,
            Framing::BadCharset(_)
                | Framing::InvalidLength(_)
                | Framing::MissingLength
                | Framing::ConflictingLength
                | Framing::ShortLength(_)
                | Framing::ZeroLength
        )
    }
}

/// The framing actually used for `body`: a body that spells a Content-Length header would
/// resynchronise the reader inside it, and only an object can be cut short into certain garbage.
fn resolve(framing: &Framing, body: &[u8]) -> Framing {
    let lowered = String::from_utf8_lossy(body).to_ascii_lowercase();
    match framing {
        _ if lowered.contains("content-length:") => Framing::Plain,
        Framing::ShortLength(short) if body.first() != Some(&b'{') || *short >= body.len() => Framing::Plain,
        framing => framing.clone(),
    }
}

/// The frame's bytes and the parse errors the framing itself causes.
fn frame(framing: &Framing, body: &[u8]) -> (Vec<u8>, Vec<Expect>) {
    let n = body.len();
    let leaks = !body.is_empty() as usize;
    let (header, after, errors): (Vec<u8>, Vec<u8>, usize) = match framing {
        Framing::Plain => (format!("Content-Length: {n}\r\n\r\n").into(), vec![], 0),
        Framing::LowerCase => (format!("content-length: {n}\r\n\r\n").into(), vec![], 0),
        Framing::ExtraHeaders(content_type) => {
            (format!("X-Fuzz: 1\r\nContent-Type: {content_type}\r\nContent-Length: {n}\r\n\r\n").into(), vec![], 0)
        }
        Framing::BareNewlines => (format!("Content-Length: {n}\n\n").into(), vec![], 0),
        Framing::LeadingBlankLines(lines) => {
            (format!("{}Content-Length: {n}\r\n\r\n", "\r\n".repeat(*lines)).into(), vec![], 0)
        }
        Framing::DuplicateLength => (format!("Content-Length: {n}\r\nContent-Length: {n}\r\n\r\n").into(), vec![], 0),
        Framing::PaddedLength(pad) => {
            (format!("Content-Length: {}\r\n\r\n", n + pad.len()).into(), pad.clone().into_bytes(), 0)
        }
        Framing::GarbagePrefix(prefix) => {
            let lowered = String::from_utf8_lossy(prefix).to_ascii_lowercase();
            let sane = !prefix.is_empty() && !prefix.contains(&b'\n') && !lowered.contains("content-length:");
            let mut header = if sane { prefix.clone() } else { b"\xff".to_vec() };
            header.extend_from_slice(format!("Content-Length: {n}\r\n\r\n").as_bytes());
            (header, vec![], 1)
        }
        Framing::ManyHeaders(count) => {
            (format!("{}Content-Length: {n}\r\n\r\n", "X-Pad: 1\r\n".repeat(*count)).into(), vec![], 1)
        }
        Framing::BadCharset(charset) => (
            format!("Content-Type: application/vscode-jsonrpc; charset={charset}\r\nContent-Length: {n}\r\n\r\n")
                .into(),
            vec![],
            1,
        ),
        Framing::InvalidLength(value) => {
            (format!("Content-Length: {value}\r\n\r\n").into(), b"\r\n\r\n".to_vec(), 1 + leaks)
        }
        Framing::MissingLength => {
            (b"Content-Type: application/vscode-jsonrpc\r\n\r\n".to_vec(), b"\r\n\r\n".to_vec(), 1 + leaks)
        }
        Framing::ConflictingLength => (
            format!("Content-Length: {n}\r\nContent-Length: {}\r\n\r\n", n + 1).into(),
            b"\r\n\r\n".to_vec(),
            1 + leaks,
        ),
        Framing::ZeroLength => (b"Content-Length: 0\r\n\r\n".to_vec(), b"\r\n\r\n".to_vec(), 1 + leaks),
        Framing::ShortLength(short) => {
            // The cut object is not JSON; its tail is a garbage line (or a header line ended by
            // the blank line after it): two errors either way.
            (format!("Content-Length: {}\r\n\r\n", n - short).into(), b"\r\n\r\n".to_vec(), 2)
        }
    };
    let mut bytes = header;
    bytes.extend_from_slice(body);
    bytes.extend(after);
    (bytes, (0..errors).map(|_| Expect::ParseErrors(1, 1)).collect())
}

/// A client response.
fn response(id: &ResponseId, payload: &Payload) -> Step {
    let mut fields = vec![("jsonrpc", "\"2.0\"".to_owned())];
    let id_ok = match id {
        ResponseId::Valid(id) => {
            fields.push(("id", id.to_string()));
            true
        }
        ResponseId::Invalid(raw) => {
            fields.push(("id", (*raw).to_owned()));
            false
        }
        ResponseId::Missing => false,
    };
    let payload_ok = match payload {
        Payload::Result(result) => {
            fields.push(("result", result.to_string()));
            true
        }
        Payload::Error(error) => {
            fields.push(("error", error.to_string()));
            is_error_object(error)
        }
        Payload::Both => {
            fields.push(("result", "1".to_owned()));
            fields.push(("error", json!({"code": 1, "message": "m"}).to_string()));
            false
        }
    };
    let body = write_envelope(&Envelope::Plain, &fields);
    let expect = match serde_json::from_slice::<Value>(&body) {
        Err(_) => Expect::Error(Value::Null, PARSE_ERROR),
        Ok(_) if id_ok && payload_ok => Expect::Nothing,
        Ok(_) => Expect::Error(Value::Null, INVALID_REQUEST),
    };
    let (bytes, _) = frame(&Framing::Plain, &body);
    Step { bytes, expect: vec![expect], shuts_down: false }
}

/// A JSON-RPC error object: an integer `code`, a string `message`, maybe `data`, nothing else.
pub fn is_error_object(error: &Value) -> bool {
    let Some(object) = error.as_object() else { return false };
    object.get("code").is_some_and(|code| code.as_i64().is_some())
        && object.get("message").is_some_and(Value::is_string)
        && object.keys().all(|key| ["code", "message", "data"].contains(&key.as_str()))
}

/// A garbage step: the bytes, then a blank line so that no header section stays open.
fn garbage(bytes: &[u8]) -> Step {
    let mut bytes = bytes.to_vec();
    if String::from_utf8_lossy(&bytes).to_ascii_lowercase().contains("content-length:") {
        bytes.clear();
    }
    bytes.extend_from_slice(b"\r\n\r\n");
    let lines = bytes.iter().filter(|&&byte| byte == b'\n').count();
    Step { bytes, expect: vec![Expect::ParseErrors(0, lines)], shuts_down: false }
}

/// A frame carrying `body` as it should be written.
pub fn plain_frame(body: &[u8]) -> Vec<u8> {
    frame(&Framing::Plain, body).0
}
