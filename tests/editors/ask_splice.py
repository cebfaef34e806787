"""Asks the Splice server directly for the inline completion at one position of a text, the way
any LSP client would; prints the suggestion (empty when none). The VS Code end-to-end test uses it
to check that the ghost text it saw is the server's answer (greedy decoding: the same answer).

Usage: ask_splice.py SPLICE_BIN MODEL TEXT_FILE LINE CHARACTER   (0-based, UTF-16 = ASCII here)
"""
import json
import subprocess
import sys

splice, model, text_file, line, character = sys.argv[1:6]
server = subprocess.Popen([splice, "serve", "--model", model, "--latency-budget", "0", "--log-level", "error"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def send(message):
    body = json.dumps(message).encode()
    server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    server.stdin.flush()


def receive(id):
    while True:
        length = int(server.stdout.readline().split(b":")[1])
        server.stdout.readline()
        message = json.loads(server.stdout.read(length))
        if message.get("id") == id and "method" not in message:
            return message


send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
receive(1)
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
uri = "file:///workspace/main.py"
with open(text_file, encoding="utf-8") as f:
    text = f.read()
send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
    "uri": uri, "languageId": "python", "version": 1, "text": text}}})
send({"jsonrpc": "2.0", "id": 2, "method": "textDocument/inlineCompletion", "params": {
    "textDocument": {"uri": uri}, "position": {"line": int(line), "character": int(character)},
    "context": {"triggerKind": 2}}})
items = receive(2)["result"]["items"]
send({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
receive(3)
send({"jsonrpc": "2.0", "method": "exit"})
server.wait(timeout=30)
print(items[0]["insertText"] if items else "", end="")
