//! The shape in brace languages, as specifications: a fixture document with its cursor (`┃`),
//! what the model generated, what the editor shows. One set per language family (Rust,
//! TypeScript, Go, Java, C, C++), each with the [`Literals`] the server gives that language.

use super::tests::check_invariants;
use super::*;
use proptest::prelude::*;

const CURSOR: char = '┃';

const C: Literals = Literals::C;
const CPP: Literals = C;
const RUST: Literals = Literals {
    apostrophe: Apostrophe::CharOrLifetime,
    multi_line_strings: true,
    raw_strings: true,
    nested_comments: true,
    ..C
};
const TYPESCRIPT: Literals = Literals { backticks: Backticks::Template, ..C };
const GO: Literals = Literals { backticks: Backticks::Raw, ..C };
const JAVA: Literals = Literals { text_blocks: true, ..C };

/// The fixture's text without the cursor marker, and the marker's byte offset.
fn split_fixture(fixture: &str) -> (String, usize) {
    let offset = fixture.find(CURSOR).expect("fixture needs a cursor marker ┃");
    (fixture.replacen(CURSOR, "", 1), offset)
}

fn limits(syntax: BlockSyntax) -> ShapeLimits {
    ShapeLimits { block_syntax: syntax, ..ShapeLimits::default() }
}

fn shape_of(literals: Literals, fixture: &str) -> SuggestionShape {
    let (text, offset) = split_fixture(fixture);
    SuggestionShape::for_cursor(&CursorContext::from_text(&text, offset), limits(BlockSyntax::Braces(literals)))
}

/// What the editor shows when the model generated `generated` at the fixture's cursor.
fn shown(syntax: BlockSyntax, fixture: &str, generated: &str) -> Option<String> {
    let (text, offset) = split_fixture(fixture);
    let ctx = CursorContext::from_text(&text, offset);
    let shape = SuggestionShape::for_cursor(&ctx, limits(syntax));
    let full = finish_suggestion(&shape, &ctx, generated);
    check_invariants(&shape, &ctx, generated);
    full
}

/// Completing `fixture` in a language with `literals`, the model generated `generated`: the
/// suggestion is `expected`.
fn suggests(literals: Literals, fixture: &str, generated: &str, expected: Option<&str>) {
    let got = shown(BlockSyntax::Braces(literals), fixture, generated);
    assert_eq!(got.as_deref(), expected, "fixture {fixture:?}, generated {generated:?}");
}

/// The index of the token after which the streaming verdict at the fixture's cursor says stop.
fn stops_at_token(literals: Literals, fixture: &str, tokens: &[&str]) -> Option<usize> {
    let shape = shape_of(literals, fixture);
    let mut generated = String::new();
    tokens.iter().position(|token| {
        generated.push_str(token);
        shape.verdict(&generated) == StreamVerdict::Stop
    })
}

fn brace_block(literals: Literals, closable: usize) -> SuggestionShape {
    SuggestionShape::BraceBlock { literals, closable, max_lines: 8 }
}

#[test]
fn shape_is_single_line_mid_line_and_after_code() {
    assert_eq!(shape_of(RUST, "let x = foo(┃);"), SuggestionShape::SingleLine);
    assert_eq!(shape_of(RUST, "let x = ┃"), SuggestionShape::SingleLine);
    assert_eq!(shape_of(C, "if (x) {┃}"), SuggestionShape::SingleLine);
    // A colon opens no block in a brace language, an opener in a comment or string none either.
    assert_eq!(shape_of(C, "    case 1:┃"), SuggestionShape::SingleLine);
    assert_eq!(shape_of(TYPESCRIPT, "const a = 1; // {┃"), SuggestionShape::SingleLine);
    assert_eq!(shape_of(GO, "s := `{┃"), SuggestionShape::SingleLine);
    assert_eq!(shape_of(RUST, "use std::┃"), SuggestionShape::SingleLine);
}

#[test]
fn shape_at_an_opener_or_an_empty_line_is_a_brace_block() {
    assert_eq!(shape_of(RUST, "fn main() {┃\n}\n"), brace_block(RUST, 1));
    assert_eq!(shape_of(JAVA, "} else {  ┃"), brace_block(JAVA, 1));
    assert_eq!(shape_of(C, "    int n = max(min(┃"), brace_block(C, 2));
    assert_eq!(shape_of(GO, "func f() {\n\t┃\n}"), brace_block(GO, 0));
    assert_eq!(shape_of(CPP, "┃"), brace_block(CPP, 0));
    let ctx = CursorContext::from_text("", 0);
    let limits = ShapeLimits { max_lines: 0, block_syntax: BlockSyntax::Braces(C) };
    assert_eq!(
        SuggestionShape::for_cursor(&ctx, limits),
        SuggestionShape::BraceBlock { literals: C, closable: 0, max_lines: 1 }
    );
    assert!(brace_block(C, 0).is_multi_line());
    assert!(!SuggestionShape::SingleLine.is_multi_line());
}

// Rust.

#[test]
fn rust_at_an_opener_the_suggestion_is_the_body() {
    let generated = "\n    let a = w * h;\n    a\n}\n\nfn main() {}\n";
    // The editor put the `}` below.
    suggests(RUST, "fn area(w: u32, h: u32) -> u32 {┃\n}\n", generated, Some("\n    let a = w * h;\n    a"));
    // No `}` below: the closing brace is still not the suggestion's to write.
    suggests(RUST, "fn area(w: u32, h: u32) -> u32 {┃", generated, Some("\n    let a = w * h;\n    a"));
}

#[test]
fn rust_on_an_empty_line_nested_blocks_are_kept_whole() {
    let fixture = "fn main() {\n    let v = vec![1, 2];\n    ┃\n}\n";
    let generated = "for x in &v {\n        println!(\"{x}\");\n    }\n}\n\nfn other() {}\n";
    // The nested `}` is not the `}` below the cursor: it stays.
    suggests(RUST, fixture, generated, Some("for x in &v {\n        println!(\"{x}\");\n    }"));
    // A blank line inside a block the suggestion opened does not end it; one between the
    // block's statements does.
    let generated = "if ready {\n\n        go();\n    }\n    done();\n\n    more();\n";
    suggests(RUST, fixture, generated, Some("if ready {\n\n        go();\n    }\n    done();"));
}

#[test]
fn rust_a_suggestion_going_past_the_enclosing_brace_is_cut_before_it() {
    // The cursor at column 0: indentation cannot tell where the body ends, the brace can.
    let fixture = "fn main() {\n    setup();\n┃\n}\n";
    let generated = "    run();\n}\nfn run() {\n    todo!()\n}\n";
    suggests(RUST, fixture, generated, Some("    run();"));
    assert_eq!(
        shown(BlockSyntax::Indentation, fixture, generated).as_deref(),
        Some("    run();\n}\nfn run() {\n    todo!()"),
        "by indentation the suggestion runs on into the next function"
    );
    // `} else {` closes the cursor's block too.
    let fixture = "fn f(x: bool) {\n    if x {\n        ┃\n    }\n}\n";
    suggests(RUST, fixture, "a();\n    } else {\n        b();\n    }\n", Some("a();"));
}

#[test]
fn rust_brackets_in_strings_characters_and_comments_do_not_count() {
    let fixture = "fn depth(text: &str) -> i32 {\n    ┃\n}\n";
    let generated =
        "let open = '{'; // }\n    let s = r#\"}\"#; /* } */\n    count(open, s, \"}\", '\\u{7d}')\n}\nfn next() {}\n";
    suggests(
        RUST,
        fixture,
        generated,
        Some("let open = '{'; // }\n    let s = r#\"}\"#; /* } */\n    count(open, s, \"}\", '\\u{7d}')"),
    );
    // Lifetimes are not characters: the brace after one counts.
    let fixture = "impl<'a> Parser<'a> {\n    ┃\n}\n";
    let generated = "fn next(&mut self) -> Option<&'a str> {\n        None\n    }\n}\n";
    suggests(RUST, fixture, generated, Some("fn next(&mut self) -> Option<&'a str> {\n        None\n    }"));
}

#[test]
fn rust_streaming_stops_at_the_closing_brace_token() {
    let fixture = "fn area(w: u32, h: u32) -> u32 {┃\n}\n";
    let tokens = ["\n", "    let", " a", " =", " w", " *", " h", ";\n", "    a", "\n", "}", "\n", "fn"];
    assert_eq!(stops_at_token(RUST, fixture, &tokens), Some(10));
    // A brace in a string is not a stop.
    let tokens = ["\n", "    let s", " = \"", "}", "\";\n", "    s", "\n", "}"];
    assert_eq!(stops_at_token(RUST, fixture, &tokens), Some(7));
    // A character brace completes with its quote, never a stop either.
    let tokens = ["\n", "    let c", " = '", "}", "';\n", "}"];
    assert_eq!(stops_at_token(RUST, fixture, &tokens), Some(5));
}

// TypeScript.

#[test]
fn typescript_at_an_opener_the_suggestion_is_the_body() {
    let fixture = "function greet(name: string): string {┃\n}\n";
    let generated = "\n  const msg = `Hello, ${name} {`;\n  return msg;\n}\n\nexport default greet;\n";
    suggests(TYPESCRIPT, fixture, generated, Some("\n  const msg = `Hello, ${name} {`;\n  return msg;"));
}

#[test]
fn typescript_a_nested_callback_is_kept_whole_though_its_closer_repeats_the_line_below() {
    let fixture = "describe(\"sum\", () => {\n  ┃\n});\n";
    let generated = "it(\"adds\", () => {\n    expect(sum(1, 2)).toBe(3);\n  });\n});\n";
    suggests(TYPESCRIPT, fixture, generated, Some("it(\"adds\", () => {\n    expect(sum(1, 2)).toBe(3);\n  });"));
    // By indentation the nested `});` looks like the `});` below and goes, breaking the call.
    assert_eq!(
        shown(BlockSyntax::Indentation, fixture, generated).as_deref(),
        Some("it(\"adds\", () => {\n    expect(sum(1, 2)).toBe(3);")
    );
}

#[test]
fn typescript_a_template_string_spanning_lines_hides_its_braces_and_indentation() {
    let fixture = "function style(): string {\n  ┃\n}\n";
    let generated = "const css = `\n.a {\n}\n`;\n  return css;\n}\n";
    suggests(TYPESCRIPT, fixture, generated, Some("const css = `\n.a {\n}\n`;\n  return css;"));
}

#[test]
fn typescript_lines_repeating_the_text_below_at_the_cursors_depth_are_cut() {
    let fixture = "function f(x: number) {\n  ┃\n  if (x > 0) {\n    log(x);\n  }\n}\n";
    let generated = "x += 1;\n  if (x > 0) {\n    log(x);\n  }\n}\n";
    suggests(TYPESCRIPT, fixture, generated, Some("x += 1;"));
}

#[test]
fn typescript_streaming_stops_at_the_closer_of_the_enclosing_call() {
    let fixture = "describe(\"sum\", () => {\n  ┃\n});\n";
    let tokens = ["it(\"", "adds\",", " () =>", " {\n", "    ok", "();\n", "  });", "\n", "});", "\n"];
    assert_eq!(stops_at_token(TYPESCRIPT, fixture, &tokens), Some(8));
    let tokens = ["const s", " = `", "}", "`;\n", "});"];
    assert_eq!(stops_at_token(TYPESCRIPT, fixture, &tokens), Some(4));
}

// Go.

#[test]
fn go_at_an_opener_the_suggestion_is_the_body() {
    suggests(GO, "func add(a, b int) int {┃\n}\n", "\n\treturn a + b\n}\n\nfunc sub() {}\n", Some("\n\treturn a + b"));
}

#[test]
fn go_case_lines_stay_in_the_switch() {
    let fixture = "func name(n int) string {\n\tswitch n {\n\tcase 1:\n\t\t┃\n\t}\n\treturn \"\"\n}\n";
    let generated = "return \"one\"\n\tcase 2:\n\t\treturn \"two\"\n\t}\n\treturn \"\"\n}\n";
    suggests(GO, fixture, generated, Some("return \"one\"\n\tcase 2:\n\t\treturn \"two\""));
    assert_eq!(shown(BlockSyntax::Indentation, fixture, generated).as_deref(), Some("return \"one\""));
}

#[test]
fn go_runes_and_raw_strings_hide_braces() {
    let fixture = "func f() {\n\t┃\n}\n";
    let generated = "r := '}'\n\ts := `\n}`\n\tuse(r, s)\n}\nfunc g() {}\n";
    suggests(GO, fixture, generated, Some("r := '}'\n\ts := `\n}`\n\tuse(r, s)"));
}

#[test]
fn go_streaming_stops_at_the_closing_brace_token() {
    let tokens = ["\n", "\treturn", " a", " + b", "\n", "}", "\n"];
    assert_eq!(stops_at_token(GO, "func add(a, b int) int {┃\n}\n", &tokens), Some(5));
}

// Java.

#[test]
fn java_at_an_opener_the_suggestion_is_the_body() {
    let fixture = "class Point {\n    int x;\n\n    int getX() {┃\n    }\n}\n";
    suggests(JAVA, fixture, "\n        return x;\n    }\n\n    int getY() {", Some("\n        return x;"));
}

#[test]
fn java_text_blocks_and_characters_hide_braces() {
    let fixture = "String html() {\n    ┃\n}\n";
    let generated = "char c = '}';\n    String s = \"\"\"\n}\n\"\"\";\n    return s + c;\n}\n";
    suggests(JAVA, fixture, generated, Some("char c = '}';\n    String s = \"\"\"\n}\n\"\"\";\n    return s + c;"));
}

#[test]
fn java_streaming_stops_at_the_closing_brace_token() {
    let fixture = "class Point {\n    int x;\n\n    int getX() {┃\n    }\n}\n";
    let tokens = ["\n", "        return", " x;", "\n", "    }", "\n"];
    assert_eq!(stops_at_token(JAVA, fixture, &tokens), Some(4));
}

// C.

#[test]
fn c_at_an_opener_without_a_closer_below_the_suggestion_is_the_body() {
    let generated = "\n    printf(\"{\\n\");\n    return 0;\n}\n";
    suggests(C, "int main(void) {┃", generated, Some("\n    printf(\"{\\n\");\n    return 0;"));
}

#[test]
fn c_the_first_line_may_close_what_the_cursors_line_opened() {
    suggests(C, "    int n = max(┃", "a, b);\n    return n;\n", Some("a, b);"));
    suggests(C, "    if (ok) {┃", " return 1; }\n    return 0;\n", Some(" return 1; }"));
    // Closing more than that line opened leaves nothing.
    suggests(C, "int f(void) {\n    ┃\n}\n", "return 0; }\n", None);
    suggests(C, "    int n = max(┃", "a, b));\n", None);
}

#[test]
fn c_characters_and_comments_hide_braces() {
    let fixture = "int depth(const char *s) {\n    int d = 0;\n    ┃\n}\n";
    let generated =
        "for (; *s; s++) {\n        if (*s == '}') /* } */\n            d--; // }\n    }\n    return d;\n}\n";
    suggests(
        C,
        fixture,
        generated,
        Some("for (; *s; s++) {\n        if (*s == '}') /* } */\n            d--; // }\n    }\n    return d;"),
    );
}

#[test]
fn c_streaming_stops_at_the_closing_brace_token_not_at_one_in_a_comment() {
    let tokens = ["\n", "    return", " 0;", " /*", " }", " */\n", "}", "\n"];
    assert_eq!(stops_at_token(C, "int main(void) {┃", &tokens), Some(6));
    // The first line's closers of its own opener end the suggestion at the line's end.
    let tokens = ["a", ", b", ");", "\n", "    return"];
    assert_eq!(stops_at_token(C, "    int n = max(┃", &tokens), Some(3));
}

// C++.

#[test]
fn cpp_at_an_opener_the_suggestion_is_the_body() {
    suggests(CPP, "struct Point {┃\n};\n", "\n    int x;\n    int y;\n};\n", Some("\n    int x;\n    int y;"));
}

#[test]
fn cpp_access_specifiers_stay_in_the_class() {
    let fixture = "class Stack {\npublic:\n    ┃\n};\n";
    let generated = "int pop();\nprivate:\n    std::vector<int> items;\n};\n";
    suggests(CPP, fixture, generated, Some("int pop();\nprivate:\n    std::vector<int> items;"));
    assert_eq!(shown(BlockSyntax::Indentation, fixture, generated).as_deref(), Some("int pop();"));
}

#[test]
fn cpp_streaming_stops_at_the_closing_brace_token() {
    let tokens = ["\n", "    int", " x;", "\n", "    std::string s", " = \"};\"", ";\n", "};", "\n"];
    assert_eq!(stops_at_token(CPP, "struct Point {┃\n};\n", &tokens), Some(7));
}

// Everything at once.

#[test]
fn indentation_after_the_cursor_is_handled_as_for_python() {
    // Doubled indentation goes from every line, a leading line break is dropped.
    let fixture = "fn f() {\n    let a = 1;\n    ┃\n}\n";
    suggests(
        RUST,
        fixture,
        "    if a > 0 {\n            go();\n        }\n}\n",
        Some("if a > 0 {\n        go();\n    }"),
    );
    suggests(RUST, fixture, "\n    a += 1;\n}\n", Some("a += 1;"));
}

/// Pieces of brace-language text, lexically tricky ones above all.
const PIECES: &[&str] = &[
    "a",
    "x",
    "_",
    "1",
    "r",
    "b",
    " ",
    "    ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ":",
    "\"",
    "'",
    "`",
    "\\",
    "/",
    "*",
    "//",
    "/*",
    "*/",
    "#",
    "r#\"",
    "\"#",
    "\"\"\"",
    "'{'",
    "'a",
    "${",
    "é",
    "🦀",
    "語",
    "\u{301}",
    "fn f() {",
    "if (x) {",
    "} else {",
    "return x;",
    "┃",
];

fn text(max_pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..=max_pieces).prop_map(|pieces| pieces.concat())
}

fn literals() -> impl Strategy<Value = Literals> {
    prop::sample::select(vec![C, RUST, TYPESCRIPT, GO, JAVA])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_brace_inputs_never_panic_and_keep_invariants(
        document in text(30),
        offset in 0usize..200,
        generated in text(30),
        literals in literals(),
        max_lines in 0usize..6,
        closable in 0usize..3,
    ) {
        let ctx = CursorContext::from_text(&document, offset);
        let limits = ShapeLimits { max_lines, block_syntax: BlockSyntax::Braces(literals) };
        let given = SuggestionShape::BraceBlock { literals, closable, max_lines };
        for shape in [SuggestionShape::for_cursor(&ctx, limits), given] {
            check_invariants(&shape, &ctx, &generated);
        }
    }
}
