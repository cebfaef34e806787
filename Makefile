# Splice: the two commands a fresh machine needs are `make demo` and `make test`.
# Every target installs what it needs when it is missing (build tools, models, fixtures).

CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
SPLICE := $(TARGET_DIR)/release/splice
VOCAB_FIXTURES := target/vocab-fixtures
FEATURES ?=
# GPU=cuda: llama.cpp built with CUDA (scripts/gpu-toolkit.sh checks the toolkit first).
GPU ?=
ifneq ($(GPU),)
FEATURES := $(strip $(FEATURES) $(GPU))
endif
CARGO_FLAGS := --release --locked $(if $(FEATURES),--features $(FEATURES),)

.PHONY: demo test build tools llama-server models models-default corpus exec-venv fixtures bench bench-fim bench-retrieval bench-soak \
	bench-overhead bench-typing bench-exec bench-engine fim-copy lint fuzz gpu-bundle gpu-check-cpu \
	test-editors test-nvim vscode-e2e vsix

## Run the main job: a real completion with its timing, on the default model.
demo: tools models-default build
	@scripts/demo.sh $(SPLICE)

## Run every test (unit, model, end-to-end LSP, editor clients) with the real models.
test: tools models fixtures exec-venv llama-server
	$(CARGO) build $(CARGO_FLAGS) --bin splice
	@# The editor suites run even when a cargo test failed, so that one failure hides nothing.
	status=0; \
	SPLICE_LLAMA_SERVER=$(LLAMA_SERVER) SPLICE_VOCAB_FIXTURES=$(abspath $(VOCAB_FIXTURES)) \
		$(CARGO) test $(CARGO_FLAGS) --workspace --no-fail-fast || status=1; \
	SPLICE_BIN=$(abspath $(SPLICE)) tests/editors/run.sh || status=1; \
	{ scripts/gpu-bundle.sh --smoke && scripts/gpu-check.sh --smoke; } || status=1; \
	exit $$status

## The editor clients in the real editors: the README's stdio example, Neovim 0.11.4 (headless
## specs and tmux), VS Code (unit tests, code-server end to end). Installs the editors it needs.
test-editors: models-default build
	SPLICE_BIN=$(abspath $(SPLICE)) tests/editors/run.sh

test-nvim: models-default build
	SPLICE_BIN=$(abspath $(SPLICE)) tests/editors/run.sh nvim

## The VS Code extension's unit tests and its end-to-end test in code-server; screenshot in
## target/editors/vscode-ghost.png.
vscode-e2e: models-default build
	SPLICE_BIN=$(abspath $(SPLICE)) tests/editors/run.sh vscode

## editors/vscode/splice.vsix, packaged offline; it finds the server this Makefile builds.
vsix:
	@scripts/vsix.sh $(abspath $(SPLICE))

build: tools
	@$(if $(GPU),scripts/gpu-toolkit.sh $(GPU),true)
	$(CARGO) build $(CARGO_FLAGS) --bin splice

tools:
	@scripts/tools.sh
	@scripts/llama-flags.sh $(TARGET_DIR)

LLAMA_SERVER := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splice/peer/llama.cpp/build/bin/llama-server

## llama.cpp's own llama-server, built once into the cache: the remote-engine tests run Splice in
## front of it (and the benchmarks compare with it).
llama-server: tools
	@bench/build_llama_server.sh >/dev/null

models:
	@scripts/models.sh all

models-default:
	@scripts/models.sh default

corpus:
	@scripts/corpus.sh

exec-venv:
	@scripts/exec-venv.sh

fixtures: $(VOCAB_FIXTURES)/.stamp

$(VOCAB_FIXTURES)/.stamp: tests/fixtures/make_fim_vocabs.py tests/fixtures/requirements.txt scripts/fixtures.sh
	@scripts/fixtures.sh $(VOCAB_FIXTURES)
	@touch $@

## The GPU check (README "GPU"): .gpu/ holds what travels to a GPU machine (the bundle, the model
## parts); gpu-check-cpu runs its calls here, without CUDA (the first starts the library build).
gpu-bundle: tools models fixtures
	@scripts/gpu-bundle.sh

gpu-check-cpu: gpu-bundle
	@scripts/gpu-start.sh --cpu && scripts/gpu-check.sh --cpu

## Benchmarks print numbers; they never fail on them.
bench: tools models corpus build
	$(SPLICE) bench latency
	$(SPLICE) bench edits

RETRIEVAL_LANGS ?= python,rust,javascript,typescript,c,cpp

## Line completions cut from real package sources (PyPI sdists, crates, npm tarballs), with
## retrieval never, always and auto, asked through `splice serve` over LSP: one table per
## language of RETRIEVAL_LANGS (~25 min for Python, 20–30 min for each other language on 2 cores).
bench-retrieval: tools models-default corpus build
	$(SPLICE) bench retrieval --lang $(RETRIEVAL_LANGS)

SOAK_MINUTES ?= 30

## A long random editor session over LSP: requests, errors by kind, hangs, deaths, RSS per minute.
bench-soak: tools models-default build
	$(SPLICE) bench soak --minutes $(SOAK_MINUTES)

## Per-request server overhead over LSP: the same prompt window in 2 KB to 50 MB documents.
bench-overhead: tools models-default corpus build
	$(SPLICE) bench overhead

TYPING_LINES ?= 24
PEER ?= $(wildcard $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splice/peer/llama.cpp/build/bin/llama-server)

## A person retyping real code key by key over LSP, plain and speculative decoding, without and
## then with one core kept busy (TYPING_LINES lines each); the same keystrokes on llama-server
## too when it is built (bench/build_llama_server.sh) or PEER=path/to/llama-server is given.
bench-typing: tools models-default corpus build
	$(SPLICE) bench typing --lines $(TYPING_LINES) $(if $(PEER),--peer $(PEER),)
	$(SPLICE) bench typing --lines $(TYPING_LINES) --busy $(if $(PEER),--peer $(PEER),)

EXEC_HOLES ?= 40

## Holes in real functions of click, itsdangerous and more-itertools, filled with the first
## suggested line and judged by the packages' own tests (pass@1), against llama-server when
## built (bench/build_llama_server.sh), then each quality feature switched off in turn.
bench-exec: tools models-default corpus build
	$(SPLICE) bench exec --holes $(EXEC_HOLES) $(if $(PEER),--peer $(PEER),)
	$(SPLICE) bench exec --holes $(EXEC_HOLES) --variants auto,no-below,no-check,no-healing,single-line

ENGINE_K ?= 1,2,4,8
ENGINE_LINES ?= 6
ENGINE_PEER ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splice/peer/llama.cpp/build/bin/llama-server

## Many editors, one engine: K editors typing at once through K `splice serve --engine` against
## one `llama-server --parallel K` (built by bench/build_llama_server.sh when missing), then on K
## in-process engines; ENGINE_LINES lines per editor, K in ENGINE_K.
bench-engine: tools models-default corpus build
	@test -x $(ENGINE_PEER) || bench/build_llama_server.sh
	$(SPLICE) bench engine --k $(ENGINE_K) --lines $(ENGINE_LINES) --peer $(ENGINE_PEER)

FIM_COPY := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splice/models/gemma-3-270m-fim-copy.gguf

## The default model with three unused tokens renamed to FIM markers: real timings of the FIM
## layout, meaningless suggestions.
fim-copy: models-default fixtures
	@test -f $(FIM_COPY) || $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splice/venv/bin/python bench/make_fim_copy.py \
		$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/splice/models/gemma-3-270m-q4_k_m.gguf $(FIM_COPY)

bench-fim: tools corpus build fim-copy
	$(SPLICE) bench edits --model $(FIM_COPY)

## The fuzzers at length (no model needed). The LSP transport: FUZZ_CASES sessions of about 70
## messages each (15000 is about 10^6 messages, a minute and a half on 2 cores; FUZZ_SEED picks
## another seed). Document edits against the reference model: FUZZ_EDIT_CASES proptest cases per
## property (10^6 is about half a minute).
FUZZ_CASES ?= 15000
FUZZ_EDIT_CASES ?= 1000000
fuzz: tools
	SPLICE_FUZZ_CASES=$(FUZZ_CASES) $(if $(FUZZ_SEED),SPLICE_FUZZ_SEED=$(FUZZ_SEED),) \
		$(CARGO) test $(CARGO_FLAGS) -p splice-server --test fuzz_transport -- --nocapture random
	PROPTEST_CASES=$(FUZZ_EDIT_CASES) $(CARGO) test $(CARGO_FLAGS) -p splice-server --lib document::tests::properties

## `cargo fmt --check` and clippy with warnings as errors (.ci/run runs it after the tests).
lint: tools
	$(CARGO) fmt --all --check
	$(CARGO) clippy $(CARGO_FLAGS) --workspace --all-targets -- -D warnings
