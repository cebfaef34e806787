//! The test side of `splice bench exec`, in Rust: the corpus packages, their holes (chosen and
//! validated once, then cached), and the verdicts of put-back lines. The work is done by
//! `bench_exec_tests.py` (embedded here, written to the cache) under the private venv that
//! `scripts/corpus.sh` installs with pytest and what the packages' suites need.

use crate::config::cache_dir;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SCRIPT: &str = include_str!("bench_exec_tests.py");

/// A package of the corpus whose own tests judge the holes.
#[derive(Debug, Clone, Copy)]
pub struct Package {
    /// Its name, as `--packages` spells it.
    pub name: &'static str,
    /// Its unpacked sdist under the corpus folder.
    pub sdist: &'static str,
    /// The importable package inside the sdist: the workspace the server indexes.
    pub source: &'static str,
    /// Its tests inside the sdist.
    pub tests: &'static str,
}

/// The packages `make corpus` fetches with their tests: pure Python, suites of a few seconds.
pub const PACKAGES: [Package; 3] = [
    Package { name: "click", sdist: "click-8.1.7", source: "src/click", tests: "tests" },
    Package { name: "itsdangerous", sdist: "itsdangerous-2.2.0", source: "src/itsdangerous", tests: "tests" },
    Package { name: "more-itertools", sdist: "more-itertools-10.5.0", source: "more_itertools", tests: "tests" },
];

impl Package {
    /// The sdist's folder in the cache.
    pub fn root(&self) -> PathBuf {
        cache_dir().join("corpus").join(self.sdist)
    }
}

/// One hole: a line of a function that the package's tests run, which they pass with and fail
/// without.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hole {
    /// The file, relative to the sdist's folder.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// Line number of the enclosing function's `def`.
    pub function: usize,
    /// The original line.
    pub text: String,
    /// Its indentation, which the editor has already typed when the completion is asked.
    pub indent: String,
    /// Node ids of the tests that run the line (at most 40, in suite order).
    pub tests: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct HoleSet {
    holes: Vec<Hole>,
    rejected: usize,
    #[serde(rename = "functionsTraced")]
    functions_traced: usize,
}

/// What the tests said of a put-back line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The tests passed.
    Pass,
    /// A test failed, or the file no longer imports.
    Fail,
    /// The tests ran past the time limit.
    Timeout,
}

/// A line to put back into a hole and test.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// The hole's file, relative to the sdist's folder.
    pub file: String,
    /// The hole's line number.
    pub line: usize,
    /// The whole line put back.
    pub text: String,
    /// The tests to run.
    pub tests: Vec<String>,
}

/// The venv's Python (`make corpus` installs it).
fn python() -> anyhow::Result<PathBuf> {
    let python = cache_dir().join("exec-venv/bin/python");
    if !python.is_file() {
        bail!("{} is missing (run `make corpus`)", python.display());
    }
    Ok(python)
}

/// The embedded script, written next to the cache of holes; returns its path and a hash of it.
fn script() -> anyhow::Result<(PathBuf, u64)> {
    let dir = cache_dir().join("exec");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("bench_exec_tests.py");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(SCRIPT) {
        std::fs::write(&path, SCRIPT).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok((path, fnv1a(SCRIPT.as_bytes())))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// `count` holes of `package` chosen with `seed`: read from the cache, else chosen by tracing
/// the package's suite and validating each hole (a minute or two, once).
pub fn holes(package: &Package, count: usize, seed: u64, timeout_s: u64) -> anyhow::Result<Vec<Hole>> {
    let root = package.root();
    if !root.join(package.tests).is_dir() {
        bail!("{} has no tests (run `make corpus`)", root.display());
    }
    let (_, hash) = script()?;
    let cached = cache_dir().join("exec").join(format!("holes-{}-{count}-{seed}-{hash:016x}.json", package.sdist));
    if let Ok(text) = std::fs::read_to_string(&cached) {
        if let Ok(set) = serde_json::from_str::<HoleSet>(&text) {
            return Ok(set.holes);
        }
    }
    eprintln!("{}: choosing {count} holes (tracing its tests, then checking each hole)", package.name);
    let (set, json) = holes_in(&root, package.source, package.tests, count, seed, timeout_s)?;
    eprintln!(
        "{}: {} holes from {} traced functions ({} rejected: failing or untouched by their tests)",
        package.name,
        set.holes.len(),
        set.functions_traced,
        set.rejected
    );
    std::fs::write(&cached, json).with_context(|| format!("cannot write {}", cached.display()))?;
    Ok(set.holes)
}

/// Chooses holes in the sdist at `root` (its package folder `source`, its tests `tests`);
/// returns them and the script's JSON.
fn holes_in(
    root: &Path,
    source: &str,
    tests: &str,
    count: usize,
    seed: u64,
    timeout_s: u64,
) -> anyhow::Result<(HoleSet, Vec<u8>)> {
    let (script, _) = script()?;
    let output = Command::new(python()?)
        .arg(&script)
        .args(["holes".as_ref(), root.as_os_str(), source.as_ref(), tests.as_ref()])
        .args(["--count", &count.to_string(), "--seed", &seed.to_string(), "--timeout", &timeout_s.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run the exec venv's Python")?;
    if !output.status.success() {
        bail!("choosing the holes of {} failed ({})", root.display(), output.status);
    }
    let set: HoleSet = serde_json::from_slice(&output.stdout).context("the hole script's output is not JSON")?;
    Ok((set, output.stdout))
}

/// Runs each job's tests with its line put back, in a scratch copy of the package's sdist.
pub fn check(package: &Package, jobs: &[Job], timeout_s: u64, scratch: &Path) -> anyhow::Result<Vec<Verdict>> {
    check_in(&package.root(), package.name, jobs, timeout_s, scratch)
}

/// [`check`] for the sdist at `root`.
fn check_in(root: &Path, name: &str, jobs: &[Job], timeout_s: u64, scratch: &Path) -> anyhow::Result<Vec<Verdict>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let (script, _) = script()?;
    std::fs::create_dir_all(scratch)?;
    let jobs_file = scratch.join(format!("jobs-{name}.json"));
    std::fs::write(&jobs_file, serde_json::to_vec(jobs)?)?;
    let output = Command::new(python()?)
        .arg(&script)
        .args(["check".as_ref(), root.as_os_str(), jobs_file.as_os_str()])
        .args(["--timeout", &timeout_s.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run the exec venv's Python")?;
    if !output.status.success() {
        bail!("running the tests of {name} failed ({})", output.status);
    }
    #[derive(Deserialize)]
    struct Verdicts {
        verdicts: Vec<Verdict>,
    }
    let verdicts: Verdicts = serde_json::from_slice(&output.stdout).context("the check script's output is not JSON")?;
    if verdicts.verdicts.len() != jobs.len() {
        bail!("the check script answered {} of {} jobs", verdicts.verdicts.len(), jobs.len());
    }
    Ok(verdicts.verdicts)
}

#[cfg(test)]
mod tests {
    //! The harness on a tiny package of our own (`tests/fixtures/exec/mini`), with the real
    //! pytest of the exec venv (`make test` installs it): holes are only lines its tests run and
    //! need, and a put-back line passes, fails or times out as the tests say.
    use super::*;

    fn mini() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/exec/mini").canonicalize().unwrap()
    }

    #[test]
    fn holes_are_lines_the_tests_run_and_need() {
        let (set, _) = holes_in(&mini(), "src/mini", "tests", 5, 1, 60).unwrap();
        // One hole per function, and only `clamp` is tested.
        assert_eq!(set.holes.len(), 1, "{:?}", set.holes);
        let hole = &set.holes[0];
        assert_eq!(hole.file, "src/mini/__init__.py");
        assert_eq!(hole.function, 4, "{hole:?}");
        assert!((5..=9).contains(&hole.line), "{hole:?}");
        assert_eq!(hole.tests, vec!["tests/test_mini.py::test_clamp".to_owned()]);
        assert_eq!(hole.indent, &hole.text[..hole.text.len() - hole.text.trim_start().len()]);
        assert!(!hole.indent.is_empty(), "{hole:?}");
    }

    #[test]
    fn a_put_back_line_passes_fails_or_times_out_as_the_tests_say() {
        let scratch = std::env::temp_dir().join(format!("splice-exec-harness-{}", std::process::id()));
        let job = |line: usize, text: &str| Job {
            file: "src/mini/__init__.py".to_owned(),
            line,
            text: text.to_owned(),
            tests: vec!["tests/test_mini.py::test_clamp".to_owned()],
        };
        let jobs = [
            job(5, "    if x < low:"),
            job(5, "    if x > low:"),
            job(5, "    if x < low):"),
            job(9, "    while True: pass"),
        ];
        let verdicts = check_in(&mini(), "mini", &jobs, 5, &scratch).unwrap();
        assert_eq!(verdicts, vec![Verdict::Pass, Verdict::Fail, Verdict::Fail, Verdict::Timeout]);
        // The fixture itself is untouched: the lines went into a scratch copy.
        let text = std::fs::read_to_string(mini().join("src/mini/__init__.py")).unwrap();
        assert!(text.contains("    if x < low:\n") && text.contains("    return x\n"));
        let _ = std::fs::remove_dir_all(&scratch);
    }
}
