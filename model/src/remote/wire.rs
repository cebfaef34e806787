//! What goes over the wire to a remote engine and what comes back, for both protocols: the
//! request body, and each streamed event read into text, the first token's log-probability and
//! the engine's own counters. Pure: no I/O, so every engine's dialect is unit-tested here.
//!
//! The prompt always goes as token ids (both `/completion` and `/v1/completions` take them):
//! the engine decodes exactly the tokens Splice fitted, with no second tokenization that could
//! split the text differently or parse special tokens out of user text.

use serde_json::{json, Value};

/// Which HTTP API the engine speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineProtocol {
    /// The OpenAI-compatible `POST /v1/completions` (vLLM, SGLang, TGI, llama-server, …).
    OpenAi,
    /// llama.cpp's `llama-server` native `POST /completion`.
    LlamaServer,
}

impl EngineProtocol {
    /// The protocol's name as the `--engine-protocol` flag spells it.
    pub fn name(self) -> &'static str {
        match self {
            EngineProtocol::OpenAi => "openai",
            EngineProtocol::LlamaServer => "llama-server",
        }
    }

    /// The path completions are posted to.
    pub(crate) fn completion_path(self) -> &'static str {
        match self {
            EngineProtocol::OpenAi => "/v1/completions",
            EngineProtocol::LlamaServer => "/completion",
        }
    }
}

/// One completion as the engine is asked for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WireRequest<'a> {
    /// The model name (`model` of the OpenAI API; llama-server ignores it).
    pub model: Option<&'a str>,
    /// The prompt's token ids.
    pub prompt: &'a [i32],
    /// Largest number of tokens to generate.
    pub max_tokens: usize,
    /// 0: greedy.
    pub temperature: f32,
    /// Top-k (0: off); sent only when sampling.
    pub top_k: i32,
    /// Top-p (1: off); sent only when sampling.
    pub top_p: f32,
    /// Seed for sampling.
    pub seed: u32,
    /// The editor's marker (see `slot.rs`), sent to llama-server as the seed of a greedy
    /// request, which greedy decoding never reads, so that `/slots` tells which slot ran it.
    pub marker: Option<u32>,
    /// Texts that end generation (the template's and the repository format's stop tokens).
    pub stop: &'a [String],
    /// Whether to ask for the log-probability of each generated token.
    pub logprobs: bool,
    /// The engine slot to run on (llama-server's `id_slot`): the one this editor's previous
    /// request ran on, whose cells hold its prompt. `None`: the engine chooses.
    pub slot: Option<u32>,
}

/// The JSON body of `request` in `protocol`'s dialect, always streamed.
pub(crate) fn request_body(protocol: EngineProtocol, request: &WireRequest<'_>) -> Value {
    let mut body = match protocol {
        EngineProtocol::LlamaServer => json!({
            "prompt": request.prompt,
            "n_predict": request.max_tokens,
            "stream": true,
            // The slot keeps the prompt's cells, and the next keystroke's prompt reuses them.
            "cache_prompt": true,
            // The counters in every event: a stream Splice closes early has no last event.
            "timings_per_token": true,
            "temperature": request.temperature,
        }),
        EngineProtocol::OpenAi => json!({
            "prompt": request.prompt,
            "max_tokens": request.max_tokens,
            "stream": true,
            // vLLM sends usage with every event when asked; others at the end only.
            "stream_options": { "include_usage": true, "continuous_usage_stats": true },
            "temperature": request.temperature,
        }),
    };
    if let Some(model) = request.model {
        body["model"] = json!(model);
    }
    if let (EngineProtocol::LlamaServer, Some(slot)) = (protocol, request.slot) {
        // Wait for this editor's slot rather than take another editor's idle one: that slot's
        // cells hold the other editor's prompt, and both would re-encode theirs.
        body["id_slot"] = json!(slot);
    }
    if request.temperature > 0.0 {
        body["top_p"] = json!(request.top_p);
        body["seed"] = json!(request.seed);
        if request.top_k > 0 {
            body["top_k"] = json!(request.top_k);
        }
    } else if let (EngineProtocol::LlamaServer, Some(marker)) = (protocol, request.marker) {
        body["seed"] = json!(marker);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    if request.logprobs {
        match protocol {
            EngineProtocol::LlamaServer => body["n_probs"] = json!(1),
            EngineProtocol::OpenAi => body["logprobs"] = json!(1),
        }
    }
    body
}

/// Why the engine ended generation, as it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineStop {
    /// End of generation or a stop text.
    End,
    /// The token budget.
    Limit,
}

/// The engine's own counters for a request, from its last event.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct EngineCounters {
    /// Prompt tokens the engine took from its prefix cache.
    pub cached_tokens: Option<usize>,
    /// Prompt tokens it evaluated.
    pub prompt_tokens_evaluated: Option<usize>,
    /// Its milliseconds on the prompt.
    pub prompt_ms: Option<f64>,
    /// Tokens it generated.
    pub predicted_tokens: Option<usize>,
    /// Its milliseconds generating.
    pub predicted_ms: Option<f64>,
}

impl EngineCounters {
    /// The engine's own time for the request: its `prompt_ms + predicted_ms`, when it gave both.
    pub(crate) fn engine_ms(&self) -> Option<f64> {
        self.prompt_ms.zip(self.predicted_ms).map(|(prompt, predicted)| prompt + predicted)
    }
}

/// One streamed event, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StreamEvent {
    /// Generated text it carries.
    pub text: String,
    /// The log-probability of the first token it carries, when the engine gave one.
    pub logprob: Option<f32>,
    /// Set on the event that ends generation.
    pub stop: Option<EngineStop>,
    /// The engine's counters, when this event carries them.
    pub counters: Option<EngineCounters>,
    /// The end of the stream (OpenAI's `[DONE]`).
    pub done: bool,
    /// The engine slot running the request (llama-server's `id_slot`).
    pub slot: Option<u32>,
    /// The ids of the tokens it carries (llama-server's `tokens`; an event that completes a
    /// character names only the last of the tokens that spell it).
    pub tokens: Vec<i32>,
}

/// Reads one server-sent event's `data` in `protocol`'s dialect. An error event (the engine's
/// `{"error": …}`) or JSON that is not an event is an `Err` with the engine's words.
pub(crate) fn parse_event(protocol: EngineProtocol, data: &str) -> Result<StreamEvent, String> {
    let data = data.trim();
    if data == "[DONE]" {
        return Ok(StreamEvent { done: true, ..StreamEvent::default() });
    }
    let value: Value =
        serde_json::from_str(data).map_err(|err| format!("the engine sent an unreadable event: {err}"))?;
    if let Some(error) = value.get("error") {
        return Err(error_message(error));
    }
    match protocol {
        EngineProtocol::LlamaServer => parse_llama_server(&value),
        EngineProtocol::OpenAi => parse_openai(&value),
    }
}

fn parse_llama_server(value: &Value) -> Result<StreamEvent, String> {
    let Some(text) = value.get("content").and_then(Value::as_str) else {
        return Err(format!("the engine sent an event without `content`: {}", abbreviate(value)));
    };
    let stop = value.get("stop").and_then(Value::as_bool).unwrap_or(false).then(|| {
        match value.get("stop_type").and_then(Value::as_str) {
            Some("limit") => EngineStop::Limit,
            _ => EngineStop::End,
        }
    });
    let logprob = value
        .get("completion_probabilities")
        .and_then(Value::as_array)
        .and_then(|probs| probs.first())
        .and_then(token_logprob);
    let counters = value.get("timings").map(|timings| EngineCounters {
        cached_tokens: count(timings.get("cache_n")).or_else(|| count(value.get("tokens_cached"))),
        prompt_tokens_evaluated: count(timings.get("prompt_n")),
        prompt_ms: timings.get("prompt_ms").and_then(Value::as_f64),
        predicted_tokens: count(timings.get("predicted_n")),
        predicted_ms: timings.get("predicted_ms").and_then(Value::as_f64),
    });
    let slot = value.get("id_slot").and_then(Value::as_u64).and_then(|slot| u32::try_from(slot).ok());
    let tokens = value
        .get("tokens")
        .and_then(Value::as_array)
        .map(|tokens| tokens.iter().filter_map(|t| t.as_i64().and_then(|t| i32::try_from(t).ok())).collect())
        .unwrap_or_default();
    Ok(StreamEvent { text: text.to_owned(), logprob, stop, counters, done: false, slot, tokens })
}

fn parse_openai(value: &Value) -> Result<StreamEvent, String> {
    let choice = value.get("choices").and_then(Value::as_array).and_then(|choices| choices.first());
    let usage = value.get("usage").filter(|usage| !usage.is_null());
    if choice.is_none() && usage.is_none() {
        return Err(format!("the engine sent an event without `choices`: {}", abbreviate(value)));
    }
    let text = choice.and_then(|c| c.get("text")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let stop = match choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str) {
        Some("length") => Some(EngineStop::Limit),
        Some(_) => Some(EngineStop::End),
        None => None,
    };
    let logprob = choice.and_then(|c| c.get("logprobs")).and_then(openai_first_logprob);
    let timings = value.get("timings");
    let counters = usage.map(|usage| EngineCounters {
        cached_tokens: count(usage.pointer("/prompt_tokens_details/cached_tokens"))
            .or_else(|| timings.and_then(|t| count(t.get("cache_n")))),
        prompt_tokens_evaluated: timings.and_then(|t| count(t.get("prompt_n"))),
        prompt_ms: timings.and_then(|t| t.get("prompt_ms")).and_then(Value::as_f64),
        predicted_tokens: count(usage.get("completion_tokens")),
        predicted_ms: timings.and_then(|t| t.get("predicted_ms")).and_then(Value::as_f64),
    });
    Ok(StreamEvent { text, logprob, stop, counters, done: false, slot: None, tokens: Vec::new() })
}

/// The first token's log-probability in an OpenAI `logprobs` object: the completions API's
/// `token_logprobs` list (vLLM, OpenAI) or the chat-style `content` list (llama-server).
fn openai_first_logprob(logprobs: &Value) -> Option<f32> {
    if let Some(first) = logprobs.get("token_logprobs").and_then(Value::as_array).and_then(|l| l.first()) {
        return first.as_f64().map(|l| l as f32);
    }
    logprobs.get("content").and_then(Value::as_array).and_then(|l| l.first()).and_then(token_logprob)
}

/// A token entry's log-probability: `logprob`, or `prob` (llama-server's post-sampling form).
fn token_logprob(entry: &Value) -> Option<f32> {
    if let Some(logprob) = entry.get("logprob").and_then(Value::as_f64) {
        return Some(logprob as f32);
    }
    let prob = entry.get("prob").and_then(Value::as_f64)?;
    (prob > 0.0).then(|| prob.ln() as f32)
}

fn count(value: Option<&Value>) -> Option<usize> {
    value.and_then(Value::as_u64).map(|n| n as usize)
}

/// The engine's words from an `error` member (an object with `message`, or a string).
pub(crate) fn error_message(error: &Value) -> String {
    match error {
        Value::String(message) => message.clone(),
        _ => error.get("message").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| abbreviate(error)),
    }
}

/// `value` as JSON, cut to 200 bytes for an error message.
fn abbreviate(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 200 {
        let mut end = 200;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(prompt: &'a [i32], stop: &'a [String]) -> WireRequest<'a> {
        WireRequest {
            model: Some("m"),
            prompt,
            max_tokens: 64,
            temperature: 0.0,
            top_k: 40,
            top_p: 0.95,
            seed: 7,
            marker: Some(11),
            stop,
            logprobs: true,
            slot: None,
        }
    }

    #[test]
    fn llama_server_bodies_send_token_ids_greedy_with_the_prompt_cached() {
        let stop = vec!["<|file_sep|>".to_owned()];
        let body = request_body(EngineProtocol::LlamaServer, &request(&[2, 10, 11], &stop));
        assert_eq!(body["prompt"], json!([2, 10, 11]));
        assert_eq!(body["n_predict"], json!(64));
        assert_eq!(body["cache_prompt"], json!(true));
        assert_eq!(body["timings_per_token"], json!(true), "a stream closed early still has the counters");
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["n_probs"], json!(1));
        assert_eq!(body["stop"], json!(["<|file_sep|>"]));
        assert!(body.get("top_p").is_none(), "greedy requests send no sampling settings: {body}");
    }

    #[test]
    fn llama_server_requests_ask_for_the_editors_slot_and_events_say_which_ran_them() {
        let mut pinned = request(&[1], &[]);
        assert!(request_body(EngineProtocol::LlamaServer, &pinned).get("id_slot").is_none(), "the engine chooses");
        pinned.slot = Some(3);
        assert_eq!(request_body(EngineProtocol::LlamaServer, &pinned)["id_slot"], json!(3));
        assert!(request_body(EngineProtocol::OpenAi, &pinned).get("id_slot").is_none(), "no slots in that API");
        let event = r#"{"index":0,"content":"x","tokens":[],"stop":false,"id_slot":1,"tokens_predicted":1}"#;
        assert_eq!(parse_event(EngineProtocol::LlamaServer, event).unwrap().slot, Some(1));
        let unknown = r#"{"content":"x","stop":false,"id_slot":-1}"#;
        assert_eq!(parse_event(EngineProtocol::LlamaServer, unknown).unwrap().slot, None);
    }

    #[test]
    fn greedy_llama_server_requests_carry_the_editors_marker_as_their_seed() {
        let mut marked = request(&[1], &[]);
        assert_eq!(request_body(EngineProtocol::LlamaServer, &marked)["seed"], json!(11));
        assert!(request_body(EngineProtocol::OpenAi, &marked).get("seed").is_none(), "no slots to find there");
        marked.temperature = 0.7;
        assert_eq!(request_body(EngineProtocol::LlamaServer, &marked)["seed"], json!(7), "sampling keeps its seed");
        marked.temperature = 0.0;
        marked.marker = None;
        assert!(request_body(EngineProtocol::LlamaServer, &marked).get("seed").is_none());
    }

    #[test]
    fn openai_bodies_ask_for_usage_and_logprobs_and_sampling_only_when_sampling() {
        let mut sampled = request(&[1], &[]);
        sampled.temperature = 0.7;
        let body = request_body(EngineProtocol::OpenAi, &sampled);
        assert_eq!(body["max_tokens"], json!(64));
        assert_eq!(body["model"], json!("m"));
        assert_eq!(body["logprobs"], json!(1));
        assert_eq!(body["stream_options"]["include_usage"], json!(true));
        assert_eq!(body["top_k"], json!(40));
        assert_eq!(body["seed"], json!(7));
        assert!(body.get("stop").is_none());
    }

    #[test]
    fn llama_server_events_carry_text_probability_stop_and_counters() {
        let partial = r#"{"content":"    return","tokens":[5],"stop":false,"completion_probabilities":[{"id":5,"token":"    return","logprob":-0.25}]}"#;
        let event = parse_event(EngineProtocol::LlamaServer, partial).unwrap();
        assert_eq!(event.text, "    return");
        assert_eq!(event.tokens, vec![5]);
        assert_eq!(event.logprob, Some(-0.25));
        assert_eq!(event.stop, None);
        let last = r#"{"content":"","stop":true,"stop_type":"limit","tokens_cached":90,"timings":{"cache_n":88,"prompt_n":3,"prompt_ms":12.5,"predicted_n":64,"predicted_ms":900.0}}"#;
        let event = parse_event(EngineProtocol::LlamaServer, last).unwrap();
        assert_eq!(event.stop, Some(EngineStop::Limit));
        assert!(event.tokens.is_empty(), "a last event without tokens");
        let counters = event.counters.unwrap();
        assert_eq!(counters.cached_tokens, Some(88));
        assert_eq!(counters.prompt_tokens_evaluated, Some(3));
        assert_eq!(counters.predicted_tokens, Some(64));
        let probs = r#"{"content":"x","stop":false,"completion_probabilities":[{"prob":0.5}]}"#;
        let p = parse_event(EngineProtocol::LlamaServer, probs).unwrap().logprob.unwrap();
        assert!((p - 0.5f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn openai_events_of_vllm_and_llama_server_read_alike() {
        let vllm = r#"{"choices":[{"index":0,"text":" x","logprobs":{"tokens":[" x"],"token_logprobs":[-1.5]},"finish_reason":null}]}"#;
        let event = parse_event(EngineProtocol::OpenAi, vllm).unwrap();
        assert_eq!((event.text.as_str(), event.logprob, event.stop), (" x", Some(-1.5), None));
        let llama = r#"{"choices":[{"text":"y","logprobs":{"content":[{"token":"y","logprob":-0.1}]},"finish_reason":"stop"}]}"#;
        let event = parse_event(EngineProtocol::OpenAi, llama).unwrap();
        assert_eq!((event.logprob, event.stop), (Some(-0.1), Some(EngineStop::End)));
        let usage = r#"{"choices":[],"usage":{"prompt_tokens":100,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":96}}}"#;
        let counters = parse_event(EngineProtocol::OpenAi, usage).unwrap().counters.unwrap();
        assert_eq!((counters.cached_tokens, counters.predicted_tokens), (Some(96), Some(7)));
        assert!(parse_event(EngineProtocol::OpenAi, " [DONE] ").unwrap().done);
    }

    #[test]
    fn errors_and_garbage_are_errors_in_the_engines_words() {
        let error = r#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#;
        assert_eq!(
            parse_event(EngineProtocol::LlamaServer, error).unwrap_err(),
            "the request exceeds the available context size"
        );
        assert!(parse_event(EngineProtocol::OpenAi, "{not json").unwrap_err().contains("unreadable"));
        assert!(parse_event(EngineProtocol::LlamaServer, r#"{"foo":1}"#).unwrap_err().contains("content"));
        let long = format!(r#"{{"foo":"{}"}}"#, "é".repeat(300));
        assert!(parse_event(EngineProtocol::OpenAi, &long).unwrap_err().ends_with('…'));
    }
}
