"""Picks the fixed cursors of the GPU correctness check (scripts/gpu-check.sh) from `make corpus`.

Five cursors in each of four files, on statement lines inside functions, each right after the
line's first word (a single-line completion in the middle of a line). The choice depends only on
the files' text, so every machine asks the same questions. Copies the files and writes
`cursors.tsv` (file, 1-based line, 1-based column) into the output folder.

Usage: python3 gpu_cursors.py CORPUS_DIR OUT_DIR
"""

import re
import shutil
import sys
from pathlib import Path

FILES = [
    "requests-2.32.3/src/requests/sessions.py",
    "click-8.1.7/src/click/core.py",
    "itsdangerous-2.2.0/src/itsdangerous/signer.py",
    "more-itertools-10.5.0/more_itertools/more.py",
]
PER_FILE = 5
FIRST_WORD = re.compile(r"^(\s+)([A-Za-z_][A-Za-z_0-9]*)(?=[ .(\[=])")
KEYWORDS = {
    "def", "class", "return", "if", "for", "while", "with", "elif", "else", "try", "except",
    "raise", "import", "from", "assert", "del", "pass", "yield", "async", "await", "lambda", "not",
}


def cursors(text: str) -> list[tuple[int, int]]:
    """Evenly spread statement lines: indented twice or more, starting with a name, not a keyword."""
    candidates = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = FIRST_WORD.match(line)
        if not match or len(match.group(1)) < 8 or match.group(2) in KEYWORDS or len(line.strip()) < 20:
            continue
        candidates.append((number, match.end() + 1))
    step = max(1, len(candidates) // (PER_FILE + 1))
    return [candidates[step * (i + 1)] for i in range(PER_FILE) if step * (i + 1) < len(candidates)]


def main() -> None:
    corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for relative in FILES:
        source = corpus / relative
        shutil.copyfile(source, out / source.name)
        rows += [f"{source.name}\t{line}\t{col}" for line, col in cursors(source.read_text(encoding="utf-8"))]
    if len(rows) < 20:
        sys.exit(f"only {len(rows)} cursors found")
    (out / "cursors.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
