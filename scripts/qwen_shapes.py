"""Writes a GGUF with random weights and the exact shapes of Qwen2.5-Coder 1.5B or 7B.

For timing Splice on a GPU at the sizes GPU users run (scripts/gpu-check.sh) without carrying
gigabytes of weights: the file is made where it runs, in seconds. Architecture `qwen2` with its
real tokenizer (llama.cpp's `ggml-vocab-qwen2.gguf`: the Qwen2 BPE vocabulary and merges), the
Qwen2.5 special tokens at their real ids (FIM: `<|fim_prefix|>` 151659, `<|fim_middle|>` 151660,
`<|fim_suffix|>` 151661, `<|fim_pad|>` 151662; repository: `<|repo_name|>` 151663,
`<|file_sep|>` 151664), and every tensor of the real model at its real shape. Matrices are Q8_0
(or F16) with random values, so prompt and decode timings are real; the suggestions are noise.
`tiny` is the same architecture at a toy size, for running the check on a CPU.

Usage: python3 qwen_shapes.py {1.5b,7b,tiny} VOCAB_GGUF OUT_GGUF [--type q8_0|f16]
"""

import argparse
import sys

import numpy as np
import gguf

# The published config.json of each model (hidden size, layers, heads, KV heads, FFN size,
# vocabulary rows, tied embeddings).
SHAPES = {
    "1.5b": dict(embd=1536, layers=28, heads=12, kv_heads=2, ffn=8960, vocab=151936, tied=True),
    "7b": dict(embd=3584, layers=28, heads=28, kv_heads=4, ffn=18944, vocab=152064, tied=False),
    "tiny": dict(embd=256, layers=2, heads=4, kv_heads=2, ffn=512, vocab=151936, tied=True),
}

QWEN25_ADDED = [
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>", "<|quad_start|>",
    "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>",
    "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
]
FIRST_ADDED = 151646
EOS = 151643
CONTROL = gguf.TokenType.CONTROL


def vocabulary(path: str, rows: int) -> tuple[list[str], list[int], list[str]]:
    """The Qwen2 tokens, types and merges, with Qwen2.5's added tokens, padded to `rows`."""
    reader = gguf.GGUFReader(path)
    tokens_field = reader.fields["tokenizer.ggml.tokens"]
    types_field = reader.fields["tokenizer.ggml.token_type"]
    merges_field = reader.fields["tokenizer.ggml.merges"]
    tokens = [tokens_field.contents(i) for i in range(len(tokens_field.data))]
    types = [int(types_field.contents(i)) for i in range(len(types_field.data))]
    merges = [merges_field.contents(i) for i in range(len(merges_field.data))]
    for offset, text in enumerate(QWEN25_ADDED):
        tokens[FIRST_ADDED + offset] = text
        types[FIRST_ADDED + offset] = int(CONTROL)
    while len(tokens) < rows:
        tokens.append(f"[PAD{len(tokens)}]")
        types.append(int(gguf.TokenType.UNUSED))
    return tokens[:rows], types[:rows], merges


def tensors(shape: dict) -> list[tuple[str, tuple[int, ...], bool]]:
    """Every tensor of the model: name, numpy shape (rows, columns), and whether it is a matrix."""
    embd, head_dim = shape["embd"], 128 if shape["embd"] >= 1024 else shape["embd"] // shape["heads"]
    q, kv, ffn = shape["heads"] * head_dim, shape["kv_heads"] * head_dim, shape["ffn"]
    out = [("token_embd.weight", (shape["vocab"], embd), True)]
    for i in range(shape["layers"]):
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", (embd,), False),
            (b + "attn_q.weight", (q, embd), True), (b + "attn_q.bias", (q,), False),
            (b + "attn_k.weight", (kv, embd), True), (b + "attn_k.bias", (kv,), False),
            (b + "attn_v.weight", (kv, embd), True), (b + "attn_v.bias", (kv,), False),
            (b + "attn_output.weight", (embd, q), True),
            (b + "ffn_norm.weight", (embd,), False),
            (b + "ffn_gate.weight", (ffn, embd), True),
            (b + "ffn_up.weight", (ffn, embd), True),
            (b + "ffn_down.weight", (embd, ffn), True),
        ]
    out.append(("output_norm.weight", (embd,), False))
    if not shape["tied"]:
        out.append(("output.weight", (shape["vocab"], embd), True))
    return out


def matrix(rng: np.random.Generator, rows: int, cols: int, kind: str) -> np.ndarray:
    """Random weights of standard deviation about 0.02."""
    if kind == "f16":
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)
    # Q8_0: blocks of 32 values, each an f16 scale and 32 int8 quants.
    blocks = cols // 32
    data = np.frombuffer(rng.bytes(rows * blocks * 34), dtype=np.uint8).reshape(rows, blocks, 34).copy()
    data[:, :, 0:2] = np.frombuffer(np.float16(0.02 / 74).tobytes(), dtype=np.uint8)
    return data.reshape(rows, blocks * 34)


def vector(name: str, length: int) -> np.ndarray:
    """Norm weights 1, biases 0."""
    return np.ones(length, dtype=np.float32) if name.endswith("norm.weight") else np.zeros(length, dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("vocab")
    parser.add_argument("out")
    parser.add_argument("--type", choices=["q8_0", "f16"], default="q8_0")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    tokens, types, merges = vocabulary(args.vocab, shape["vocab"])

    writer = gguf.GGUFWriter(args.out, "qwen2")
    writer.add_name(f"Qwen2.5-Coder-{args.shape} shapes, random weights")
    writer.add_context_length(32768)
    writer.add_embedding_length(shape["embd"])
    writer.add_block_count(shape["layers"])
    writer.add_feed_forward_length(shape["ffn"])
    writer.add_head_count(shape["heads"])
    writer.add_head_count_kv(shape["kv_heads"])
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if args.type == "q8_0" else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(EOS)
    writer.add_pad_token_id(EOS)
    writer.add_bos_token_id(EOS)
    writer.add_add_bos_token(False)

    raw = gguf.GGMLQuantizationType.Q8_0 if args.type == "q8_0" else None
    layout = tensors(shape)
    for name, dims, is_matrix in layout:
        if is_matrix and raw is not None:
            rows, cols = dims
            writer.add_tensor_info(name, (rows, cols // 32 * 34), np.dtype(np.uint8), rows * cols // 32 * 34, raw)
        elif is_matrix:
            writer.add_tensor_info(name, dims, np.dtype(np.float16), dims[0] * dims[1] * 2)
        else:
            writer.add_tensor_info(name, dims, np.dtype(np.float32), dims[0] * 4)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    rng = np.random.default_rng(0)
    for name, dims, is_matrix in layout:
        writer.write_tensor_data(matrix(rng, dims[0], dims[1], args.type) if is_matrix else vector(name, dims[0]))
    writer.close()
    print(f"wrote {args.out}: {args.shape}, {len(layout)} tensors, {args.type}", file=sys.stderr)


if __name__ == "__main__":
    main()
