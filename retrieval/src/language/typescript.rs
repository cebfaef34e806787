//! TypeScript's and TSX's table entries: JavaScript's rules and words plus types, interfaces,
//! enums and namespaces. The two differ only in their grammar (TSX parses JSX, which makes
//! `<T>value` casts ambiguous, so `.ts` files get the grammar without it).

use super::javascript::{BUILTINS as JS_BUILTINS, FUNCTION_VALUES, KEYWORDS as JS_KEYWORDS};
use super::{ChunkRules, Delimiters, ImportSyntax, Language, LanguageSpec, ScopeRules};

pub(super) const TYPESCRIPT: LanguageSpec = LanguageSpec {
    language: Language::TypeScript,
    name: "TypeScript",
    language_ids: &["typescript"],
    extensions: &["ts", "mts", "cts"],
    grammar: || tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
    line_comment: "//",
    delimiters: Delimiters { quotes: "\"'`", multiline_quotes: "`", macro_token_trees: false },
    keywords: &[KEYWORDS, JS_KEYWORDS],
    builtins: &[BUILTINS, JS_BUILTINS],
    imports: ImportSyntax::EcmaScript,
    chunks: CHUNKS,
    scope: SCOPE,
};

pub(super) const TSX: LanguageSpec = LanguageSpec {
    language: Language::Tsx,
    name: "TSX",
    language_ids: &["typescriptreact"],
    extensions: &["tsx"],
    grammar: || tree_sitter_typescript::LANGUAGE_TSX.into(),
    ..TYPESCRIPT
};

const CHUNKS: ChunkRules = ChunkRules {
    definitions: &[
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
        "function_signature",
        "method_signature",
        "abstract_method_signature",
    ],
    containers: &[
        "class_declaration",
        "abstract_class_declaration",
        "interface_declaration",
        "enum_declaration",
        "internal_module",
        "module",
    ],
    wrappers: &[("export_statement", "declaration"), ("ambient_declaration", ""), ("expression_statement", "")],
    transparent: &[],
    leading: &["comment"],
    declarations: &[
        "lexical_declaration",
        "variable_declaration",
        "expression_statement",
        "export_statement",
        "ambient_declaration",
        "type_alias_declaration",
        "public_field_definition",
        "property_signature",
    ],
    names: &[
        ("variable_declarator", "name"),
        ("assignment_expression", "left"),
        ("type_alias_declaration", "name"),
        ("public_field_definition", "name"),
        ("property_signature", "name"),
    ],
    members: &[("property_signature", "name"), ("public_field_definition", "name")],
    function_values: FUNCTION_VALUES,
    exports: &["exports", "module.exports"],
};

const SCOPE: ScopeRules = ScopeRules {
    bindings: &[
        ("function_declaration", "name"),
        ("generator_function_declaration", "name"),
        ("function_expression", "name"),
        ("generator_function", "name"),
        ("function_signature", "name"),
        ("class_declaration", "name"),
        ("abstract_class_declaration", "name"),
        ("class", "name"),
        ("interface_declaration", "name"),
        ("type_alias_declaration", "name"),
        ("enum_declaration", "name"),
        ("internal_module", "name"),
        ("type_parameter", "name"),
        ("variable_declarator", "name"),
        ("formal_parameters", ""),
        ("arrow_function", "parameter"),
        ("catch_clause", "parameter"),
        ("for_in_statement", "left"),
    ],
    references: &["identifier", "type_identifier", "shorthand_property_identifier"],
    separators: &["?.", "."],
    path_roots: &[],
    ignored: &[],
};

/// TypeScript's reserved words beyond JavaScript's.
const KEYWORDS: &[&str] = &[
    "abstract",
    "any",
    "as",
    "asserts",
    "bigint",
    "boolean",
    "declare",
    "enum",
    "implements",
    "infer",
    "interface",
    "is",
    "keyof",
    "namespace",
    "never",
    "number",
    "object",
    "override",
    "private",
    "protected",
    "public",
    "readonly",
    "satisfies",
    "string",
    "symbol",
    "type",
    "unique",
    "unknown",
];

/// TypeScript's utility types and library interfaces beyond JavaScript's globals.
const BUILTINS: &[&str] = &[
    "Partial",
    "Required",
    "Readonly",
    "Record",
    "Pick",
    "Omit",
    "Exclude",
    "Extract",
    "NonNullable",
    "ReturnType",
    "Parameters",
    "InstanceType",
    "Awaited",
    "ReadonlyArray",
    "PromiseLike",
    "Iterable",
    "IterableIterator",
    "AsyncIterable",
    "ArrayLike",
    "PropertyKey",
];
