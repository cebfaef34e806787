//! The tasks of `splice bench retrieval`: lines of real source files with the rest of the line
//! cut at a cursor, chosen by a seed so that every run and both ways of asking (over LSP or in
//! process) score the same holes.
//!
//! The cursor goes at the start of a line (after the indentation), mid-line (after a `.`, `(`
//! or `= `) or three characters into a name (the editor asks while names are typed); the lines
//! below stay as the suffix. The same cuts serve every language; which lines are code differs:
//! Python's are read line by line (comments, docstrings), every other language's by its syntax
//! tree (any line a comment node touches is left out).

use crate::bench_retrieval_sets::TaskSet;
use crate::bench_rng::SplitMix;
use anyhow::Context;
use splice_retrieval::language::Language;
use std::path::{Path, PathBuf};

/// One line-completion task.
#[derive(Debug, Clone)]
pub struct Task {
    /// The file, absolute.
    pub path: PathBuf,
    /// The file with the rest of the line removed.
    pub text: String,
    /// Byte offset of the cursor in `text`.
    pub cursor: usize,
    /// The removed rest of the line.
    pub expected: String,
}

/// Cuts `per_file` tasks from each of `files` files of `root` in the set's languages (a seeded
/// shuffle of the files, the first ones with enough candidate lines, then seeded choice of lines
/// and cursor kinds). Files under a folder the set skips give no tasks.
pub fn tasks(root: &Path, set: &TaskSet, files: usize, per_file: usize, seed: u64) -> anyhow::Result<Vec<Task>> {
    let listed = if set.languages == [Language::Python] {
        crate::bench_corpus::python_files(root)?
    } else {
        crate::bench_corpus::language_files(root, set.languages)?
    };
    let mut paths: Vec<PathBuf> = listed
        .into_iter()
        .filter(|p| !skipped(root, p, set.task_skip))
        .map(|p| p.canonicalize().unwrap_or(p))
        .collect();
    paths.sort();
    let mut rng = SplitMix(seed);
    let mut chosen = Vec::new();
    // Spread over the repository: a seeded shuffle, then the first files with enough lines.
    for i in (1..paths.len()).rev() {
        paths.swap(i, rng.below(i + 1));
    }
    for path in paths {
        if chosen.len() >= files * per_file {
            break;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut candidates = match Language::from_path(&path) {
            Some(Language::Python) | None => candidate_lines(&text),
            Some(language) => code_lines(language, &text),
        };
        if candidates.len() < per_file * 3 {
            continue;
        }
        let mut picked = Vec::new();
        while picked.len() < per_file && !candidates.is_empty() {
            let line = candidates.swap_remove(rng.below(candidates.len()));
            picked.push(line);
        }
        // Document order, so that consecutive tasks of a file are nearby edits of one document.
        picked.sort_by_key(|(start, _)| *start);
        for (start, end) in picked {
            let line = &text[start..end];
            let cut = match rng.below(3) {
                0 => line_start_cut(line),
                1 => mid_line_cut(line, &mut rng),
                _ => mid_word_cut(line, &mut rng),
            };
            let Some(cut) = cut else { continue };
            let expected = line[cut..].to_owned();
            let mut cut_text = text.clone();
            cut_text.replace_range(start + cut..end, "");
            chosen.push(Task { path: path.clone(), text: cut_text, cursor: start + cut, expected });
        }
    }
    Ok(chosen)
}

/// Byte ranges (without the newline) of lines worth completing: code, not comments, docstrings
/// or blank lines, at least 12 characters, after the first 10 lines.
fn candidate_lines(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let mut in_docstring = false;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches('\n');
        let trimmed = body.trim();
        let quotes = trimmed.matches("\"\"\"").count() + trimmed.matches("'''").count();
        let skip = in_docstring || quotes > 0 || trimmed.starts_with('#') || trimmed.len() < 12 || number < 10;
        if quotes % 2 == 1 {
            in_docstring = !in_docstring;
        }
        if !skip {
            out.push((offset, offset + body.len()));
        }
        offset += line.len();
    }
    out
}

/// Whether `path` lies under a folder of `root` named in `skip`.
fn skipped(root: &Path, path: &Path, skip: &[&str]) -> bool {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.parent().is_some_and(|dir| dir.iter().any(|part| skip.iter().any(|s| part == *s)))
}

/// Byte ranges (without the newline) of lines worth completing in a language read by its
/// syntax: at least 12 characters, after the first 10 lines, not touched by a comment (doc
/// comments, license headers, commented-out code, a trailing comment the model cannot guess).
fn code_lines(language: Language, text: &str) -> Vec<(usize, usize)> {
    let commented = comment_lines(language, text);
    let mut out = Vec::new();
    let mut offset = 0;
    for (number, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches('\n').trim_end_matches('\r');
        if number >= 10 && body.trim().len() >= 12 && !commented.get(number).copied().unwrap_or(false) {
            out.push((offset, offset + body.len()));
        }
        offset += line.len();
    }
    out
}

/// Per line of `text`, whether a comment node of its syntax tree touches it (none when the
/// grammar does not load).
fn comment_lines(language: Language, text: &str) -> Vec<bool> {
    let mut marked = vec![false; text.split_inclusive('\n').count() + 1];
    let Some(tree) = language.parser().and_then(|mut parser| parser.parse(text, None)) else {
        return marked;
    };
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        if node.kind().contains("comment") {
            let (start, end) = (node.start_position(), node.end_position());
            // A line comment's node may end at column 0 of the next line (its newline).
            let last = if end.column == 0 && end.row > start.row { end.row - 1 } else { end.row };
            for row in start.row..=last.min(marked.len() - 1) {
                marked[row] = true;
            }
        } else if cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return marked;
            }
        }
    }
}

/// The cursor after the indentation.
fn line_start_cut(line: &str) -> Option<usize> {
    Some(line.len() - line.trim_start().len())
}

/// The cursor after a `.`, `(` or `= ` of the line (seeded choice), leaving at least 3 bytes.
fn mid_line_cut(line: &str, rng: &mut SplitMix) -> Option<usize> {
    let indent = line.len() - line.trim_start().len();
    let cuts: Vec<usize> = line
        .char_indices()
        .filter(|(i, c)| *i > indent && matches!(c, '.' | '(' | ' ') && (*c != ' ' || line[..*i].ends_with('=')))
        .map(|(i, c)| i + c.len_utf8())
        .filter(|&i| line.len() - i >= 3)
        .collect();
    if cuts.is_empty() {
        return line_start_cut(line);
    }
    Some(*rng.pick(&cuts))
}

/// The cursor three characters into a name of at least six (seeded choice): the editor asks
/// while a name is being typed. Falls back to [`mid_line_cut`] on lines without such a name.
fn mid_word_cut(line: &str, rng: &mut SplitMix) -> Option<usize> {
    const TYPED: usize = 3;
    let mut names = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain(std::iter::once((line.len(), ' '))) {
        let ident = c.is_alphanumeric() || c == '_';
        match (start, ident) {
            (None, true) if !c.is_numeric() => start = Some(i),
            (Some(s), false) => {
                if line[s..i].chars().count() >= 2 * TYPED {
                    names.push(s);
                }
                start = None;
            }
            _ => {}
        }
    }
    if names.is_empty() {
        return mid_line_cut(line, rng);
    }
    let name = *rng.pick(&names);
    Some(name + line[name..].chars().take(TYPED).map(char::len_utf8).sum::<usize>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mid_line_cuts_follow_a_dot_a_paren_or_an_assignment() {
        let line = "    total = helpers.compute(order)";
        let mut rng = SplitMix(1);
        for _ in 0..20 {
            let cut = mid_line_cut(line, &mut rng).unwrap();
            assert!(["= ", "helpers.", "compute("].iter().any(|s| line[..cut].ends_with(s)), "{}", &line[..cut]);
        }
        assert_eq!(line_start_cut(line), Some(4));
    }

    #[test]
    fn mid_word_cuts_leave_three_typed_characters_of_a_long_name() {
        let line = "    total = helpers.compute_total(order)";
        let mut rng = SplitMix(3);
        for _ in 0..20 {
            let cut = mid_word_cut(line, &mut rng).unwrap();
            assert!(["hel", "com"].iter().any(|s| line[..cut].ends_with(s)), "{}", &line[..cut]);
        }
    }

    #[test]
    fn comments_of_a_brace_language_are_not_tasks() {
        let mut text = "let x = 1;\n".repeat(10);
        text.push_str("/* a block comment\n   spanning lines here */\n// a line comment is here\n");
        text.push_str("const value = compute(a, b);\nconst other = 2; // why this\nconst pattern = \"/**/*.js\";\n");
        text.push_str("const after = pattern.length;\n");
        let lines: Vec<&str> = code_lines(Language::JavaScript, &text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(
            lines,
            ["const value = compute(a, b);", "const pattern = \"/**/*.js\";", "const after = pattern.length;"]
        );
        let mut rust = "use a::b;\n".repeat(10);
        rust.push_str("/// Docs of the function.\nfn parse(input: &str) -> Version {\n    let version = Version::new(1, 2, 3);\n}\n");
        let lines: Vec<&str> = code_lines(Language::Rust, &rust).into_iter().map(|(s, e)| &rust[s..e]).collect();
        assert_eq!(lines, ["fn parse(input: &str) -> Version {", "    let version = Version::new(1, 2, 3);"]);
    }

    #[test]
    fn tasks_skip_the_sets_skipped_folders() {
        let root = Path::new("/r");
        assert!(skipped(root, Path::new("/r/platform/switch.h"), &["platform"]));
        assert!(skipped(root, Path::new("/r/a/__tests__/q.test.tsx"), &["__tests__"]));
        assert!(!skipped(root, Path::new("/r/platform.h"), &["platform"]));
        assert!(!skipped(root, Path::new("/r/src/query.ts"), &["__tests__"]));
    }

    #[test]
    fn docstrings_comments_and_short_lines_are_not_tasks() {
        let mut text = "x = 1\n".repeat(10);
        text.push_str("def f():\n    \"\"\"Docs\n    more docs here ok\n    \"\"\"\n    # a comment line here\n    return compute(a, b)\n");
        let lines: Vec<&str> = candidate_lines(&text).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(lines, vec!["    return compute(a, b)"]);
    }
}
