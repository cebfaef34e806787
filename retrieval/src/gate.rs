//! [`SelectiveRetriever`]: decide per request whether repository context is worth it.
//!
//! First, the strongest evidence: the word being typed (`helpers.frob┃`) begins a name that
//! another file defines and that the current file never spells. The model cannot know that
//! name, so its own confidence says nothing: `auto` retrieves the definitions (first) without
//! asking it, and `always` puts them first too.
//!
//! Next, a near copy: when the lines before the cursor are distinctive enough
//! ([`crate::near_copy::Anchor`]), the search's hits are looked through for a place that repeats
//! them in order and goes on after them (a sibling file's copy of the same code). The model
//! cannot know that continuation either, so `auto` retrieves without asking it, the copy first.
//!
//! Otherwise `auto` runs the cheap gates in order and stops at the first that says no: (a) lexical —
//! names near the cursor whose definitions live in other files ([`crate::lexical`]); (b) score —
//! the best hit's BM25 score per query term must reach [`GateConfig::score_threshold`]. A request
//! passing both is answered `Retrieve { check_model: true }`: the engine still drops the snippets
//! when the model is confident without them (gate (c), Repoformer's idea). Every decision's
//! reason carries its numbers and is logged at `debug`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::beside::both;
use crate::keywords;
use crate::language::Language;
use crate::lexical::{foreign_names_again, gate_language, read_opened_document, GateSyntax, Surrounding};
use crate::near_copy::{self, Anchor};
use crate::query::{completes_locally, typed_word, QueryTerms};
use crate::recent::Recent;
use crate::select::{select, SearchLimits};
use crate::workspace::WorkspaceIndex;
use crate::{RetrievalDecision, RetrievalMode, RetrievalQuery, Retriever, Snippet};

/// How many foreign names a reason lists before "…".
const NAMES_SHOWN: usize = 5;

/// Gate thresholds and search limits.
#[derive(Debug, Clone, PartialEq)]
pub struct GateConfig {
    /// `auto`: minimum best BM25 score divided by the number of query terms.
    pub score_threshold: f32,
    /// How many snippets, how many per file, how many bytes.
    pub limits: SearchLimits,
    /// Whether the lexical gate keeps each document's syntax between requests, so that a
    /// keystroke parses and reads only what changed (the default); off, every request parses
    /// the text from scratch (what `splice bench retrieval --through gate` compares against).
    pub keep_syntax: bool,
}

impl Default for GateConfig {
    /// Threshold 0.5 per term (see the crate docs for how it was chosen), default limits,
    /// syntax kept between requests.
    fn default() -> Self {
        Self { score_threshold: DEFAULT_SCORE_THRESHOLD, limits: SearchLimits::default(), keep_syntax: true }
    }
}

/// Default [`GateConfig::score_threshold`].
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.5;

/// The retriever over a [`WorkspaceIndex`], gated by [`RetrievalMode`].
#[derive(Debug, Clone)]
pub struct SelectiveRetriever {
    index: Arc<WorkspaceIndex>,
    mode: RetrievalMode,
    config: GateConfig,
    syntax: Arc<DocumentSyntax>,
}

/// How many documents' syntax the gate keeps (the most recently asked about or opened).
const DOCUMENTS_KEPT: usize = 8;

/// How many documents' syntax the gate keeps for prefetches (one runs at a time, in the
/// document last shown a suggestion).
const AHEAD_KEPT: usize = 2;

/// The gate's [`GateSyntax`] of the documents asked about or opened last, most recent first: a
/// keystroke in one of them parses and reads only what changed since its previous request, and
/// a document read when it was opened ([`DocumentSyntax::document_opened`]) gets a first
/// request of the same cost. Shared between a workspace and the retrievers made over it.
///
/// A prefetch's query ([`RetrievalQuery::ahead`]) reads its text (the document with the shown
/// suggestion accepted, often cut into another window) with a state of its own, seeded with
/// what the requests' state knows of the document's items. Read with the requests' state, it
/// would move that state's trees to a text the next request may not have, which then parses
/// its way back (3–4 ms for a 20–28 KB Rust test module), and the request would wait for the
/// prefetch's read to let go of the state first.
#[derive(Debug, Default)]
pub struct DocumentSyntax {
    documents: Recent<PathBuf, GateSyntax, DOCUMENTS_KEPT>,
    ahead: Recent<PathBuf, GateSyntax, AHEAD_KEPT>,
}

impl DocumentSyntax {
    /// Reads the document at `path`, just opened with `text`, so that a request anywhere in it
    /// finds what the items around its construct define already read
    /// ([`crate::lexical::read_opened_document`]). Costs one parse of the file for the table's
    /// languages but Python, nothing for other files: call it off the request path. The file is
    /// read before its state is taken, so a request of the same document never waits for it.
    pub fn document_opened(&self, path: &Path, text: &str) {
        let language = gate_language(Some(path)).filter(|language| *language != Language::Python);
        if language.is_none() {
            return;
        }
        let mut opened = GateSyntax::default();
        read_opened_document(&mut opened, language, text);
        if let Ok(mut state) = self.state_of(path).lock() {
            state.absorb(opened);
        }
    }

    /// Runs `f` with `path`'s state (its prefetches' state when `ahead`): a fresh one for a
    /// new document, and also when another reader of the same document (a request superseded)
    /// has held it for [`STATE_WAIT`] (the answer is the same, only slower: the text is parsed
    /// from scratch).
    fn with<T>(&self, path: Option<&Path>, ahead: bool, f: impl FnOnce(&mut GateSyntax) -> T) -> T {
        let Some(path) = path else { return f(&mut GateSyntax::whole_text()) };
        let state = if ahead { self.ahead_state_of(path) } else { self.state_of(path) };
        let answer = match lock_within(&state, STATE_WAIT) {
            Some(mut state) => f(&mut state),
            None => f(&mut GateSyntax::whole_text()),
        };
        answer
    }

    /// `path`'s state, made the most recent (a fresh one for a document not kept).
    fn state_of(&self, path: &Path) -> Arc<Mutex<GateSyntax>> {
        self.documents.state_of(path)
    }

    /// `path`'s prefetches' state, made the most recent; a new one is seeded with what the
    /// requests' state knows of the document's items ([`GateSyntax::seeded`]), or fresh if
    /// a request holds that state past [`STATE_WAIT`].
    fn ahead_state_of(&self, path: &Path) -> Arc<Mutex<GateSyntax>> {
        self.ahead.state_of_or(path, || {
            let requests = self.state_of(path);
            let seeded = lock_within(&requests, STATE_WAIT).map(|state| state.seeded());
            seeded.unwrap_or_default()
        })
    }
}

/// How long a request waits for its document's state while another request (one the next key
/// superseded) reads with it. Such a read is what a keystroke costs (0.2–2 ms at the median
/// over LSP), and giving up means parsing the window from scratch (1.5–10 ms). A prefetch
/// waits as long for the requests' state to seed its own.
const STATE_WAIT: std::time::Duration = std::time::Duration::from_millis(5);

/// `mutex` locked, waiting at most `patience` for another holder to let it go; `None` when it
/// is still held then (or poisoned: a panic left it half-written). It looks again after 50 µs,
/// then after twice as long each time up to 1 ms: on a machine whose cores are taken, every
/// wake-up of the waiter pre-empts someone, possibly the holder.
fn lock_within<T>(mutex: &Mutex<T>, patience: std::time::Duration) -> Option<std::sync::MutexGuard<'_, T>> {
    let deadline = std::time::Instant::now() + patience;
    let mut pause = std::time::Duration::from_micros(50);
    loop {
        match mutex.try_lock() {
            Ok(guard) => return Some(guard),
            Err(std::sync::TryLockError::Poisoned(_)) => return None,
            Err(std::sync::TryLockError::WouldBlock) => {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return None;
                }
                std::thread::sleep(pause.min(deadline - now));
                pause = (pause * 2).min(std::time::Duration::from_millis(1));
            }
        }
    }
}

impl SelectiveRetriever {
    /// A retriever answering from `index` in `mode`.
    pub fn new(index: Arc<WorkspaceIndex>, mode: RetrievalMode, config: GateConfig) -> Self {
        Self { index, mode, config, syntax: Arc::default() }
    }

    /// The same retriever keeping its documents' syntax in `syntax`, which others (the
    /// workspace, when the editor opens a document) may fill too.
    pub fn with_syntax(self, syntax: Arc<DocumentSyntax>) -> Self {
        Self { syntax, ..self }
    }

    /// The mode it runs in.
    pub fn mode(&self) -> RetrievalMode {
        self.mode
    }

    fn decide(&self, query: &RetrievalQuery<'_>) -> RetrievalDecision {
        let skip = |reason: String| RetrievalDecision::Skip { reason };
        if self.mode == RetrievalMode::Never {
            return RetrievalDecision::off();
        }
        let language = gate_language(query.path);
        let terms = QueryTerms::for_language(language, query.text, query.cursor);
        let typed = typed_word(query.text, query.cursor).filter(|word| could_be_foreign(query, language, word));
        let definitions = typed.map(|word| self.index.definitions(word, query)).unwrap_or_default();
        if let Some(word) = typed.filter(|_| !definitions.is_empty()) {
            let limits = &self.config.limits;
            // One search ranks both the definitions and the other snippets.
            let ranked = self.index.ranked(&terms, query, limits.candidates().max(DEFINITION_RANKING));
            let definitions = best_matching_first(definitions, &ranked);
            let reason = format!("`{word}` begins a name defined in {}", definitions[0].path.display());
            let others = select(ranked.into_iter().take(limits.candidates()).collect(), limits);
            let snippets = select(definitions.into_iter().chain(others).collect(), limits);
            let count = snippets.len();
            return RetrievalDecision::Retrieve {
                reason: format!("{reason}; {count} snippets"),
                snippets,
                check_model: false,
            };
        }
        let mut prefix = String::new();
        let mut found = None;
        if self.mode == RetrievalMode::Auto {
            let path = query.path.filter(|_| self.config.keep_syntax);
            let around = Surrounding { mid_file: query.first_line > 0, above: query.above, below: query.below };
            let read_names = || {
                self.syntax.with(path, query.ahead, |state| {
                    foreign_names_again(state, language, query.text, query.cursor, &query.window, around)
                })
            };
            let anchor = Anchor::before(query.text, query.cursor).filter(|_| !terms.is_empty());
            let (names, hits) = match anchor {
                // The near-copy search is certain: a search of a new spot is offered to the
                // helper thread while this one reads a tree language's syntax (a search
                // remembered, or Python's reading of lines, costs less than handing it over).
                // A prefetch's query never takes the helper: it would queue a request's search
                // behind its own.
                Some(_) => {
                    let parsed = language.is_some_and(|language| language != Language::Python);
                    let beside = parsed && !query.ahead && !self.index.remembers_search(&terms, &self.config.limits);
                    let (names, hits) = if beside {
                        let search = OwnedSearch::of(&self.index, &terms, query, &self.config.limits);
                        both(true, read_names, move || search.run())
                    } else {
                        (read_names(), self.index.search_terms(&terms, query, &self.config.limits).hits)
                    };
                    (names, Some(hits))
                }
                None => (read_names(), None),
            };
            if let (Some(anchor), Some(hits)) = (anchor, hits) {
                match near_copy_first(&anchor, hits) {
                    Ok(decision) => return decision,
                    Err(hits) => found = Some(hits),
                }
            }
            if names.is_empty() {
                return skip("no names from other files near the cursor".to_owned());
            }
            prefix = format!("foreign names: {}; ", list(&names));
        }
        if terms.is_empty() {
            return skip(format!("{prefix}no query terms near the cursor"));
        }
        let hits = found.unwrap_or_else(|| self.index.search_terms(&terms, query, &self.config.limits).hits);
        let Some(best) = hits.first() else {
            return skip(format!("{prefix}nothing matched ({} query terms)", terms.len()));
        };
        let per_term = best.score / terms.len().max(1) as f32;
        let threshold = self.config.score_threshold;
        let count = hits.len();
        match self.mode {
            RetrievalMode::Auto if per_term < threshold => {
                skip(format!("{prefix}best score {per_term:.2}/term < {threshold:.2}"))
            }
            RetrievalMode::Auto => RetrievalDecision::Retrieve {
                reason: format!("{prefix}best score {per_term:.2}/term ≥ {threshold:.2}; {count} snippets"),
                snippets: hits,
                check_model: true,
            },
            _ => RetrievalDecision::Retrieve {
                reason: format!("always: {count} snippets, best score {per_term:.2}/term"),
                snippets: hits,
                check_model: false,
            },
        }
    }
}

/// A search of the index that owns what it needs, so that the helper thread of [`both`] can
/// run it while the request's thread reads the syntax.
struct OwnedSearch {
    index: Arc<WorkspaceIndex>,
    terms: QueryTerms,
    path: Option<PathBuf>,
    text: String,
    cursor: usize,
    window: std::ops::Range<usize>,
    first_line: u32,
    limits: SearchLimits,
}

impl OwnedSearch {
    /// `index.search_terms(terms, query, limits)`, to run later. The search reads the query's
    /// file, window and lines, not the text around the window, so that is left behind.
    fn of(index: &Arc<WorkspaceIndex>, terms: &QueryTerms, query: &RetrievalQuery<'_>, limits: &SearchLimits) -> Self {
        OwnedSearch {
            index: index.clone(),
            terms: terms.clone(),
            path: query.path.map(Path::to_path_buf),
            text: query.text[..crate::query::floor_char_boundary(query.text, query.window.end)].to_owned(),
            cursor: query.cursor,
            window: query.window.clone(),
            first_line: query.first_line,
            limits: limits.clone(),
        }
    }

    /// Runs the search (more than once, where [`both`] runs it on both threads).
    fn run(&self) -> Vec<Snippet> {
        let query = RetrievalQuery {
            path: self.path.as_deref(),
            text: &self.text,
            cursor: self.cursor.min(self.text.len()),
            window: self.window.clone(),
            first_line: self.first_line,
            above: "",
            below: "",
            ahead: false,
        };
        self.index.search_terms(&self.terms, &query, &self.limits).hits
    }
}

/// The decision to retrieve `hits` with the first near copy of `anchor` among them first, or
/// the hits back when none repeats it.
fn near_copy_first(anchor: &Anchor, mut hits: Vec<Snippet>) -> Result<RetrievalDecision, Vec<Snippet>> {
    let Some(copy) = near_copy::find(anchor, &hits) else { return Err(hits) };
    let first = hits.remove(copy);
    let reason = format!(
        "{} repeat in {} and go on there; {} snippets",
        anchor.describe(),
        first.path.display(),
        hits.len() + 1
    );
    hits.insert(0, first);
    Ok(RetrievalDecision::Retrieve { snippets: hits, reason, check_model: false })
}

/// How many ranked chunks order several definitions of the typed word.
const DEFINITION_RANKING: usize = 64;

/// `definitions` ordered by how well their chunks match the code around the cursor (their place
/// in `ranked`), unranked ones last, ties by path and line.
fn best_matching_first(mut definitions: Vec<Snippet>, ranked: &[Snippet]) -> Vec<Snippet> {
    let rank_of = |s: &Snippet| ranked.iter().position(|r| r.path == s.path && r.lines == s.lines);
    definitions.sort_by_key(|s| (rank_of(s).unwrap_or(usize::MAX), s.path.clone(), s.lines.start));
    definitions
}

/// Whether the typed `word` may become a name from another file: no keyword or builtin (of the
/// file's language, or common to many) starts with it, and no other identifier of the current
/// file does (the model sees those).
fn could_be_foreign(query: &RetrievalQuery<'_>, language: Option<Language>, word: &str) -> bool {
    let keyword = keywords::OTHER.iter().any(|k| k.starts_with(word))
        || language.is_some_and(|language| language.known_words().any(|k| k.starts_with(word)));
    !keyword && !completes_locally(query.text, query.cursor, word)
}

impl Retriever for SelectiveRetriever {
    fn retrieve(&self, query: &RetrievalQuery<'_>) -> RetrievalDecision {
        let started = std::time::Instant::now();
        let decision = self.decide(query);
        let elapsed_us = started.elapsed().as_micros() as u64;
        match &decision {
            RetrievalDecision::Skip { reason } => {
                tracing::debug!(mode = ?self.mode, elapsed_us, %reason, "retrieval skipped")
            }
            RetrievalDecision::Retrieve { reason, snippets, check_model } => tracing::debug!(
                mode = ?self.mode, elapsed_us, %reason, snippets = snippets.len(), check_model, "retrieval"
            ),
        }
        decision
    }
}

fn list(names: &[String]) -> String {
    let mut shown = names.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > NAMES_SHOWN {
        shown.push_str(&format!(", … ({} in all)", names.len()));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(syntax: &DocumentSyntax) -> Vec<PathBuf> {
        syntax.documents.keys()
    }

    #[test]
    fn a_state_held_briefly_is_waited_for_and_one_held_long_is_not() {
        let state = Arc::new(Mutex::new(0));
        let held = state.clone();
        let (locked, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
        let holder = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            locked.0.send(()).unwrap();
            let _ = release.1.recv();
        });
        locked.1.recv().unwrap();
        let started = std::time::Instant::now();
        assert!(lock_within(&state, std::time::Duration::from_millis(20)).is_none(), "still held: given up");
        assert!(started.elapsed() >= std::time::Duration::from_millis(20), "waited its patience first");
        // Let go while a request waits: the request gets the state.
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            release.0.send(()).unwrap();
        });
        assert!(lock_within(&state, std::time::Duration::from_secs(60)).is_some());
        holder.join().unwrap();
        letting_go.join().unwrap();
    }

    /// What the gate's syntax step finds near `cursor` in all of `text`, the document at
    /// `path`, read as a request's query (or a prefetch's, `ahead`).
    fn read(syntax: &DocumentSyntax, path: &Path, ahead: bool, text: &str, cursor: usize) -> Vec<String> {
        syntax.with(Some(path), ahead, |state| {
            foreign_names_again(state, Some(Language::Rust), text, cursor, &(0..text.len()), Surrounding::WHOLE)
        })
    }

    #[test]
    fn a_prefetch_reads_its_text_apart_and_leaves_the_requests_syntax_as_it_was() {
        let (syntax, path) = (DocumentSyntax::default(), Path::new("/w/src/lib.rs"));
        let mut document: String = (0..40)
            .map(|i| {
                format!("fn f{i}(config: &Config) -> usize {{\n    let x = helpers::parse_{i}(config);\n    x\n}}\n\n")
            })
            .collect();
        syntax.document_opened(path, &document);
        let cursor = document.find("parse_20(config);").unwrap() + "parse_20(config);".len();
        let names = read(&syntax, path, false, &document, cursor);
        assert_eq!(names, crate::lexical::foreign_names(Some(Language::Rust), &document, cursor, &(0..document.len())));
        assert!(names.contains(&"helpers::parse_20".to_owned()), "{names:?}");
        let requests = syntax.state_of(path);
        let parsed = requests.lock().unwrap().construct_parses();
        // The suggestion shown there, taken as accepted: the prefetch's text.
        let mut accepted = document.clone();
        let suggestion = "\n    let y = checks::limit(x);";
        accepted.insert_str(cursor, suggestion);
        let after = cursor + suggestion.len();
        let ahead = read(&syntax, path, true, &accepted, after);
        assert_eq!(ahead, crate::lexical::foreign_names(Some(Language::Rust), &accepted, after, &(0..accepted.len())));
        assert!(ahead.contains(&"checks::limit".to_owned()), "{ahead:?}");
        // The prefetch's state started from what the opening read of the items: none parsed.
        let prefetches = syntax.ahead.state_of(path);
        assert_eq!(prefetches.lock().unwrap().item_counts().0, 0, "seeded with the document's items");
        // The requests' state was not moved: the same request again needs no parse.
        assert_eq!(read(&syntax, path, false, &document, cursor), names);
        assert_eq!(requests.lock().unwrap().construct_parses(), parsed);
        // And the person types on from there as if no prefetch had run.
        document.insert(cursor, '\n');
        let typed = read(&syntax, path, false, &document, cursor + 1);
        assert_eq!(
            typed,
            crate::lexical::foreign_names(Some(Language::Rust), &document, cursor + 1, &(0..document.len()))
        );
        assert_eq!(requests.lock().unwrap().construct_parses(), parsed + 1);
    }

    #[test]
    fn a_document_is_read_when_opened_where_its_gate_reads_a_tree() {
        let syntax = DocumentSyntax::default();
        let small = "fn main() {\n    let x = 1;\n}\n";
        syntax.document_opened(Path::new("/w/src/main.rs"), small);
        // Python's gate reads lines; a file of no table language has no grammar.
        syntax.document_opened(Path::new("/w/app.py"), "import os\n");
        syntax.document_opened(Path::new("/w/notes.txt"), "words\n");
        // Any length: each item is read on its own.
        let big: String = (0..60).map(|i| format!("fn f{i}() {{\n    let x = {i};\n}}\n")).collect();
        syntax.document_opened(Path::new("/w/src/big.rs"), &big);
        assert_eq!(kept(&syntax), [PathBuf::from("/w/src/big.rs"), PathBuf::from("/w/src/main.rs")]);
        // What was read is there for the first request: every item of the file is remembered.
        let state = syntax.state_of(Path::new("/w/src/big.rs"));
        assert_eq!(state.lock().unwrap().item_counts(), (60, 60));
    }
}
