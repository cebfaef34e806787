"""The test side of `splice bench exec`: which lines of a package its own tests run, which of
those make good holes, and whether a line put back into a hole passes the tests that cover it.

Run by `splice bench exec` with the private venv of scripts/corpus.sh (pytest and what the corpus
packages' suites need). Three commands, each printing one JSON document on stdout:

  trace ROOT PACKAGE TESTS OUT     run the suite once under a line tracer (in a subprocess with
                                   ROOT as the working folder); OUT gets, per source line of
                                   PACKAGE, the ids of the tests that ran it
  holes ROOT PACKAGE TESTS --count N --seed S --timeout T
                                   choose N holes: single-line statements inside functions,
                                   one per function, run by at least one test, at least 8
                                   characters; a hole is kept only if the original line passes
                                   its tests and the line left empty fails them
  check ROOT JOBS --timeout T      JOBS is a JSON list of {"file", "line", "text"}: each line
                                   number replaced by the text in a scratch copy of ROOT, the
                                   hole's tests run; prints one verdict per job

Every test run is a fresh `python -m pytest` process with no bytecode written (a put-back line
must never be masked by a stale .pyc), no cache provider, `-x`, and a time limit: a line that
hangs the tests fails them.
"""

import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

# Most tests run per hole: the first ones (in suite order) of those that run the line.
MAX_TESTS_PER_HOLE = 40
# Shortest hole (stripped), so that a hole is a statement worth writing.
MIN_HOLE_CHARS = 8


def pytest_command(tests):
    return [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
            "-o", "addopts=", "-W", "ignore::DeprecationWarning", *tests]


def test_env(root):
    env = dict(os.environ)
    src = os.path.join(root, "src")
    paths = [src] if os.path.isdir(src) else []
    paths.append(root)
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONHASHSEED"] = "0"
    return env


def run_tests(root, tests, timeout):
    """'pass', 'fail' or 'timeout' for `tests` run in `root`."""
    try:
        done = subprocess.run(pytest_command(tests), cwd=root, env=test_env(root), timeout=timeout,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return "timeout"
    return "pass" if done.returncode == 0 else "fail"


# ---------------------------------------------------------------------------------------- trace

class LineTracer:
    """A pytest plugin that records, per test, the lines of files under `package` it runs."""

    def __init__(self, package):
        self.package = os.path.realpath(package) + os.sep
        self.lines = {}  # (file, line) -> [test index]
        self.tests = []
        self.current = None
        self.wanted = {}

    def wants(self, filename):
        known = self.wanted.get(filename)
        if known is None:
            known = os.path.realpath(filename).startswith(self.package)
            self.wanted[filename] = known
        return known

    def global_trace(self, frame, event, arg):
        if event == "call" and self.wants(frame.f_code.co_filename):
            return self.local_trace
        return None

    def local_trace(self, frame, event, arg):
        if event == "line":
            self.current.add((frame.f_code.co_filename, frame.f_lineno))
        return self.local_trace

    def pytest_runtest_protocol(self, item, nextitem):
        import pytest  # noqa: F401 (the hook runs inside pytest)
        self.current = set()
        sys.settrace(self.global_trace)
        return None

    def pytest_runtest_logfinish(self, nodeid, location):
        sys.settrace(None)
        if self.current is None:
            return
        index = len(self.tests)
        self.tests.append(nodeid)
        for key in self.current:
            self.lines.setdefault(key, []).append(index)
        self.current = None


def trace(root, package, tests, out):
    import pytest
    os.chdir(root)
    tracer = LineTracer(package)
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning",
                        tests], plugins=[tracer])
    sys.settrace(None)
    lines = {}
    for (filename, number), indices in tracer.lines.items():
        relative = os.path.relpath(os.path.realpath(filename), os.path.realpath(root))
        lines.setdefault(relative, {})[str(number)] = indices
    with open(out, "w") as f:
        json.dump({"exitCode": int(code), "tests": tracer.tests, "lines": lines}, f)


# ---------------------------------------------------------------------------------------- holes

def hole_candidates(source):
    """(line, function) for every single-line statement inside a function: simple statements on
    one line, and compound statements whose header is one line with its body below."""
    tree = ast.parse(source)
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, child)
                continue
            if isinstance(child, ast.stmt) and function is not None and one_line(child):
                found.append((child.lineno, function.lineno))
            visit(child, function)

    visit(tree, None)
    return found


def one_line(node):
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
        return False  # docstrings
    if isinstance(node, (ast.Pass, ast.Break, ast.Continue, ast.Global, ast.Nonlocal, ast.Try, ast.ClassDef)):
        return False
    header_end = {
        ast.If: lambda n: n.test, ast.While: lambda n: n.test, ast.For: lambda n: n.iter,
        ast.AsyncFor: lambda n: n.iter, ast.With: lambda n: n.items[-1].context_expr,
        ast.AsyncWith: lambda n: n.items[-1].context_expr,
    }.get(type(node))
    if header_end is not None:
        return header_end(node).end_lineno == node.lineno and node.body[0].lineno > node.lineno
    if hasattr(ast, "Match") and isinstance(node, ast.Match):
        return False
    return node.end_lineno == node.lineno


def holes(root, package, tests, count, seed, timeout):
    trace_out = os.path.join(tempfile.mkdtemp(prefix="splice-exec-trace-"), "trace.json")
    subprocess.run([sys.executable, os.path.abspath(__file__), "trace", root, package, tests, trace_out],
                   cwd=root, env=test_env(root), check=True, stdout=sys.stderr)
    with open(trace_out) as f:
        traced = json.load(f)
    shutil.rmtree(os.path.dirname(trace_out), ignore_errors=True)
    test_ids = traced["tests"]
    by_function = {}
    for relative in sorted(traced["lines"]):
        with open(os.path.join(root, relative)) as f:
            source = f.read()
        lines = source.split("\n")
        ran = traced["lines"][relative]
        for number, function in hole_candidates(source):
            text = lines[number - 1]
            if str(number) not in ran or len(text.strip()) < MIN_HOLE_CHARS or "\t" in text:
                continue
            covering = sorted(ran[str(number)])[:MAX_TESTS_PER_HOLE]
            by_function.setdefault((relative, function), []).append((number, [test_ids[i] for i in covering]))
    functions = sorted(by_function)
    rng = random.Random(seed)
    rng.shuffle(functions)
    scratch = copy_tree(root)
    chosen, rejected = [], 0
    try:
        for key in functions:
            if len(chosen) >= count:
                break
            relative, function = key
            number, covering = rng.choice(by_function[key])
            path = os.path.join(scratch, relative)
            with open(path) as f:
                original = f.read()
            text = original.split("\n")[number - 1]
            indent = text[: len(text) - len(text.lstrip())]
            if run_tests(scratch, covering, timeout) != "pass" or \
                    with_line(path, original, number, indent, lambda: run_tests(scratch, covering, timeout)) == "pass":
                rejected += 1
                continue
            chosen.append({"file": relative, "line": number, "function": function, "text": text,
                           "indent": indent, "tests": covering})
            print(f"  hole {len(chosen)}/{count}: {relative}:{number}", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    chosen.sort(key=lambda h: (h["file"], h["line"]))
    return {"holes": chosen, "rejected": rejected, "functionsTraced": len(functions), "suiteExit": traced["exitCode"]}


# ---------------------------------------------------------------------------------------- check

def copy_tree(root):
    scratch = tempfile.mkdtemp(prefix="splice-exec-")
    target = os.path.join(scratch, "tree")
    shutil.copytree(root, target, ignore=shutil.ignore_patterns("docs", "__pycache__", ".git", "*.pyc"))
    return target


def with_line(path, original, number, text, action):
    lines = original.split("\n")
    lines[number - 1] = text
    with open(path, "w") as f:
        f.write("\n".join(lines))
    try:
        return action()
    finally:
        with open(path, "w") as f:
            f.write(original)


def check(root, jobs, timeout):
    scratch = copy_tree(root)
    verdicts = []
    try:
        for job in jobs:
            path = os.path.join(scratch, job["file"])
            with open(path) as f:
                original = f.read()
            verdicts.append(with_line(path, original, job["line"], job["text"],
                                      lambda: run_tests(scratch, job["tests"], timeout)))
    finally:
        shutil.rmtree(os.path.dirname(scratch), ignore_errors=True)
    return {"verdicts": verdicts}


def main(argv):
    command = argv[1]
    if command == "trace":
        trace(*argv[2:6])
        return
    options = {argv[i]: argv[i + 1] for i in range(2, len(argv) - 1) if argv[i].startswith("--")}
    timeout = float(options.get("--timeout", "60"))
    if command == "holes":
        result = holes(argv[2], argv[3], argv[4], int(options["--count"]), int(options["--seed"]), timeout)
    elif command == "check":
        with open(argv[3]) as f:
            result = check(argv[2], json.load(f), timeout)
    else:
        raise SystemExit(f"unknown command {command}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
