//! A guard between stdio and `tower-lsp-server`: malformed messages are answered here and never
//! reach it.
//!
//! `tower-lsp-server` reads stdin through a `FramedRead`, which ends the stream after the first
//! decoding error, so one malformed message would end the session. This module reads the frames
//! itself, forwards the well-formed JSON-RPC messages to the server through an in-memory pipe,
//! and answers the rest with a JSON-RPC error (-32700 parse error, -32600 invalid request). The
//! server's own output is forwarded frame by frame, so the two writers never interleave.

use serde_json::{json, Value};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
};
use tokio::sync::mpsc;

/// Buffer of each in-memory pipe.
const PIPE_BYTES: usize = 1 << 20;

/// The largest message body accepted (a 50 MB document plus JSON escaping fits).
const MAX_BODY_BYTES: usize = 512 << 20;

/// Starts the guard tasks on the current runtime. Returns the stream the server reads and the
/// stream it writes.
pub fn guard(
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
) -> (DuplexStream, DuplexStream) {
    let (server_in, mut to_server) = tokio::io::duplex(PIPE_BYTES);
    let (server_out, from_server) = tokio::io::duplex(PIPE_BYTES);
    let (errors_tx, errors_rx) = mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        loop {
            match read_frame(&mut input).await {
                Ok(Some(body)) => match check(&body) {
                    Ok(()) => {
                        if write_frame(&mut to_server, &body).await.is_err() {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!("refused a malformed message: {}", error["error"]["message"]);
                        let _ = errors_tx.send(error);
                    }
                },
                Ok(None) => break,
                Err(FrameError::Header(reason)) => {
                    tracing::warn!("refused a message with a bad header: {reason}");
                    let _ = errors_tx.send(error_response(Value::Null, -32700, &format!("Parse error: {reason}")));
                }
                Err(FrameError::Io) => break,
            }
        }
        // Dropping `to_server` tells the server that the client has gone.
    });
    tokio::spawn(forward_output(from_server, errors_rx, output));
    (server_in, server_out)
}

enum FrameError {
    /// The header block was unusable; the frame was skipped.
    Header(String),
    /// The input is closed or broken.
    Io,
}

/// Reads one `Content-Length` framed message. `Ok(None)` at the end of the input.
async fn read_frame(input: &mut (impl AsyncBufRead + Unpin)) -> Result<Option<Vec<u8>>, FrameError> {
    let mut length: Option<usize> = None;
    let mut bad_header = None;
    let mut saw_header = false;
    loop {
        let mut line = String::new();
        match input.read_line(&mut line).await {
            Ok(0) if !saw_header => return Ok(None),
            Ok(0) | Err(_) => return Err(FrameError::Io),
            Ok(_) => {}
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            if saw_header {
                break;
            }
            continue;
        }
        saw_header = true;
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                match value.trim().parse::<usize>() {
                    Ok(n) if n <= MAX_BODY_BYTES => length = Some(n),
                    _ => bad_header = Some(format!("invalid Content-Length {:?}", value.trim())),
                }
            }
        }
    }
    if let Some(reason) = bad_header {
        return Err(FrameError::Header(reason));
    }
    let Some(length) = length else {
        return Err(FrameError::Header("missing Content-Length header".to_owned()));
    };
    let mut body = vec![0; length];
    input.read_exact(&mut body).await.map_err(|_| FrameError::Io)?;
    Ok(Some(body))
}

/// `Ok` for a body the server can take: a JSON object with `"jsonrpc": "2.0"` that is a request,
/// a notification or a response. Otherwise the error response to send back.
fn check(body: &[u8]) -> Result<(), Value> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| error_response(Value::Null, -32700, &format!("Parse error: {err}")))?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let Some(object) = value.as_object() else {
        return Err(error_response(Value::Null, -32600, "Invalid request: a message must be a JSON object"));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(error_response(id, -32600, "Invalid request: \"jsonrpc\" must be \"2.0\""));
    }
    let is_call = object.get("method").is_some_and(Value::is_string);
    let is_response = object.contains_key("id") && (object.contains_key("result") || object.contains_key("error"));
    let id_ok = matches!(object.get("id"), None | Some(Value::Number(_) | Value::String(_) | Value::Null));
    if !(is_call || is_response) || !id_ok {
        return Err(error_response(id, -32600, "Invalid request: not a JSON-RPC request, notification or response"));
    }
    Ok(())
}

fn error_response(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

async fn write_frame(output: &mut (impl AsyncWrite + Unpin), body: &[u8]) -> std::io::Result<()> {
    output.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()).await?;
    output.write_all(body).await?;
    output.flush().await
}

/// Copies the server's frames and the guard's error responses to the real output, whole frames
/// at a time.
async fn forward_output(
    from_server: DuplexStream,
    mut errors: mpsc::UnboundedReceiver<Value>,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut from_server = BufReader::new(from_server);
    let mut errors_open = true;
    loop {
        tokio::select! {
            frame = read_frame(&mut from_server) => match frame {
                Ok(Some(body)) => {
                    if write_frame(&mut output, &body).await.is_err() {
                        return;
                    }
                }
                _ => return,
            },
            error = errors.recv(), if errors_open => match error {
                Some(error) => {
                    let body = serde_json::to_vec(&error).unwrap_or_default();
                    if write_frame(&mut output, &body).await.is_err() {
                        return;
                    }
                }
                None => errors_open = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn well_formed_messages_pass() {
        assert!(check(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#).is_ok());
        assert!(check(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#).is_ok());
        assert!(check(br#"{"jsonrpc":"2.0","id":"a","result":null}"#).is_ok());
    }

    #[test]
    fn malformed_messages_get_the_right_error() {
        assert_eq!(check(b"{not json").unwrap_err()["error"]["code"], -32700);
        assert_eq!(check(b"[1, 2]").unwrap_err()["error"]["code"], -32600);
        let no_version = check(br#"{"id":4,"method":"x"}"#).unwrap_err();
        assert_eq!((no_version["error"]["code"].as_i64(), no_version["id"].as_i64()), (Some(-32600), Some(4)));
        assert_eq!(check(br#"{"jsonrpc":"2.0","id":5}"#).unwrap_err()["error"]["code"], -32600);
        assert_eq!(check(br#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#).unwrap_err()["error"]["code"], -32600);
    }
}
