//! A guard between the client's byte stream and `tower-lsp-server`: malformed input is answered
//! here and never reaches it.
//!
//! `tower-lsp-server` reads its input through a `FramedRead`, which ends the stream at the first
//! decoding error, so one malformed message would end the session. The guard reads the frames
//! itself ([`framing`](super::framing)), forwards the messages that [`admit`] lets through to the
//! server over an in-memory pipe, and answers the rest with a JSON-RPC error (-32700 parse error,
//! -32600 invalid request). The server's own output is forwarded frame by frame, so the two
//! writers never interleave; the guard's errors go first when both are ready, so an error is
//! written before the response to any message that came after it.

use super::admission::{admit, Rejection};
use super::framing::{write_frame, Frame, FrameReader};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Buffer of each in-memory pipe.
const PIPE_BYTES: usize = 1 << 20;

/// Error replies waiting to be written. When the client does not read them, the guard stops
/// reading its input instead of queueing more.
const QUEUED_ERRORS: usize = 64;

/// How long the guard may take, after the session, to write out what the server wrote (a client
/// that stops reading must not keep the process alive).
const FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// The server's side of a guarded connection, and the guard's tasks.
pub struct Guarded {
    /// What the server reads: admitted messages only.
    pub server_input: DuplexStream,
    /// What the server writes; it reaches the client whole frame by whole frame.
    pub server_output: DuplexStream,
    /// The tasks that read and write the client's streams.
    pub tasks: GuardTasks,
}

/// The guard's reading and writing tasks.
pub struct GuardTasks {
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

/// Starts the guard tasks on the current runtime.
pub fn guard(
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
) -> Guarded {
    let (server_input, to_server) = tokio::io::duplex(PIPE_BYTES);
    let (server_output, from_server) = tokio::io::duplex(PIPE_BYTES);
    let (errors_tx, errors_rx) = mpsc::channel(QUEUED_ERRORS);
    let reader = tokio::spawn(read_input(input, to_server, errors_tx));
    let writer = tokio::spawn(forward_output(from_server, errors_rx, output));
    Guarded { server_input, server_output, tasks: GuardTasks { reader, writer } }
}

impl GuardTasks {
    /// Stops reading the client (the server has finished: after `exit` nothing more is read) and
    /// waits, up to [`FLUSH_LIMIT`], until what the server wrote has reached the client. Call it
    /// once the server has dropped both of its streams.
    pub async fn finish(self) {
        self.reader.abort();
        if tokio::time::timeout(FLUSH_LIMIT, self.writer).await.is_err() {
            tracing::warn!("the client did not read the last messages within {FLUSH_LIMIT:?}");
        }
    }
}

/// Reads the client's frames: admitted messages go to the server, the rest to the error queue.
async fn read_input(input: impl AsyncRead + Unpin, mut to_server: DuplexStream, errors: mpsc::Sender<Rejection>) {
    let mut frames = FrameReader::new(BufReader::new(input));
    while let Some(frame) = frames.next().await {
        let rejection = match frame {
            Frame::Body(body) => match admit(&body) {
                Ok(message) => {
                    if write_frame(&mut to_server, &message).await.is_err() {
                        break;
                    }
                    continue;
                }
                Err(rejection) => rejection,
            },
            Frame::Garbage(reason) => Rejection::parse_error(&reason),
        };
        tracing::warn!(code = rejection.code, id = %rejection.id, "refused a malformed message: {}", rejection.message);
        if errors.send(rejection).await.is_err() {
            break;
        }
    }
    // Dropping `to_server` tells the server that the client has gone.
}

/// Copies the server's frames and the guard's error responses to the real output, whole frames
/// at a time, errors first. Ends when the server closes its output.
async fn forward_output(
    from_server: DuplexStream,
    mut errors: mpsc::Receiver<Rejection>,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut from_server = FrameReader::new(BufReader::new(from_server));
    let mut errors_open = true;
    loop {
        let body = tokio::select! {
            biased;
            error = errors.recv(), if errors_open => match error {
                Some(rejection) => serde_json::to_vec(&rejection.to_response()).unwrap_or_default(),
                None => {
                    errors_open = false;
                    continue;
                }
            },
            frame = from_server.next() => match frame {
                Some(Frame::Body(body)) => body,
                Some(Frame::Garbage(reason)) => {
                    tracing::error!("the server wrote a malformed frame: {reason}");
                    continue;
                }
                None => return,
            },
        };
        if write_frame(&mut output, &body).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn frame(body: &str) -> Vec<u8> {
        let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
        frame.extend_from_slice(body.as_bytes());
        frame
    }

    /// Runs the guard over `input`; returns what the server received and what the client got.
    fn guarded(input: Vec<u8>) -> (Vec<Value>, Vec<Value>) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let (mut client, client_side) = tokio::io::duplex(1 << 16);
            let (client_in, client_out) = tokio::io::split(client_side);
            let Guarded { mut server_input, server_output, tasks } = guard(client_in, client_out);
            client.write_all(&input).await.expect("write");
            client.shutdown().await.expect("close");
            let mut received = Vec::new();
            server_input.read_to_end(&mut received).await.expect("read");
            drop(server_output);
            tasks.finish().await;
            drop(server_input);
            let mut replies = Vec::new();
            client.read_to_end(&mut replies).await.expect("read");
            (bodies(&received), bodies(&replies))
        })
    }

    fn bodies(mut bytes: &[u8]) -> Vec<Value> {
        let mut found = Vec::new();
        while let Some(rest) = bytes.strip_prefix(b"Content-Length: ") {
            let end = rest.iter().position(|&b| b == b'\r').expect("header end");
            let length: usize = std::str::from_utf8(&rest[..end]).unwrap().parse().unwrap();
            let body = &rest[end + 4..end + 4 + length];
            found.push(serde_json::from_slice(body).expect("json"));
            bytes = &rest[end + 4 + length..];
        }
        assert!(bytes.is_empty(), "unframed output: {:?}", String::from_utf8_lossy(bytes));
        found
    }

    const STATUS: &str = r#"{"jsonrpc":"2.0","id":10000007,"method":"splice/status","params":{}}"#;

    #[test]
    fn a_high_byte_in_the_header_is_reported_and_the_frame_is_served() {
        let mut input = b"\xff".to_vec();
        input.extend(frame(STATUS));
        let (received, replies) = guarded(input);
        assert_eq!(received, vec![serde_json::from_str::<Value>(STATUS).unwrap()]);
        assert_eq!(replies.len(), 1, "{replies:?}");
        assert_eq!((&replies[0]["id"], &replies[0]["error"]["code"]), (&Value::Null, &json!(-32700)));
    }

    #[test]
    fn every_malformed_message_gets_one_error_and_the_rest_still_flows() {
        let mut input = frame(r#"{"jsonrpc":"2.0","id":1e3,"method":"splice/status","params":{}}"#);
        input.extend(b"garbage line\r\n");
        input.extend(frame("{not json"));
        input.extend(frame(r#"{"jsonrpc":"2.0","id":10000276,"method":"splice/status","result":1}"#));
        input.extend(frame(STATUS));
        let (received, replies) = guarded(input);
        assert_eq!(received.len(), 1, "only the good message reaches the server: {received:?}");
        let codes: Vec<_> = replies.iter().map(|r| (r["id"].clone(), r["error"]["code"].as_i64())).collect();
        assert_eq!(
            codes,
            vec![
                (Value::Null, Some(-32600)),
                (Value::Null, Some(-32700)),
                (Value::Null, Some(-32700)),
                (json!(10000276), Some(-32600))
            ]
        );
    }
}
