//! Syntax chunks in each language of the table beyond Python (whose tests are in [`super::syntax`]):
//! small realistic files, their chunk boundaries and the symbols each chunk defines.

use super::syntax::{chunks, BODY_WINDOW_LINES};
use super::Chunk;
use crate::language::Language;

fn chunk(language: Language, text: &str) -> Vec<Chunk> {
    chunks(language, text).expect("tree-sitter parses")
}

/// Each chunk's line range and symbols.
fn summary(language: Language, text: &str) -> Vec<(std::ops::Range<u32>, Vec<String>)> {
    chunk(language, text).into_iter().map(|c| (c.lines, c.symbols)).collect()
}

fn owned(symbols: &[&str]) -> Vec<String> {
    symbols.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn rust_items_impl_blocks_and_traits_are_chunks_with_their_doc_comments() {
    let text = "\
//! Session handling.
use std::collections::HashMap;
use crate::config::Config;

pub const MAX_RETRIES: u32 = 3;
static GREETING: &str = \"hi\";

/// A client session.
#[derive(Debug, Clone)]
pub struct Session {
    id: u64,
    cache: HashMap<String, String>,
}

impl Session {
    pub fn new(id: u64) -> Self {
        Session { id, cache: HashMap::new() }
    }

    pub fn get(&self, key: &str) -> Option<&String> {
        self.cache.get(key)
    }
}

pub trait Store {
    fn load(&self, key: &str) -> Option<String>;
}

fn helper() -> u32 {
    MAX_RETRIES
}
";
    assert_eq!(
        summary(Language::Rust, text),
        [
            (0..6, owned(&["MAX_RETRIES", "GREETING"])),
            (7..13, owned(&["Session"])),
            (14..23, owned(&["new", "get"])),
            (24..27, owned(&["Store", "load"])),
            (28..31, owned(&["helper"])),
        ]
    );
    let chunks = chunk(Language::Rust, text);
    assert!(chunks[1].text.starts_with("/// A client session.\n#[derive(Debug, Clone)]\npub struct Session {"));
}

#[test]
fn methods_of_a_long_rust_impl_block_keep_the_impl_line() {
    let methods: String =
        (0..12).map(|i| format!("    pub fn method_{i}(&self) -> u32 {{\n        {i}\n    }}\n\n")).collect();
    let text = format!("impl Big {{\n{methods}}}\n");
    let chunks = chunk(Language::Rust, &text);
    let method_3 = chunks.iter().find(|c| c.symbols == ["method_3"]).expect("a chunk for method_3");
    assert!(method_3.text.starts_with("impl Big {\n    pub fn method_3(&self) -> u32 {"), "{}", method_3.text);
}

#[test]
fn typescript_interfaces_classes_and_exported_arrow_functions_are_chunks() {
    let text = "\
import { parse } from \"./util\";
import type { Options } from \"./options\";

export interface Shape {
  area(): number;
  name: string;
}

export class Circle implements Shape {
  name = \"circle\";
  constructor(private radius: number) {}

  area(): number {
    return Math.PI * this.radius ** 2;
  }
}

export const describe = (shape: Shape): string => {
  return `${shape.name}: ${shape.area()}`;
};

type Id = string | number;
";
    let expected = [
        (0..2, owned(&[])),
        (3..7, owned(&["Shape", "area", "name"])),
        (8..16, owned(&["Circle", "name", "constructor", "area"])),
        (17..20, owned(&["describe"])),
        (21..22, owned(&["Id"])),
    ];
    assert_eq!(summary(Language::TypeScript, text), expected);
    assert_eq!(summary(Language::Tsx, text), expected);
}

#[test]
fn a_javascript_module_with_require_and_exports_is_chunked_by_definition() {
    let text = "\
const fs = require(\"fs\");
const { join } = require(\"path\");

function readConfig(dir) {
  return JSON.parse(fs.readFileSync(join(dir, \"config.json\"), \"utf8\"));
}

const DEFAULTS = { retries: 3 };

exports.loadConfig = function (dir) {
  return { ...DEFAULTS, ...readConfig(dir) };
};

module.exports.VERSION = \"1.0\";

class Cache {
  get(key) {
    return this.items[key];
  }
}
";
    assert_eq!(
        summary(Language::JavaScript, text),
        [
            (0..2, owned(&["fs", "join"])),
            (3..6, owned(&["readConfig"])),
            (7..8, owned(&["DEFAULTS"])),
            (9..12, owned(&["loadConfig"])),
            (13..14, owned(&["VERSION"])),
            (15..20, owned(&["Cache", "get"])),
        ]
    );
}

#[test]
fn go_functions_methods_and_types_are_chunks_with_their_comments() {
    let text = "\
package shapes

import (
\t\"fmt\"
\t\"strings\"
)

// Point is a position.
type Point struct {
\tX, Y int
}

const Origin = 0

// Dist returns the distance.
func Dist(a, b Point) int {
\treturn abs(a.X-b.X) + abs(a.Y-b.Y)
}

func (p *Point) String() string {
\treturn fmt.Sprintf(\"%d,%d\", p.X, strings.ToUpper(\"y\"))
}
";
    assert_eq!(
        summary(Language::Go, text),
        [
            (0..6, owned(&[])),
            (7..11, owned(&["Point"])),
            (12..13, owned(&["Origin"])),
            (14..18, owned(&["Dist"])),
            (19..22, owned(&["String"])),
        ]
    );
}

#[test]
fn a_java_class_is_a_chunk_with_its_methods_and_a_long_one_is_cut_into_them() {
    let text = "\
package com.example;

import java.util.List;

/** A repository of users. */
public class UserRepo {
    private final List<String> names;

    public UserRepo(List<String> names) {
        this.names = names;
    }

    public int count() {
        return names.size();
    }
}
";
    assert_eq!(summary(Language::Java, text), [(0..3, owned(&[])), (4..16, owned(&["UserRepo", "count"]))]);

    let methods: String = (0..12).map(|i| format!("    int method{i}() {{\n        return {i};\n    }}\n\n")).collect();
    let text = format!("public class Big {{\n    private int size;\n\n{methods}}}\n");
    let chunks = chunk(Language::Java, &text);
    let method_3 = chunks.iter().find(|c| c.symbols == ["method3"]).expect("a chunk for method3");
    assert!(method_3.text.starts_with("public class Big {\n    int method3() {"), "{}", method_3.text);
    let field = chunks.iter().find(|c| c.lines.start == 1).expect("the field's chunk");
    assert_eq!(field.symbols, ["size"]);
    let class_line = chunks.iter().find(|c| c.lines.start == 0).expect("a chunk with the class line");
    assert_eq!(class_line.symbols, ["Big"]);
}

#[test]
fn c_functions_structs_and_typedefs_are_chunks() {
    let text = "\
#include <stdio.h>
#include \"util.h\"

#define MAX_ITEMS 16

struct point {
    int x;
    int y;
};

typedef struct {
    int w, h;
} Size;

static int counter = 0;

/* Adds two points. */
struct point add(struct point a, struct point b) {
    struct point r = { a.x + b.x, a.y + b.y };
    return r;
}

int main(void) {
    printf(\"%d\\n\", add_numbers(1, 2));
    return 0;
}
";
    assert_eq!(
        summary(Language::C, text),
        [
            (0..4, owned(&["MAX_ITEMS"])),
            (5..9, owned(&["point"])),
            (10..13, owned(&["Size"])),
            (14..15, owned(&["counter"])),
            (16..21, owned(&["add"])),
            (22..26, owned(&["main"])),
        ]
    );
}

#[test]
fn a_c_header_behind_an_include_guard_is_chunked_inside_it() {
    let text = "\
#ifndef UTIL_H
#define UTIL_H

int add_numbers(int a, int b);
void reset(void);

struct buffer {
    char *data;
    size_t len;
};

#endif
";
    let summary = summary(Language::C, text);
    assert!(summary.iter().any(|(_, s)| s.contains(&"add_numbers".to_owned()) && s.contains(&"reset".to_owned())));
    assert!(summary.contains(&(6..10, owned(&["buffer"]))), "{summary:?}");
}

#[test]
fn cpp_classes_namespaces_and_templates_are_chunks() {
    let class = "\
#include <vector>
#include \"shape.h\"

class Circle : public Shape {
public:
    explicit Circle(double r) : r_(r) {}
    double area() const override;

private:
    double r_;
};

double Circle::area() const {
    return 3.14159 * r_ * r_;
}

template <typename T>
T twice(T value) {
    return value * 2;
}
";
    assert_eq!(
        summary(Language::Cpp, class),
        [
            (0..2, owned(&[])),
            (3..11, owned(&["Circle", "area", "r_"])),
            (12..15, owned(&["area"])),
            (16..20, owned(&["twice"])),
        ]
    );
    let namespace = format!("namespace geo {{\n\n{}\n}}  // namespace geo\n", &class[38..]);
    let summary = summary(Language::Cpp, &namespace);
    assert_eq!(summary[0], (0..21, owned(&["geo", "Circle", "area", "twice"])));
}

#[test]
fn members_of_a_long_cpp_struct_name_what_they_declare_not_their_types() {
    let fillers: String = (0..45).map(|i| format!("    int filler_{i}();\n")).collect();
    let text =
        format!("struct big {{\n    struct inner {{ int x; }};\n    enum kind get_kind() const;\n{fillers}}};\n");
    let chunks = chunk(Language::Cpp, &text);
    let first = chunks.iter().find(|c| c.lines.start == 1).expect("the first members' chunk");
    assert_eq!(first.symbols[..3], owned(&["inner", "get_kind", "filler_0"]));
    assert!(chunks.iter().all(|c| !c.symbols.contains(&"kind".to_owned())), "{chunks:?}");
}

/// A function of 100 lines in each language, and its signature line.
fn long_functions() -> Vec<(Language, String, &'static str)> {
    let body = |line: &str| (0..100).map(|i| line.replace("{i}", &i.to_string())).collect::<String>();
    vec![
        (
            Language::Rust,
            format!(
                "fn long_sum(values: &[u32]) -> u32 {{\n    let mut total = 0;\n{}    total\n}}\n",
                body("    total += {i};\n")
            ),
            "fn long_sum(values: &[u32]) -> u32 {",
        ),
        (
            Language::JavaScript,
            format!(
                "function longSum(values) {{\n  let total = 0;\n{}  return total;\n}}\n",
                body("  total += {i};\n")
            ),
            "function longSum(values) {",
        ),
        (
            Language::TypeScript,
            format!(
                "export function longSum(values: number[]): number {{\n  let total = 0;\n{}  return total;\n}}\n",
                body("  total += {i};\n")
            ),
            "export function longSum(values: number[]): number {",
        ),
        (
            Language::Go,
            format!(
                "func longSum(values []int) int {{\n\ttotal := 0\n{}\treturn total\n}}\n",
                body("\ttotal += {i}\n")
            ),
            "func longSum(values []int) int {",
        ),
        (
            Language::C,
            format!(
                "int long_sum(const int *values) {{\n    int total = 0;\n{}    return total;\n}}\n",
                body("    total += {i};\n")
            ),
            "int long_sum(const int *values) {",
        ),
        (
            Language::Cpp,
            format!(
                "int long_sum(const std::vector<int> &v) {{\n    int total = 0;\n{}    return total;\n}}\n",
                body("    total += {i};\n")
            ),
            "int long_sum(const std::vector<int> &v) {",
        ),
    ]
}

#[test]
fn long_functions_are_windowed_and_every_window_repeats_the_signature() {
    for (language, text, signature) in long_functions() {
        let chunks = chunk(language, &text);
        assert!(chunks.len() >= 3, "{language:?}: {chunks:?}");
        for c in &chunks {
            assert!(c.text.starts_with(&format!("{signature}\n")), "{language:?}: {}", c.text);
            assert!(c.text.lines().count() <= BODY_WINDOW_LINES + 1, "{language:?}");
        }
        assert_eq!(chunks[0].lines.start, 0, "{language:?}");
        assert_eq!(chunks.last().map(|c| c.lines.end), Some(104), "{language:?}");
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].lines.end, pair[1].lines.start, "{language:?}");
        }
    }
}

#[test]
fn a_long_java_method_repeats_its_class_line_and_signature() {
    let body: String = (0..100).map(|i| format!("        total += {i};\n")).collect();
    let text = format!("class Calc {{\n    int longSum(int[] values) {{\n        int total = 0;\n{body}        return total;\n    }}\n}}\n");
    let chunks = chunk(Language::Java, &text);
    assert!(chunks.len() >= 3, "{chunks:?}");
    for c in chunks.iter().filter(|c| c.lines.start > 0) {
        assert!(c.text.starts_with("class Calc {\n    int longSum(int[] values) {\n"), "{}", c.text);
    }
}

#[test]
fn broken_files_still_yield_chunks() {
    let cases = [
        (Language::Rust, "fn broken( {\n    let x = ;\n}\n\nfn fine() -> u32 {\n    1\n}\n"),
        (Language::JavaScript, "function broken( {\n  return ;\n\nfunction fine() {\n  return 1;\n}\n"),
        (Language::TypeScript, "class A {\n  m(: number {\n}\n\nexport function fine(): number {\n  return 1;\n}\n"),
        (Language::Go, "package p\n\nfunc broken( {\n}\n\nfunc fine() int {\n\treturn 1\n}\n"),
        (Language::Java, "class A {\n  void broken( {\n  }\n  int fine() {\n    return 1;\n  }\n}\n"),
        (Language::C, "int broken( {\n  return;\n\nint fine(void) {\n  return 1;\n}\n"),
        (Language::Cpp, "class A {\n  void broken( ;\n};\n\nint fine() {\n  return 1;\n}\n"),
    ];
    for (language, text) in cases {
        let chunks = chunk(language, text);
        assert!(!chunks.is_empty(), "{language:?}");
        let last_line = text.lines().count() as u32;
        assert!(chunks.iter().any(|c| c.lines.end >= last_line - 1), "{language:?}: {chunks:?}");
    }
}

#[test]
fn odd_input_never_panics_and_chunks_stay_inside_the_file() {
    let deep_braces = format!("fn f() {}\n", "{".repeat(5000));
    let deep_classes = "class A { ".repeat(2000);
    let deep_parens = format!("x = {};\n", "(".repeat(20_000));
    let inputs = [
        "",
        "\n\n\n",
        "\0\0\0",
        "\u{feff}fn main() {}\r\n",
        "}}}}}}",
        "/* unterminated",
        "\"unterminated",
        "é\u{10ffff}\r\r\n\r",
        deep_braces.as_str(),
        deep_classes.as_str(),
        deep_parens.as_str(),
    ];
    for spec in crate::language::LANGUAGES {
        for input in inputs {
            let lines = super::split_lines(input).len() as u32;
            for c in super::chunk_file(super::SourceKind::Syntax(spec.language), input) {
                assert!(c.lines.start < c.lines.end && c.lines.end <= lines, "{}: {:?}", spec.name, c.lines);
            }
        }
    }
}
