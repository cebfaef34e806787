#!/usr/bin/env python3
"""Write a copy of a GGUF model whose first three unused special tokens are renamed to FIM markers.

Why this exists: Splice's default model (Gemma 3 270M) has no fill-in-the-middle tokens, but the
FIM prompt layout (prefix, suffix, then generation) costs differently under PIE: every keystroke
is an insertion before the suffix. To time that layout on real weights, this copy renames
``<unused0>``, ``<unused1>``, ``<unused2>`` to Qwen's ``<|fim_prefix|>``, ``<|fim_suffix|>``,
``<|fim_middle|>``. The model was never trained with them: its suggestions are meaningless, its
timings are real. Label results from it as such.

Usage: make_fim_copy.py SOURCE.gguf DEST.gguf   (needs the `gguf` package; scripts/fixtures.sh's venv has it)
"""
import sys

import gguf
from gguf.scripts.gguf_new_metadata import MetadataDetails, copy_with_new_metadata

RENAMES = {"<unused0>": "<|fim_prefix|>", "<unused1>": "<|fim_suffix|>", "<unused2>": "<|fim_middle|>"}


def main(source: str, dest: str) -> int:
    reader = gguf.GGUFReader(source, "r")
    field = reader.fields[gguf.Keys.Tokenizer.LIST]
    tokens = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
    missing = [name for name in RENAMES if name not in tokens]
    if missing:
        print(f"{source} has no {missing}: cannot make a FIM copy", file=sys.stderr)
        return 1
    renamed = [RENAMES.get(token, token) for token in tokens]
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(dest, arch=arch, endianess=reader.endianess)
    new_metadata = {
        gguf.Keys.Tokenizer.LIST: MetadataDetails(gguf.GGUFValueType.ARRAY, renamed, sub_type=gguf.GGUFValueType.STRING),
        gguf.Keys.General.NAME: MetadataDetails(gguf.GGUFValueType.STRING, "gemma-3-270m FIM-token copy (timings only)"),
    }
    copy_with_new_metadata(reader, writer, new_metadata, [])
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
