//! proptest strategies for [`Script`]s: framing, headers, JSON, ids, and the params of every
//! method the server handles, with wrong types and out-of-range values mixed in.

use super::script::*;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

/// Methods the server handles (and some it does not), as requests or notifications.
const METHODS: &[&str] = &[
    "initialized",
    "shutdown",
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didSave",
    "textDocument/didClose",
    "textDocument/inlineCompletion",
    "textDocument/completion",
    "splice/status",
    "$/cancelRequest",
    "$/setTrace",
    "$/progress",
    "$/frobnicate",
    "workspace/didChangeConfiguration",
    "workspace/didChangeWorkspaceFolders",
    "textDocument/hover",
    "textDocument/frobnicate",
    "",
    "initialize",
];

/// Documents the calls name: a few, so that edits and requests meet the same text.
const URIS: &[&str] = &[
    "file:///fuzz/a.py",
    "file:///fuzz/a.py",
    "file:///fuzz/b.rs",
    "untitled:Untitled-1",
    "file:///fuzz/%F0%9F%98%80%20x.py",
    "not a uri",
    "file://host/share/x.py",
    "",
];

/// A whole session.
pub fn script() -> impl Strategy<Value = Script> {
    (vec(message(false), 0..6), initialize_params(), vec(vec(message(true), 1..64), 1..4), end()).prop_map(
        |(before_initialize, initialize_params, batches, end)| Script {
            before_initialize,
            initialize_params,
            batches,
            end,
        },
    )
}

fn end() -> impl Strategy<Value = End> {
    prop_oneof![
        4 => Just(End::ShutdownThenExit),
        2 => Just(End::Exit),
        1 => Just(End::CloseInput),
        1 => (1usize..60).prop_map(End::CloseMidFrame),
    ]
}

/// One message; `initialized` says whether `initialize` may be among them (before it, the
/// session must stay uninitialized).
pub fn message(initialized: bool) -> impl Strategy<Value = Msg> {
    prop_oneof![
        10 => (call(initialized), envelope(), framing())
            .prop_map(|(call, envelope, framing)| Msg::Call { call, envelope, framing }),
        2 => (response_id(), payload()).prop_map(|(id, payload)| Msg::Response { id, payload }),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(back, as_request)| Msg::Cancel { back, as_request }),
        2 => garbage_bytes(200).prop_map(Msg::Garbage),
    ]
}

fn call(initialized: bool) -> impl Strategy<Value = Call> {
    let methods: Vec<&str> = METHODS.iter().copied().filter(|m| initialized || *m != "initialize").collect();
    let method = prop_oneof![
        8 => select(methods).prop_map(str::to_owned),
        1 => "[a-zA-Z/$_]{0,24}".prop_filter("not a lifecycle method", |m| !["exit", "initialize"].contains(&m.as_str())),
        1 => any::<String>().prop_filter("not a lifecycle method", |m| !["exit", "initialize"].contains(&m.as_str())),
        1 => Just("exit".to_owned()),
    ];
    (method, id_spec())
        .prop_flat_map(|(method, id)| {
            // `exit` as a notification ends the session: the script's end sends that one.
            let id = if method == "exit" && matches!(id, IdSpec::Absent) { IdSpec::Small } else { id };
            let params = params_for(&method);
            (Just(method), Just(id), params)
        })
        .prop_map(|(method, id, params)| Call { method, id, params })
}

fn id_spec() -> impl Strategy<Value = IdSpec> {
    prop_oneof![
        6 => Just(IdSpec::Small),
        3 => Just(IdSpec::Absent),
        1 => Just(IdSpec::Negative),
        1 => Just(IdSpec::NearMax),
        1 => Just(IdSpec::NearMin),
        1 => Just(IdSpec::Text),
        1 => Just(IdSpec::Unicode),
        1 => Just(IdSpec::Empty),
        2 => select(INVALID_IDS).prop_map(IdSpec::Invalid),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    prop_oneof![
        30 => Just(Envelope::Plain),
        2 => json_value().prop_map(Envelope::DuplicateKeys),
        2 => (100usize..160, any::<bool>()).prop_map(|(depth, objects)| Envelope::Nested { depth, objects }),
        1 => "[ \t\r\n]{1,8}".prop_map(Envelope::Whitespace),
        1 => Just(Envelope::NoVersion),
        1 => select(vec![json!("1.0"), json!(2.0), json!(2), Value::Null, json!("2.0 "), json!(["2.0"])]).prop_map(Envelope::Version),
        1 => non_string().prop_map(Envelope::MethodNotString),
        1 => json_value().prop_map(Envelope::WithResult),
        1 => Just(Envelope::WithError),
        1 => scalar().prop_map(|v| if v.is_null() { json!(0) } else { v }).prop_map(Envelope::ScalarParams),
        1 => Just(Envelope::NoMethod),
        1 => not_object().prop_map(Envelope::NotObject),
        1 => Just(Envelope::Batch),
        1 => (0u16..=1000).prop_map(Envelope::InvalidUtf8),
        1 => (0u16..1000).prop_map(Envelope::Truncated),
        1 => select(vec!["x", "}", "{}", "1", "\0", ",", " x", "\u{feff}"]).prop_map(|j| Envelope::TrailingJunk(j.to_owned())),
        1 => Just(Envelope::Empty),
    ]
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        30 => Just(Framing::Plain),
        1 => Just(Framing::LowerCase),
        1 => select(vec![
            "application/vscode-jsonrpc; charset=utf-8",
            "application/vscode-jsonrpc; charset=utf8",
            "application/vscode-jsonrpc; charset=UTF-8",
            "application/vscode-jsonrpc",
            "application/json; charset=\"utf-8\"",
        ])
        .prop_map(Framing::ExtraHeaders),
        1 => Just(Framing::BareNewlines),
        1 => (1usize..4).prop_map(Framing::LeadingBlankLines),
        1 => Just(Framing::DuplicateLength),
        1 => "[ \t\r\n]{1,16}".prop_map(Framing::PaddedLength),
        2 => prop_oneof![Just(vec![0xff]), garbage_line(2000)].prop_map(Framing::GarbagePrefix),
        1 => (33usize..=48).prop_map(Framing::ManyHeaders),
        1 => select(vec!["latin1", "utf-16", "ascii", ""]).prop_map(Framing::BadCharset),
        1 => select(INVALID_LENGTHS).prop_map(Framing::InvalidLength),
        1 => Just(Framing::MissingLength),
        1 => Just(Framing::ConflictingLength),
        1 => (1usize..80).prop_map(Framing::ShortLength),
        1 => Just(Framing::ZeroLength),
    ]
}

fn response_id() -> impl Strategy<Value = ResponseId> {
    prop_oneof![
        4 => prop_oneof![any::<i64>().prop_map(Value::from), ".{0,8}".prop_map(Value::from), Just(Value::Null)]
            .prop_map(ResponseId::Valid),
        1 => select(INVALID_IDS).prop_filter("not null", |id| *id != "null").prop_map(ResponseId::Invalid),
        1 => Just(ResponseId::Missing),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    let valid_error =
        (any::<i64>(), ".{0,12}", proptest::option::of(json_value())).prop_map(|(code, message, data)| {
            let mut error = json!({ "code": code, "message": message });
            if let Some(data) = data {
                error["data"] = data;
            }
            error
        });
    let bad_error = select(vec![
        json!({"code": 1.5, "message": "m"}),
        json!({"code": "1", "message": "m"}),
        json!({"code": 9223372036854775808u64, "message": "m"}),
        json!({"message": "m"}),
        json!({"code": 1}),
        json!({"code": 1, "message": 2}),
        json!({"code": 1, "message": "m", "extra": true}),
        json!("boom"),
        json!([1, "m"]),
        Value::Null,
    ]);
    prop_oneof![
        3 => json_value().prop_map(Payload::Result),
        2 => valid_error.prop_map(Payload::Error),
        2 => bad_error.prop_map(Payload::Error),
        1 => Just(Payload::Both),
    ]
}

/// Random bytes, often high or control bytes, with line breaks.
fn garbage_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            4 => any::<u8>(),
            2 => select(b"abcXYZ: -\t\r\n{}\"".to_vec()),
            1 => 0x80u8..=0xff,
        ],
        0..max,
    )
}

/// Garbage for one line: no line break.
fn garbage_line(max: usize) -> impl Strategy<Value = Vec<u8>> {
    garbage_bytes(max).prop_map(|mut bytes| {
        bytes.retain(|&byte| byte != b'\n');
        bytes.insert(0, 0x80);
        bytes
    })
}

/// `params` for `method`: mostly its real shape with odd values, sometimes anything.
fn params_for(method: &str) -> BoxedStrategy<Option<Value>> {
    let shaped: BoxedStrategy<Value> = match method {
        "initialize" => initialize_params().boxed(),
        "textDocument/didOpen" => (uri(), text(), number()).prop_map(|(uri, text, version)| {
            json!({ "textDocument": { "uri": uri, "languageId": "python", "version": version, "text": text } })
        })
        .boxed(),
        "textDocument/didChange" => (uri(), number(), vec(content_change(), 0..4))
            .prop_map(|(uri, version, changes)| {
                json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": changes })
            })
            .boxed(),
        "textDocument/didSave" => (uri(), proptest::option::of(text())).prop_map(|(uri, text)| {
            let mut params = json!({ "textDocument": { "uri": uri } });
            if let Some(text) = text {
                params["text"] = json!(text);
            }
            params
        })
        .boxed(),
        "textDocument/didClose" => uri().prop_map(|uri| json!({ "textDocument": { "uri": uri } })).boxed(),
        "textDocument/inlineCompletion" => (uri(), position(), number(), proptest::option::of((range(), text())))
            .prop_map(|(uri, position, trigger, selected)| {
                let mut context = json!({ "triggerKind": trigger });
                if let Some((range, text)) = selected {
                    context["selectedCompletionInfo"] = json!({ "range": range, "text": text });
                }
                json!({ "textDocument": { "uri": uri }, "position": position, "context": context })
            })
            .boxed(),
        "textDocument/completion" => (uri(), position(), proptest::option::of((number(), ".{0,2}")))
            .prop_map(|(uri, position, context)| {
                let mut params = json!({ "textDocument": { "uri": uri }, "position": position });
                if let Some((kind, character)) = context {
                    params["context"] = json!({ "triggerKind": kind, "triggerCharacter": character });
                }
                params
            })
            .boxed(),
        "$/cancelRequest" => prop_oneof![number(), ".{0,6}".prop_map(Value::from)].prop_map(|id| json!({ "id": id })).boxed(),
        "$/setTrace" => select(vec![json!("off"), json!("messages"), json!("verbose"), json!("loud"), json!(1)])
            .prop_map(|value| json!({ "value": value }))
            .boxed(),
        "workspace/didChangeConfiguration" => json_value().prop_map(|settings| json!({ "settings": settings })).boxed(),
        _ => structured().boxed(),
    };
    prop_oneof![
        12 => (shaped, vec(mutation(), 0..3)).prop_map(|(mut params, mutations)| {
            for mutation in &mutations {
                mutation.apply(&mut params);
            }
            Some(params)
        }),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => structured().prop_map(Some),
    ]
    .boxed()
}

/// `initialize` params: capabilities that steer the server (position encodings, progress),
/// options and folders, with odd values.
pub fn initialize_params() -> impl Strategy<Value = Value> {
    let encodings = vec(select(vec!["utf-8", "utf-16", "utf-32", "latin1", ""]), 0..3);
    let options = prop_oneof![
        Just(Value::Null),
        json_value(),
        (number(), number(), select(vec!["auto", "always", "never", "sometimes"])).prop_map(|(ctx, max, mode)| {
            json!({ "ctx": ctx, "maxTokens": max, "retrieval": mode, "model": "/elsewhere/model.gguf" })
        }),
    ];
    (encodings, options, proptest::option::of(uri()), any::<bool>(), vec(mutation(), 0..2)).prop_map(
        |(encodings, options, root, progress, mutations)| {
            let mut params = json!({
                "processId": null,
                "rootUri": root.clone(),
                "capabilities": {
                    "general": { "positionEncodings": encodings },
                    "window": { "workDoneProgress": progress }
                },
                "initializationOptions": options,
                "workspaceFolders": root.map(|uri| json!([{ "uri": uri, "name": "fuzz" }]))
            });
            for mutation in &mutations {
                mutation.apply(&mut params);
            }
            params
        },
    )
}

fn content_change() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (range(), text()).prop_map(|(range, text)| json!({ "range": range, "text": text })),
        1 => text().prop_map(|text| json!({ "text": text })),
        1 => (range(), number(), text()).prop_map(|(range, length, text)| json!({ "range": range, "rangeLength": length, "text": text })),
    ]
}

fn range() -> impl Strategy<Value = Value> {
    (position(), position()).prop_map(|(start, end)| json!({ "start": start, "end": end }))
}

fn position() -> impl Strategy<Value = Value> {
    (number(), number()).prop_map(|(line, character)| json!({ "line": line, "character": character }))
}

/// Mostly small integers (positions inside short documents), sometimes out of range or not
/// integers at all.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => (0u32..12).prop_map(Value::from),
        2 => (0u32..2000).prop_map(Value::from),
        1 => select(vec![
            json!(u32::MAX),
            json!(u32::MAX as u64 + 1),
            json!(i32::MAX),
            json!(-1),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1.5),
            json!(1e300),
            json!(-0.0),
            json!("3"),
            Value::Null,
            json!(true),
        ]),
    ]
}

fn uri() -> impl Strategy<Value = String> {
    prop_oneof![8 => select(URIS).prop_map(str::to_owned), 1 => any::<String>()]
}

/// Document text: code, line breaks of every kind, characters outside the BMP, NULs.
fn text() -> impl Strategy<Value = String> {
    let piece = select(vec![
        "def f(x):\n",
        "    return x",
        "\r\n",
        "\r",
        "\n",
        "😀",
        "中文",
        "é",
        "\u{301}",
        "\0",
        "\u{feff}",
        "\t",
        " ",
        "a",
        "(",
        "'''",
    ]);
    prop_oneof![
        8 => vec(piece, 0..24).prop_map(|pieces| pieces.concat()),
        1 => any::<String>(),
        1 => (1usize..4000).prop_map(|n| "x = 1\n".repeat(n)),
    ]
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(".{0,6}", inner, 0..4).prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ]
}

/// An object or an array.
fn structured() -> impl Strategy<Value = Value> {
    prop_oneof![
        vec(json_value(), 0..4).prop_map(Value::Array),
        btree_map(".{0,6}", json_value(), 0..4).prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
    ]
}

fn non_string() -> impl Strategy<Value = Value> {
    prop_oneof![scalar().prop_map(|v| if v.is_string() { Value::Null } else { v }), structured()]
}

fn not_object() -> impl Strategy<Value = Value> {
    prop_oneof![scalar(), vec(json_value(), 0..4).prop_map(Value::Array)]
}

/// One change to a JSON value: a node replaced with an odd value, removed, or given an extra
/// member. Which node is chosen by index in a walk of the value, so shrinking stays meaningful.
#[derive(Clone, Debug)]
pub struct Mutation {
    node: usize,
    kind: u8,
    value: Value,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let odd = prop_oneof![number(), scalar(), json_value(), Just(json!("x".repeat(10_000)))];
    (any::<usize>(), 0u8..3, odd).prop_map(|(node, kind, value)| Mutation { node, kind, value })
}

impl Mutation {
    fn apply(&self, root: &mut Value) {
        // The root stays an object or array: scalar params are a different test (`Envelope`).
        let count = count_nodes(root);
        if count == 1 && self.kind == 0 {
            return;
        }
        let mut target = self.node % count;
        if target == 0 && self.kind == 0 {
            target = 1;
        }
        let Some(node) = nth_node(root, &mut target) else { return };
        match (self.kind, node) {
            (1, Value::Object(object)) if !object.is_empty() => {
                let key = object.keys().nth(self.node % object.len()).cloned().unwrap_or_default();
                object.remove(&key);
            }
            (1, Value::Array(items)) if !items.is_empty() => {
                items.remove(self.node % items.len());
            }
            (2, Value::Object(object)) => {
                object.insert(format!("extra{}", self.node % 7), self.value.clone());
            }
            (2, Value::Array(items)) => items.push(self.value.clone()),
            (0, node) => *node = self.value.clone(),
            _ => {}
        }
    }
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(members) => members.values().map(count_nodes).sum(),
        _ => 0,
    }
}

fn nth_node<'a>(value: &'a mut Value, n: &mut usize) -> Option<&'a mut Value> {
    if *n == 0 {
        return Some(value);
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().find_map(|item| nth_node(item, n)),
        Value::Object(members) => members.values_mut().find_map(|member| nth_node(member, n)),
        _ => None,
    }
}
