"""The workspace index's file count under the file watcher for MINUTES minutes.

Usage: bench/index_stability.py SPLICE_BIN MINUTES   (needs `make corpus`; not part of CI)

Starts `splice serve` on a copy of the corpus tree (three sdists, nested folders) in /tmp/idx,
waits for indexing, then for MINUTES lists every folder, opens and reads 20 files, touches one,
renames a folder away and back every sixth round, and asks `splice/status` for the index's file
count every ~7 s. Prints every sample and the min / max / last count."""
import json, os, random, shutil, subprocess, sys, time
splice, minutes = sys.argv[1], float(sys.argv[2])
root = "/tmp/idx/tree"
shutil.rmtree(root, ignore_errors=True)
shutil.copytree(os.path.expanduser("~/.cache/splice/corpus"), root)
srv = subprocess.Popen([splice, "serve", "--retrieval", "always", "--index-dir", "/tmp/idx/index", "--log-file", "/tmp/idx/serve.log"],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
nid = [0]
def send(m):
    b = json.dumps(m).encode(); srv.stdin.write(b"Content-Length: %d\r\n\r\n" % len(b) + b); srv.stdin.flush()
def recv_id(i):
    while True:
        n = int(srv.stdout.readline().split(b":")[1]); srv.stdout.readline()
        m = json.loads(srv.stdout.read(n))
        if m.get("id") == i: return m
def call(method, params):
    nid[0] += 1; send({"jsonrpc": "2.0", "id": nid[0], "method": method, "params": params}); return recv_id(nid[0])
call("initialize", {"processId": None, "capabilities": {}, "workspaceFolders": [{"uri": "file://" + root, "name": "t"}]})
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
while call("splice/status", {})["result"]["index"]["state"] != "ready": time.sleep(1)
start = time.time(); counts = []
pys = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".py")]
print("python files on disk:", len(pys), flush=True)
rng = random.Random(1); k = 0
while time.time() - start < minutes * 60:
    k += 1
    for d, _, fs in os.walk(root): pass                         # list every folder
    for p in rng.sample(pys, 20): open(p).read()                # open and read files
    os.utime(rng.choice(pys))                                   # touch one
    if k % 6 == 0:                                              # rename a folder away and back
        d = os.path.join(root, "click-8.1.7", "examples")
        if os.path.isdir(d): os.rename(d, d + "-moved"); time.sleep(3); os.rename(d + "-moved", d)
    time.sleep(7)
    s = call("splice/status", {})["result"]["index"]
    counts.append(s["files"]); print(f"{time.time()-start:6.0f}s files={s['files']} chunks={s['chunks']} state={s['state']}", flush=True)
print("min", min(counts), "max", max(counts), "last", counts[-1], "samples", len(counts))
call("shutdown", None); send({"jsonrpc": "2.0", "method": "exit"}); srv.wait(30)
