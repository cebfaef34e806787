//! Conversions between LSP wire types and Splice's own, and the JSON-RPC errors Splice returns.

use crate::document::{PositionEncoding, TextChange, TextPosition, TextRange};
use tower_lsp_server::jsonrpc::{Error, ErrorCode};
use tower_lsp_server::ls_types::{
    InitializeParams, Position, PositionEncodingKind, Range, TextDocumentContentChangeEvent,
};

/// UTF-8 when the client offers it (cheaper: no UTF-16 counting), else the LSP default UTF-16.
pub fn negotiate_encoding(params: &InitializeParams) -> PositionEncoding {
    let offered = params.capabilities.general.as_ref().and_then(|g| g.position_encodings.as_ref());
    match offered {
        Some(kinds) if kinds.contains(&PositionEncodingKind::UTF8) => PositionEncoding::Utf8,
        _ => PositionEncoding::Utf16,
    }
}

/// The LSP name of an encoding.
pub fn encoding_kind(encoding: PositionEncoding) -> PositionEncodingKind {
    match encoding {
        PositionEncoding::Utf8 => PositionEncodingKind::UTF8,
        PositionEncoding::Utf16 => PositionEncodingKind::UTF16,
    }
}

/// LSP position → document position.
pub fn position(pos: Position) -> TextPosition {
    TextPosition { line: pos.line, character: pos.character }
}

/// Document position → LSP position.
pub fn lsp_position(pos: TextPosition) -> Position {
    Position { line: pos.line, character: pos.character }
}

/// An empty LSP range at `pos`.
pub fn empty_range(pos: Position) -> Range {
    Range { start: pos, end: pos }
}

/// A didChange content change → a document change (`rangeLength` is deprecated and ignored).
pub fn change(event: TextDocumentContentChangeEvent) -> TextChange {
    TextChange {
        range: event.range.map(|r| TextRange { start: position(r.start), end: position(r.end) }),
        text: event.text,
    }
}

/// `InvalidParams` with a message in the user's words.
pub fn invalid_params(message: impl std::fmt::Display) -> Error {
    Error { code: ErrorCode::InvalidParams, message: message.to_string().into(), data: None }
}

/// An error of the server itself (model missing, engine stopped).
pub fn server_error(message: impl std::fmt::Display) -> Error {
    Error { code: ErrorCode::InternalError, message: message.to_string().into(), data: None }
}
