//! `Content-Length` framing, read as bytes: each message's header section, its body, and the way
//! back to the next frame after garbage.
//!
//! LSP headers are ASCII, but a client may send any byte, so header lines are read and matched
//! as bytes and never decoded as text (a byte ≥ 0x80 used to end the session). A line that is not
//! a header is garbage: it is skipped and reported, and if a `Content-Length:` header starts later
//! on the same line (a frame glued to the tail of one whose length was too small), reading resumes
//! there. Lines and sections are bounded, so a client cannot make the reader buffer unbounded
//! header bytes; a body is read as it arrives, never allocated up front from its declared length.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest header line kept whole. A longer line is garbage, of which only the last
/// [`LONG_LINE_TAIL`] bytes are kept, to find a `Content-Length` header glued to its end.
pub const MAX_HEADER_LINE: usize = 1024;

/// How much of the end of an over-long line is kept (a `Content-Length` header fits).
const LONG_LINE_TAIL: usize = 128;

/// The most header lines in one section; the line after them is reported and the section
/// started afresh.
pub const MAX_HEADER_LINES: usize = 32;

/// The largest message body accepted (a 50 MB document plus JSON escaping fits).
pub const MAX_BODY_BYTES: u64 = 512 << 20;

/// The header that every frame needs, matched without regard to case.
const CONTENT_LENGTH: &[u8] = b"content-length:";

/// What the reader found next in the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A message body, exactly as many bytes as its `Content-Length` said.
    Body(Vec<u8>),
    /// Input that is not a usable frame, already skipped: why, in words for a -32700 reply.
    Garbage(String),
}

/// Reads [`Frame`]s from a byte stream. Cheap to create; owns the stream.
pub struct FrameReader<R> {
    input: R,
    section: Section,
}

/// The header section read so far.
#[derive(Default)]
struct Section {
    /// Well-formed header lines seen.
    headers: usize,
    length: Length,
    /// A `Content-Type` whose charset is not UTF-8.
    bad_charset: Option<String>,
}

/// What the section's `Content-Length` headers said.
#[derive(Default)]
enum Length {
    #[default]
    Missing,
    Valid(u64),
    /// Unusable (not a number, too large, or two different values): the body cannot be found.
    Invalid(String),
}

/// One line of the header section, without its line break.
enum Line {
    /// The whole line.
    Whole(Vec<u8>),
    /// A line longer than [`MAX_HEADER_LINE`]: only its last [`LONG_LINE_TAIL`] bytes.
    Long(Vec<u8>),
}

impl<R: AsyncBufRead + Unpin> FrameReader<R> {
    /// A reader at the start of `input`.
    pub fn new(input: R) -> Self {
        Self { input, section: Section::default() }
    }

    /// The next frame or garbage report; `None` when the input ends (an unfinished frame at the
    /// end is dropped) or fails.
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            let line = self.read_line().await?;
            let (line, long) = match line {
                Line::Whole(line) => (line, false),
                Line::Long(tail) => (tail, true),
            };
            if line.is_empty() && !long {
                if self.section.headers == 0 {
                    // Blank lines between frames are harmless.
                    continue;
                }
                let section = std::mem::take(&mut self.section);
                return self.finish(section).await;
            }
            if let Some(report) = self.take_line(&line, long) {
                return Some(Frame::Garbage(report));
            }
        }
    }

    /// Adds one non-blank header line to the section. Returns a report if (part of) the line was
    /// garbage or the section grew too long.
    fn take_line(&mut self, line: &[u8], long: bool) -> Option<String> {
        let start = find_ignoring_case(line, CONTENT_LENGTH);
        let (header, garbage) = match (long, start) {
            (true, start) => {
                (start.map(|at| &line[at..]), Some(format!("a header line longer than {MAX_HEADER_LINE} bytes")))
            }
            (false, Some(at)) if at > 0 => (
                Some(&line[at..]),
                Some(format!("garbage before a Content-Length header: \"{}\"", snippet(&line[..at]))),
            ),
            (false, _) => (Some(line), None),
        };
        let Some((name, value)) = header.and_then(parse_header) else {
            return Some(garbage.unwrap_or_else(|| format!("not a header line: \"{}\"", snippet(line))));
        };
        if self.section.headers == MAX_HEADER_LINES {
            self.section = Section::default();
            return Some(format!("more than {MAX_HEADER_LINES} header lines in one message"));
        }
        self.section.headers += 1;
        self.section.take_header(name, value);
        garbage
    }

    /// Ends a section at its blank line: reads the body, or skips what cannot be served.
    async fn finish(&mut self, section: Section) -> Option<Frame> {
        match (section.length, section.bad_charset) {
            (Length::Valid(length), None) => {
                let mut body = Vec::with_capacity(length.min(1 << 20) as usize);
                let read = (&mut self.input).take(length).read_to_end(&mut body).await.ok()?;
                (read as u64 == length).then_some(Frame::Body(body))
            }
            (Length::Valid(length), Some(charset)) => {
                let skipped =
                    tokio::io::copy(&mut (&mut self.input).take(length), &mut tokio::io::sink()).await.ok()?;
                (skipped == length).then(|| Frame::Garbage(format!("unsupported charset {charset:?} (LSP is UTF-8)")))
            }
            (Length::Invalid(reason), _) => Some(Frame::Garbage(reason)),
            (Length::Missing, _) => Some(Frame::Garbage("missing Content-Length header".to_owned())),
        }
    }

    /// Reads up to and including the next `\n`; a trailing `\r` is dropped. `None` at the end of
    /// the input, also in the middle of a line.
    async fn read_line(&mut self) -> Option<Line> {
        let mut line = Vec::new();
        let mut long = false;
        loop {
            let available = self.input.fill_buf().await.ok()?;
            if available.is_empty() {
                return None;
            }
            let newline = available.iter().position(|&byte| byte == b'\n');
            let used = newline.map_or(available.len(), |at| at + 1);
            line.extend_from_slice(&available[..newline.unwrap_or(used)]);
            self.input.consume(used);
            if line.len() > MAX_HEADER_LINE {
                long = true;
                line.drain(..line.len() - LONG_LINE_TAIL);
            }
            if newline.is_some() {
                break;
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(if long { Line::Long(line) } else { Line::Whole(line) })
    }
}

impl Section {
    fn take_header(&mut self, name: &[u8], value: &[u8]) {
        if name.eq_ignore_ascii_case(b"content-length") {
            self.length = match (std::mem::take(&mut self.length), parse_length(value)) {
                (Length::Invalid(reason), _) => Length::Invalid(reason),
                (_, Err(reason)) => Length::Invalid(reason),
                (Length::Missing, Ok(length)) => Length::Valid(length),
                (Length::Valid(first), Ok(length)) if first == length => Length::Valid(length),
                (Length::Valid(first), Ok(length)) => {
                    Length::Invalid(format!("conflicting Content-Length headers: {first} and {length}"))
                }
            };
        } else if name.eq_ignore_ascii_case(b"content-type") {
            self.bad_charset = unsupported_charset(value);
        }
    }
}

/// A `name: value` header line: `name` an HTTP token, `value` printable ASCII.
fn parse_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
    let token = |byte: &u8| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(byte);
    let printable = |byte: &u8| *byte == b'\t' || (b' '..=b'~').contains(byte);
    (!name.is_empty() && name.iter().all(token) && value.iter().all(printable)).then_some((name, value))
}

/// A `Content-Length` value: decimal digits only, at most [`MAX_BODY_BYTES`].
fn parse_length(value: &[u8]) -> Result<u64, String> {
    let invalid = || format!("invalid Content-Length \"{}\"", snippet(value));
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let length: u64 = std::str::from_utf8(value).ok().and_then(|digits| digits.parse().ok()).ok_or_else(invalid)?;
    if length > MAX_BODY_BYTES {
        return Err(format!("Content-Length {length} is over the limit of {MAX_BODY_BYTES} bytes"));
    }
    Ok(length)
}

/// The charset of a `Content-Type` value unless it is UTF-8 (spelled `utf-8` or `utf8`) or
/// absent, which the LSP specification reads as UTF-8.
fn unsupported_charset(value: &[u8]) -> Option<String> {
    let value = String::from_utf8_lossy(value);
    let charset = value.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"').to_owned())
    })?;
    (!charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8")).then_some(charset)
}

/// Where `needle` (lower-case ASCII) first occurs in `haystack`, ignoring ASCII case.
fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window.eq_ignore_ascii_case(needle))
}

/// The start of `bytes` for a log line or an error message, escaped.
fn snippet(bytes: &[u8]) -> String {
    const SHOWN: usize = 40;
    let mut text = bytes[..bytes.len().min(SHOWN)].escape_ascii().to_string();
    if bytes.len() > SHOWN {
        text.push('…');
    }
    text
}

/// Writes one framed message and flushes it.
pub async fn write_frame(output: &mut (impl AsyncWrite + Unpin), body: &[u8]) -> std::io::Result<()> {
    output.write_all(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()).await?;
    output.write_all(body).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame and report the reader finds in `input`.
    fn frames(input: &[u8]) -> Vec<Frame> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        runtime.block_on(async {
            let mut reader = FrameReader::new(input);
            let mut found = Vec::new();
            while let Some(frame) = reader.next().await {
                found.push(frame);
            }
            found
        })
    }

    fn body(text: &str) -> Frame {
        Frame::Body(text.as_bytes().to_vec())
    }

    fn garbage(frame: &Frame) -> &str {
        match frame {
            Frame::Garbage(reason) => reason,
            Frame::Body(body) => panic!("expected garbage, got the body {:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn well_formed_frames_are_read_whole() {
        let input = b"Content-Length: 2\r\n\r\n{}content-length: 3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n[1]";
        assert_eq!(frames(input), vec![body("{}"), body("[1]")]);
        assert_eq!(frames(b"\r\n\r\nContent-Length: 2\n\n{}"), vec![body("{}")], "blank lines and bare \\n");
        assert_eq!(frames(b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}"), vec![body("{}")]);
    }

    #[test]
    fn a_high_byte_before_the_header_is_reported_and_the_frame_still_read() {
        let found = frames(b"\xffContent-Length: 2\r\n\r\n{}");
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(garbage(&found[0]), "garbage before a Content-Length header: \"\\xff\"");
        assert_eq!(found[1], body("{}"));
    }

    #[test]
    fn a_line_that_is_not_a_header_is_reported_and_skipped() {
        let found = frames(b"\xff\xfe\x00 junk\r\nContent-Length: 2\r\n\r\n{}");
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(garbage(&found[0]), "not a header line: \"\\xff\\xfe\\x00 junk\"");
        assert_eq!(found[1], body("{}"));
    }

    #[test]
    fn the_tail_of_a_too_short_frame_does_not_cost_the_next_one() {
        // Content-Length 5 cuts `{"a":1}` after `{"a":`; the rest is glued to the next header.
        let found = frames(b"Content-Length: 5\r\n\r\n{\"a\":1}Content-Length: 2\r\n\r\n{}");
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0], body("{\"a\":"));
        assert_eq!(garbage(&found[1]), "garbage before a Content-Length header: \"1}\"");
        assert_eq!(found[2], body("{}"));
    }

    #[test]
    fn bad_lengths_are_reported_and_the_reader_goes_on() {
        for value in ["-1", "abc", "1e3", "", "+5", "0x10", " 5 5", "99999999999999999999999", "536870913"] {
            let input = format!("Content-Length: {value}\r\n\r\nContent-Length: 2\r\n\r\n{{}}");
            let found = frames(input.as_bytes());
            assert_eq!(found.len(), 2, "{value}: {found:?}");
            assert!(garbage(&found[0]).contains("Content-Length"), "{value}: {found:?}");
            assert_eq!(found[1], body("{}"), "{value}");
        }
        let found = frames(b"Content-Length: 2\r\nContent-Length: 3\r\n\r\nContent-Length: 2\r\n\r\n{}");
        assert_eq!(garbage(&found[0]), "conflicting Content-Length headers: 2 and 3");
        assert_eq!(found[1..], [body("{}")]);
        let found = frames(b"X-Other: 1\r\n\r\nContent-Length: 2\r\n\r\n{}");
        assert_eq!(garbage(&found[0]), "missing Content-Length header");
        assert_eq!(found[1..], [body("{}")]);
    }

    #[test]
    fn a_body_in_another_charset_is_skipped_whole() {
        let found = frames(
            b"Content-Length: 2\r\nContent-Type: text/plain; charset=latin1\r\n\r\n{}Content-Length: 2\r\n\r\n[]",
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(garbage(&found[0]), "unsupported charset \"latin1\" (LSP is UTF-8)");
        assert_eq!(found[1], body("[]"));
        let utf8 = frames(b"Content-Type: application/vscode-jsonrpc; charset=utf8\r\nContent-Length: 2\r\n\r\n{}");
        assert_eq!(utf8, vec![body("{}")]);
    }

    #[test]
    fn header_lines_and_sections_are_bounded() {
        let mut long = vec![b'x'; 100_000];
        long.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        let found = frames(&long);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(garbage(&found[0]), "a header line longer than 1024 bytes");
        assert_eq!(found[1], body("{}"), "the header at the end of a long line is still found");

        let mut many = "X-Pad: 1\r\n".repeat(MAX_HEADER_LINES + 1);
        many.push_str("Content-Length: 2\r\n\r\n{}");
        let found = frames(many.as_bytes());
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(garbage(&found[0]), "more than 32 header lines in one message");
        assert_eq!(found[1], body("{}"));
    }

    #[test]
    fn the_input_may_end_anywhere() {
        assert_eq!(frames(b""), vec![]);
        assert_eq!(frames(b"Content-Len"), vec![]);
        assert_eq!(frames(b"Content-Length: 10\r\n\r\n{}"), vec![], "a truncated body is dropped");
        assert_eq!(frames(b"Content-Length: 0\r\n\r\n"), vec![body("")]);
    }
}
