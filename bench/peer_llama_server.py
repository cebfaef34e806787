#!/usr/bin/env python3
"""Replay `splice bench edits --dump FILE` on llama.cpp's llama-server, the peer Splice must beat.

Starts llama-server with --cache-reuse 256 (llama.vim's recommended setting), sends each request
of the dump in order (the first, the warm-up, untimed) and prints per workload the mean and p50
of the server's own prompt_ms (prompt-side time), its predicted_ms and the wall time per request.
Prefix-only models are asked through /completion with the prefix as the prompt; models with FIM
tokens through /infill with input_prefix and input_suffix. Not part of CI.

Usage: peer_llama_server.py LLAMA_SERVER MODEL.gguf DUMP.jsonl [--infill] [--json]
"""
import json
import statistics
import subprocess
import sys
import time
import urllib.request

PORT = 8391


def post(path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())


def wait_healthy(server, deadline=120):
    start = time.time()
    while time.time() - start < deadline:
        if server.poll() is not None:
            sys.exit(f"llama-server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit("llama-server did not become healthy")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    binary, model, dump = argv[1:4]
    infill = "--infill" in argv
    rows = [json.loads(line) for line in open(dump, encoding="utf-8")]
    server = subprocess.Popen(
        [binary, "-m", model, "--host", "127.0.0.1", "--port", str(PORT), "-c", "8192", "-b", "8192", "-ub", "512",
         "-t", "1", "-tb", "2", "-np", "1", "--cache-reuse", "256", "--cache-ram", "0", "--no-webui"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(server)
        results = {}
        for i, row in enumerate(rows):
            common = {"n_predict": 16, "temperature": 0, "cache_prompt": True, "id_slot": 0, "n_cache_reuse": 256}
            if infill:
                body = dict(common, input_prefix=row["prefix"], input_suffix=row["suffix"], prompt="")
                path = "/infill"
            else:
                body = dict(common, prompt=row["prefix"])
                path = "/completion"
            started = time.time()
            reply = post(path, body)
            wall_ms = (time.time() - started) * 1000
            if i == 0:
                continue
            timings = reply["timings"]
            entry = results.setdefault(row["workload"], {"prompt_ms": [], "predicted_ms": [], "wall_ms": [], "prompt_n": []})
            entry["prompt_ms"].append(timings["prompt_ms"])
            entry["predicted_ms"].append(timings["predicted_ms"])
            entry["wall_ms"].append(wall_ms)
            entry["prompt_n"].append(timings["prompt_n"])
        summary = {w: {k: {"mean": round(statistics.mean(v), 1), "p50": round(statistics.median(v), 1)} for k, v in e.items()}
                   for w, e in results.items()}
        if "--json" in argv:
            print(json.dumps(summary, indent=2))
        else:
            print(f"llama-server --cache-reuse 256 ({'/infill' if infill else '/completion'}), {model}")
            print(f"{'workload':<26} {'n':>3} {'prompt ms':>10} {'p50':>8} {'tokens':>7} {'gen ms':>8} {'wall ms':>9}")
            for w, e in results.items():
                s = summary[w]
                print(f"{w:<26} {len(e['wall_ms']):>3} {s['prompt_ms']['mean']:>10} {s['prompt_ms']['p50']:>8} "
                      f"{s['prompt_n']['mean']:>7} {s['predicted_ms']['mean']:>8} {s['wall_ms']['mean']:>9}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
