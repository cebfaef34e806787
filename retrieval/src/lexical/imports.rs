//! The names an import statement brings in, for each [`ImportSyntax`] of the table except
//! Python's (which the gate reads line by line).

use tree_sitter::Node;

use crate::language::ImportSyntax;
use crate::names::{bound_names, NameWalk};
use crate::tokenize::is_ident_char;

/// Deeper `use` trees than this are not read.
const MAX_DEPTH: usize = 32;

/// The node kinds [`read_import`] reads for `syntax` (it reads no other).
pub(super) fn import_kinds(syntax: ImportSyntax) -> &'static [&'static str] {
    match syntax {
        ImportSyntax::Python => &[],
        ImportSyntax::RustUse => &["use_declaration", "extern_crate_declaration"],
        ImportSyntax::EcmaScript => &["import_statement", "export_statement", "variable_declarator"],
        ImportSyntax::GoImport | ImportSyntax::JavaImport => &["import_declaration"],
        ImportSyntax::CInclude => &["preproc_include"],
        ImportSyntax::CppInclude => &["preproc_include", "using_declaration"],
    }
}

/// If `node` imports (or, for C, includes), appends the names it binds to `out` and returns
/// `true`: identifiers inside it are not uses.
pub(super) fn read_import(syntax: ImportSyntax, node: Node, src: &[u8], out: &mut Vec<String>) -> bool {
    match (syntax, node.kind()) {
        (ImportSyntax::RustUse, "use_declaration") => {
            if let Some(argument) = node.child_by_field_name("argument") {
                rust_use(argument, src, out, 0);
            }
            true
        }
        (ImportSyntax::RustUse, "extern_crate_declaration") => {
            let name = node.child_by_field_name("alias").or_else(|| node.child_by_field_name("name"));
            out.extend(name.and_then(|n| text(n, src)));
            true
        }
        (ImportSyntax::EcmaScript, "import_statement") => {
            ecmascript_import(node, src, out);
            true
        }
        (ImportSyntax::EcmaScript, "export_statement") if node.child_by_field_name("source").is_some() => true,
        (ImportSyntax::EcmaScript, "variable_declarator") if is_require(node.child_by_field_name("value"), src) => {
            if let Some(name) = node.child_by_field_name("name") {
                bound_names(name, src, NameWalk { exports: &[], parameters: false }, out);
            }
            true
        }
        (ImportSyntax::GoImport, "import_declaration") => {
            go_import(node, src, out);
            true
        }
        (ImportSyntax::JavaImport, "import_declaration") => {
            java_import(node, src, out);
            true
        }
        (ImportSyntax::CInclude | ImportSyntax::CppInclude, "preproc_include") => true,
        (ImportSyntax::CppInclude, "using_declaration") => {
            cpp_using(node, src, out);
            true
        }
        _ => false,
    }
}

fn text(node: Node, src: &[u8]) -> Option<String> {
    node.utf8_text(src).ok().map(str::to_owned)
}

/// `a::b::C`, `a::{b, c as d, e::{self, F}}`: the last segments and aliases.
fn rust_use(node: Node, src: &[u8], out: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match node.kind() {
        "identifier" => out.extend(text(node, src)),
        "scoped_identifier" => out.extend(node.child_by_field_name("name").and_then(|n| text(n, src))),
        "use_as_clause" => out.extend(node.child_by_field_name("alias").and_then(|n| text(n, src))),
        "scoped_use_list" => {
            let Some(list) = node.child_by_field_name("list") else { return };
            let mut cursor = list.walk();
            for item in list.named_children(&mut cursor) {
                if item.kind() == "self" {
                    // `a::b::{self}` imports `b`.
                    let path = node.child_by_field_name("path");
                    let last = path.and_then(|p| p.child_by_field_name("name").or(Some(p)));
                    out.extend(last.filter(|n| n.kind() == "identifier").and_then(|n| text(n, src)));
                } else {
                    rust_use(item, src, out, depth + 1);
                }
            }
        }
        "use_list" => {
            let mut cursor = node.walk();
            for item in node.named_children(&mut cursor) {
                rust_use(item, src, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// `import d, { a, b as c } from "m"`, `import * as ns from "m"`, `import x = require("m")`.
fn ecmascript_import(node: Node, src: &[u8], out: &mut Vec<String>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "import_clause" => {
                let mut inner = child.walk();
                for part in child.named_children(&mut inner) {
                    match part.kind() {
                        "identifier" => out.extend(text(part, src)),
                        "namespace_import" => {
                            let mut c = part.walk();
                            out.extend(
                                part.named_children(&mut c)
                                    .filter(|n| n.kind() == "identifier")
                                    .filter_map(|n| text(n, src)),
                            );
                        }
                        "named_imports" => {
                            let mut c = part.walk();
                            for specifier in part.named_children(&mut c) {
                                let bound = specifier
                                    .child_by_field_name("alias")
                                    .or_else(|| specifier.child_by_field_name("name"));
                                out.extend(bound.filter(|n| n.kind() == "identifier").and_then(|n| text(n, src)));
                            }
                        }
                        _ => {}
                    }
                }
            }
            "import_require_clause" => {
                let mut c = child.walk();
                out.extend(
                    child.named_children(&mut c).filter(|n| n.kind() == "identifier").filter_map(|n| text(n, src)),
                );
            }
            _ => {}
        }
    }
}

/// Whether `value` is `require("…")`.
fn is_require(value: Option<Node>, src: &[u8]) -> bool {
    let Some(value) = value.filter(|v| v.kind() == "call_expression") else { return false };
    value.child_by_field_name("function").and_then(|f| f.utf8_text(src).ok()) == Some("require")
}

/// `import "net/http"`, `import ( j "encoding/json"; _ "embed" )`: the package names.
fn go_import(node: Node, src: &[u8], out: &mut Vec<String>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        match child.kind() {
            "import_spec" => go_spec(child, src, out),
            "import_spec_list" => {
                let mut inner = child.walk();
                for spec in child.named_children(&mut inner).filter(|n| n.kind() == "import_spec") {
                    go_spec(spec, src, out);
                }
            }
            _ => {}
        }
    }
}

fn go_spec(spec: Node, src: &[u8], out: &mut Vec<String>) {
    if let Some(name) = spec.child_by_field_name("name") {
        // `_` and `.` bind no name of their own.
        if name.kind() == "package_identifier" {
            out.extend(text(name, src));
        }
        return;
    }
    let path = spec.child_by_field_name("path").and_then(|p| p.utf8_text(src).ok()).unwrap_or_default();
    out.extend(go_package_name(path));
}

/// The conventional package name of an import path: its last segment, without a major-version
/// segment (`…/v2`), a `.v3` suffix (gopkg.in) or a `go-` prefix / `-go` suffix.
fn go_package_name(path: &str) -> Option<String> {
    let path = path.trim_matches(|c| c == '"' || c == '`');
    let mut segments = path.rsplit('/');
    let mut last = segments.next()?;
    let is_major_version =
        |s: &str| s.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if is_major_version(last) {
        last = segments.next()?;
    }
    if let Some((name, version)) = last.rsplit_once('.') {
        if is_major_version(version) {
            last = name;
        }
    }
    let last = last.strip_prefix("go-").unwrap_or(last);
    let last = last.strip_suffix("-go").unwrap_or(last);
    let name = last.replace('-', "_");
    (!name.is_empty() && name.chars().all(is_ident_char)).then_some(name)
}

/// `import java.util.List;`, `import static org.junit.Assert.assertEquals;` (`.*` imports none).
fn java_import(node: Node, src: &[u8], out: &mut Vec<String>) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    if children.iter().any(|c| c.kind() == "asterisk") {
        return;
    }
    for child in children {
        match child.kind() {
            "scoped_identifier" => out.extend(child.child_by_field_name("name").and_then(|n| text(n, src))),
            "identifier" => out.extend(text(child, src)),
            _ => {}
        }
    }
}

/// `using std::string;` imports `string`; `using namespace std;` no name.
fn cpp_using(node: Node, src: &[u8], out: &mut Vec<String>) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.children(&mut cursor).collect();
    if children.iter().any(|c| c.kind() == "namespace") {
        return;
    }
    for child in children {
        match child.kind() {
            "qualified_identifier" => {
                let mut current = child;
                for _ in 0..MAX_DEPTH {
                    match current.child_by_field_name("name") {
                        Some(name) if name.kind() == "qualified_identifier" => current = name,
                        Some(name) => {
                            out.extend(text(name, src));
                            break;
                        }
                        None => break,
                    }
                }
            }
            "identifier" => out.extend(text(child, src)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::LANGUAGES;

    #[test]
    fn import_kinds_exist_in_their_grammars() {
        for spec in LANGUAGES {
            let grammar = (spec.grammar)();
            for kind in import_kinds(spec.imports) {
                assert_ne!(grammar.id_for_node_kind(kind, true), 0, "{}: {kind}", spec.name);
            }
        }
    }

    #[test]
    fn go_package_names_come_from_the_path() {
        assert_eq!(go_package_name("\"strings\"").as_deref(), Some("strings"));
        assert_eq!(go_package_name("\"net/http\"").as_deref(), Some("http"));
        assert_eq!(go_package_name("\"github.com/a/b/v2\"").as_deref(), Some("b"));
        assert_eq!(go_package_name("\"gopkg.in/yaml.v3\"").as_deref(), Some("yaml"));
        assert_eq!(go_package_name("\"github.com/mattn/go-isatty\"").as_deref(), Some("isatty"));
        assert_eq!(go_package_name("\"\""), None);
        assert_eq!(go_package_name("\"v2\""), None);
    }
}
