/**
 * `splice/suggestionReady`: past its latency budget the server answers with the part of a line
 * its model run has written so far, and tells the client when the whole suggestion is ready.
 * Inline completions are pulled, so VS Code would show the rest only after the next key; this
 * asks again when the cursor is still where the part was shown.
 */

/** The client capability that asks the server for the notification. */
export const CAPABILITY = "spliceSuggestionReady";

/** The notification's method. */
export const METHOD = "splice/suggestionReady";

/** A position as LSP sends it (in the negotiated encoding: UTF-16 for VS Code). */
export interface Position {
  line: number;
  character: number;
}

/** The notification's parameters. */
export interface SuggestionReadyParams {
  textDocument: { uri: string };
  position: Position;
}

/** The active editor as far as the decision goes: its document and an empty selection's cursor. */
export interface EditorAt {
  uri: string;
  cursor: Position;
  selectionEmpty: boolean;
}

/** Whether asking again in `editor` gets the whole suggestion: same document, same cursor, no
 * selection (the person has not moved on; typing would have asked again anyway). */
export function asksAgain(editor: EditorAt | undefined, params: SuggestionReadyParams): boolean {
  return (
    editor !== undefined &&
    editor.selectionEmpty &&
    editor.uri === params.textDocument.uri &&
    editor.cursor.line === params.position.line &&
    editor.cursor.character === params.position.character
  );
}
