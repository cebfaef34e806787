//! Server-sent events read from a byte stream that arrives in arbitrary pieces: each event's
//! `data` lines joined, comments and other fields skipped, CRLF or LF line ends. A stream that
//! ends inside an event, or a line without end that grows past a limit, is the caller's error
//! to report (a truncated stream), never a panic or unbounded memory.

/// The longest line kept while waiting for its end: an engine event is a few KiB at most.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Splits a byte stream into the `data` of its events.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    /// Bytes of the line not yet ended.
    line: Vec<u8>,
    /// The `data` lines of the event being read.
    data: Option<String>,
}

/// What a piece of the stream was wrong with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SseError {
    /// A line grew past [`MAX_LINE_BYTES`] without ending.
    LineTooLong,
    /// A line is not UTF-8.
    NotUtf8,
}

impl SseDecoder {
    /// Feeds the next bytes; returns the `data` of every event they complete, in order.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte != b'\n' {
                if self.line.len() >= MAX_LINE_BYTES {
                    return Err(SseError::LineTooLong);
                }
                self.line.push(byte);
                continue;
            }
            if self.line.last() == Some(&b'\r') {
                self.line.pop();
            }
            let line = std::mem::take(&mut self.line);
            let line = String::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
            if line.is_empty() {
                events.extend(self.data.take());
            } else if let Some(value) = line.strip_prefix("data") {
                if value.is_empty() || value.starts_with(':') {
                    let value = value.strip_prefix(':').unwrap_or(value);
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match &mut self.data {
                        Some(data) => {
                            data.push('\n');
                            data.push_str(value);
                        }
                        None => self.data = Some(value.to_owned()),
                    }
                }
            }
        }
        Ok(events)
    }

    /// Whether the stream stopped inside an event (a truncated stream).
    pub(crate) fn is_mid_event(&self) -> bool {
        self.data.is_some() || !self.line.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole_and_in_order() {
        let stream = b"data: {\"a\":1}\n\n: keep-alive\n\ndata:{\"b\":2}\r\n\r\nevent: x\ndata: one\ndata: two\n\n";
        for split in 0..stream.len() {
            let mut decoder = SseDecoder::default();
            let mut events = decoder.push(&stream[..split]).unwrap();
            events.extend(decoder.push(&stream[split..]).unwrap());
            assert_eq!(events, ["{\"a\":1}", "{\"b\":2}", "one\ntwo"], "split at {split}");
            assert!(!decoder.is_mid_event());
        }
    }

    #[test]
    fn a_stream_cut_inside_an_event_says_so() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: {\"content\":\"x\"}\n").unwrap().is_empty());
        assert!(decoder.is_mid_event());
        let mut decoder = SseDecoder::default();
        decoder.push(b"data: {\"cont").unwrap();
        assert!(decoder.is_mid_event());
    }

    #[test]
    fn endless_lines_and_invalid_utf8_are_errors() {
        let mut decoder = SseDecoder::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..=(MAX_LINE_BYTES / chunk.len()) {
            result = decoder.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SseError::LineTooLong));
        assert_eq!(SseDecoder::default().push(b"data: \xff\n\n"), Err(SseError::NotUtf8));
    }
}
