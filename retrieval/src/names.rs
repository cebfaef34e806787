//! Which names a declaration or pattern binds, read from its tree-sitter node.
//!
//! Grammars share conventions that make one walk serve every language of the table: names are
//! `identifier`-like leaves ([`NAME_KINDS`]); patterns, declarators, parameter lists and
//! expression lists hold them (their kinds end in `pattern`, `declarator`, `parameter`,
//! `parameters` or `_list`); and types, values and bodies hang under fields the walk never
//! enters ([`SKIPPED_FIELDS`]). Chunking uses it for the symbols a chunk defines, the lexical
//! gate for the names a file defines.

use tree_sitter::Node;

/// Leaf kinds that spell a name.
pub const NAME_KINDS: &[&str] = &[
    "identifier",
    "type_identifier",
    "field_identifier",
    "property_identifier",
    "private_property_identifier",
    "namespace_identifier",
    "package_identifier",
    "shorthand_property_identifier_pattern",
    "shorthand_field_identifier",
];

/// Fields that hold what a declaration is about rather than what it names: types, initial
/// values, bodies, defaults, the scope of a qualified name.
pub const SKIPPED_FIELDS: &[&str] = &[
    "type",
    "value",
    "right",
    "default_value",
    "default_type",
    "key",
    "scope",
    "path",
    "condition",
    "alternative",
    "body",
    "arguments",
    "function",
    "size",
    "bounds",
    "trait",
    "return_type",
    "result",
    "type_parameters",
    "superclass",
    "decorator",
    "dimensions",
    "tag",
];

/// Deeper patterns than this are not read (a guard against pathological nesting).
const MAX_DEPTH: usize = 48;

/// How [`bound_names`] reads a node.
#[derive(Debug, Clone, Copy)]
pub struct NameWalk<'a> {
    /// Objects whose assigned members count as names (CommonJS `exports.f = …` → `f`).
    pub exports: &'a [&'a str],
    /// Whether a declarator's parameters count (the gate: yes; a chunk's symbols: no).
    pub parameters: bool,
}

/// Appends the names `node` binds, in order, to `out`.
pub fn bound_names(node: Node, src: &[u8], walk: NameWalk, out: &mut Vec<String>) {
    collect(node, src, walk, out, 0);
}

fn collect(node: Node, src: &[u8], walk: NameWalk, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let kind = node.kind();
    if NAME_KINDS.contains(&kind) {
        if let Ok(name) = node.utf8_text(src) {
            out.push(name.to_owned());
        }
        return;
    }
    let field = match kind {
        "pair_pattern" => Some("value"),
        "assignment_pattern" | "object_assignment_pattern" => Some("left"),
        "qualified_identifier" => Some("name"),
        "member_expression" => return exported_member(node, src, walk, out),
        _ => None,
    };
    if let Some(field) = field {
        if let Some(child) = node.child_by_field_name(field) {
            collect(child, src, walk, out, depth + 1);
        }
        return;
    }
    if !holds_names(kind) {
        return;
    }
    let mut cursor = node.walk();
    if !cursor.goto_first_child() {
        return;
    }
    loop {
        let child = cursor.node();
        let skipped =
            cursor.field_name().is_some_and(|f| SKIPPED_FIELDS.contains(&f) || (!walk.parameters && f == "parameters"));
        if child.is_named() && !skipped {
            collect(child, src, walk, out, depth + 1);
        }
        if !cursor.goto_next_sibling() {
            break;
        }
    }
}

/// Whether a node of `kind` holds names below it: patterns, declarators, parameters, lists.
fn holds_names(kind: &str) -> bool {
    kind.ends_with("pattern")
        || kind.ends_with("declarator")
        || kind.ends_with("parameter")
        || kind.ends_with("parameters")
        || kind.ends_with("_list")
        || kind.ends_with("parameter_declaration")
        || kind == "pattern_list"
}

/// `exports.f` or `module.exports.f` as an assignment target: `f`.
fn exported_member(node: Node, src: &[u8], walk: NameWalk, out: &mut Vec<String>) {
    let object = node.child_by_field_name("object").and_then(|o| o.utf8_text(src).ok());
    if object.is_some_and(|o| walk.exports.contains(&o)) {
        if let Some(name) = node.child_by_field_name("property").and_then(|p| p.utf8_text(src).ok()) {
            out.push(name.to_owned());
        }
    }
}

/// The name a definition declares: its `name` field or, for C-like declarators, the name at
/// the end of its `declarator` chain (`int *f(void)` → `f`, `void A::f()` → `f`).
pub fn definition_name(node: Node, src: &[u8]) -> Option<String> {
    let start = node.child_by_field_name("name").or_else(|| node.child_by_field_name("declarator"))?;
    let mut current = start;
    for _ in 0..MAX_DEPTH {
        if NAME_KINDS.contains(&current.kind()) {
            return current.utf8_text(src).ok().map(str::to_owned);
        }
        current = match current.child_by_field_name("declarator").or_else(|| current.child_by_field_name("name")) {
            Some(next) => next,
            None if current.kind().ends_with("declarator") || current.kind() == "destructor_name" => {
                current.named_child(0)?
            }
            None => return None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Language;

    fn names_at(language: Language, source: &str, kind: &str, field: &str) -> Vec<String> {
        let tree = language.parser().unwrap().parse(source, None).unwrap();
        let mut out = Vec::new();
        let mut stack = vec![tree.root_node()];
        let walk = NameWalk { exports: &["exports"], parameters: true };
        while let Some(node) = stack.pop() {
            if node.kind() == kind {
                for child in node.children_by_field_name(field, &mut node.walk()) {
                    bound_names(child, source.as_bytes(), walk, &mut out);
                }
            }
            let mut cursor = node.walk();
            stack.extend(node.named_children(&mut cursor).collect::<Vec<_>>().into_iter().rev());
        }
        out
    }

    #[test]
    fn patterns_bind_their_names_but_not_their_types_or_values() {
        assert_eq!(
            names_at(Language::Rust, "fn f() { let (a, Point { x, y: z }) = g(b); }", "let_declaration", "pattern"),
            ["a", "x", "y", "z"]
        );
        assert_eq!(
            names_at(Language::TypeScript, "const { a, b: c, d = e } = f;", "variable_declarator", "name"),
            ["a", "c", "d"]
        );
        assert_eq!(names_at(Language::C, "static int *p = q, n[4];", "declaration", "declarator"), ["p", "n"]);
        assert_eq!(names_at(Language::Go, "func f() { a, b := g() }", "short_var_declaration", "left"), ["a", "b"]);
        assert_eq!(
            names_at(Language::JavaScript, "exports.parse = 1; other.x = 2;", "assignment_expression", "left"),
            ["parse"]
        );
    }

    #[test]
    fn definitions_are_named_through_declarators() {
        let source = "int *make(void) { return 0; }\nvoid Shape::draw() const {}\n";
        let tree = Language::Cpp.parser().unwrap().parse(source, None).unwrap();
        let root = tree.root_node();
        let mut cursor = root.walk();
        let names: Vec<_> =
            root.named_children(&mut cursor).filter_map(|n| definition_name(n, source.as_bytes())).collect();
        assert_eq!(names, ["make", "draw"]);
    }
}
