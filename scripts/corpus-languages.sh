#!/usr/bin/env bash
# Fetches the package sources `splice bench retrieval --lang` cuts its non-Python task sets from,
# every version pinned, into <cache>/corpus-languages (apart from the Python corpus, whose folder
# other benchmarks walk for .py files):
#   Rust: the crates semver 1.0.28 and ignore 0.4.35 (crates.io, through cargo);
#   JavaScript: express 4.21.1 and commander 12.1.0 (npm tarballs, CommonJS sources);
#   TypeScript: @tanstack/query-core 5.59.0 and @trpc/server 10.45.2 (npm tarballs that ship src/*.ts);
#   C: the PyPI sdists cbor2 5.6.5 and bitarray 3.0.0 (C extensions);
#   C++: the PyPI sdist greenlet 3.1.1 (a C++ extension).
# About 1.5 MB of downloads. Idempotent: a package whose folder is there is not fetched again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

corpus="$(splice_cache_dir)/corpus-languages"
mkdir -p "$corpus"

# crate NAME VERSION: the crate's published source, unpacked by cargo, copied to $corpus/NAME-VERSION.
crate() {
    local name=$1 version=$2 dest="$corpus/$1-$2"
    [ -f "$dest/Cargo.toml" ] && return 0
    command -v cargo >/dev/null || die "cargo is missing (needed to fetch the crate $name)"
    say "fetching the benchmark corpus: crate $name $version from crates.io"
    local tmp manifest
    tmp=$(mktemp -d)
    mkdir -p "$tmp/src" && touch "$tmp/src/lib.rs"
    printf '[package]\nname = "corpus-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
        "$name" "$version" >"$tmp/Cargo.toml"
    manifest=$(cd "$tmp" && cargo metadata --quiet --format-version 1 | python3 -c '
import json, sys
name, version = sys.argv[1], sys.argv[2]
print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"]
           if p["name"] == name and p["version"] == version))' "$name" "$version") \
        || die "cargo could not fetch $name $version"
    rm -rf "$dest.part" && cp -r "$(dirname "$manifest")" "$dest.part" && mv "$dest.part" "$dest"
    rm -rf "$tmp"
}

# npm_package NAME VERSION FOLDER: the npm tarball NAME@VERSION unpacked into $corpus/FOLDER.
npm_package() {
    local name=$1 version=$2 dest="$corpus/$3"
    [ -f "$dest/package.json" ] && return 0
    command -v npm >/dev/null || die "npm is missing (needed to fetch $name; sudo apt-get install npm)"
    say "fetching the benchmark corpus: $name@$version from npm"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$name@$version" >/dev/null) || die "npm pack $name@$version failed"
    mkdir -p "$dest.part"
    tar -xzf "$tmp"/*.tgz -C "$dest.part" --strip-components=1
    mv "$dest.part" "$dest"
    rm -rf "$tmp"
}

# sdist NAME VERSION: the PyPI sdist NAME==VERSION unpacked into $corpus/NAME-VERSION.
sdist() { fetch_sdist "$corpus" "$1" "$2" PKG-INFO; }

crate semver 1.0.28
crate ignore 0.4.35
npm_package express 4.21.1 express-4.21.1
npm_package commander 12.1.0 commander-12.1.0
npm_package @tanstack/query-core 5.59.0 query-core-5.59.0
npm_package @trpc/server 10.45.2 trpc-server-10.45.2
sdist cbor2 5.6.5
sdist bitarray 3.0.0
sdist greenlet 3.1.1
