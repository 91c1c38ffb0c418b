#!/usr/bin/env bash
# Builds the libFuzzer target for the HTTP parser and runs it for a bounded time.
#   fuzz/run.sh [seconds]     (default 60)
# Seeds come from the gunicorn corpus (../shared/corpus/gunicorn-requests) with its escapes turned
# into real bytes; everything generated lives under fuzz/out/ (gitignored). Crashes land in
# fuzz/out/crashes/; turn each into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
out=fuzz/out
http=Sources/WSGIServer/HTTP
sources=(
    "$http/ByteView.swift" "$http/HTTPByte.swift" "$http/HTTPParseError.swift" "$http/ParserLimits.swift"
    "$http/ParsedRequest.swift" "$http/RequestLineScanner.swift" "$http/FieldLineScanner.swift"
    "$http/RequestTarget.swift" "$http/HeaderSemantics.swift" "$http/RequestParser.swift"
    "$http/ChunkSizeLineScanner.swift" "$http/ChunkedDecoder.swift"
)
mkdir -p "$out/seeds" "$out/corpus" "$out/crashes"

# Real newlines in the .http files are not part of the requests; \r \n \t \0 \xHH stand for bytes.
corpus=../shared/corpus/gunicorn-requests
if [ -d "$corpus" ]; then
    for f in "$corpus"/valid/*.http "$corpus"/invalid/*.http; do
        kind=$(basename "$(dirname "$f")")
        perl -0777 -pe 's/\n//g; s/\\(r|n|t|0|x([0-9A-Fa-f]{2}))/$1 eq "r" ? "\r" : $1 eq "n" ? "\n" : $1 eq "t" ? "\t" : $1 eq "0" ? "\0" : chr(hex($2))/ge' \
            "$f" > "$out/seeds/$kind-$(basename "$f")"
    done
else
    echo "warning: $corpus not found; fuzzing without seeds" >&2
fi

# -wmo lets the optimiser inline across the files as a release build does;
# -assert-config Debug keeps the parser's bounds assertions in an optimised build;
# -strict-memory-safety reports any unsafe construct not marked `unsafe`.
swiftc -sanitize=fuzzer,address -parse-as-library -O -wmo -assert-config Debug -strict-memory-safety \
    -module-name WSGIServer "${sources[@]}" fuzz/ParserFuzz.swift -o "$out/parser-fuzz"

# libFuzzer stops itself at -max_total_time; timeout is the backstop if crash reporting hangs.
ASAN_OPTIONS=symbolize=0 timeout $((seconds + 120)) "$out/parser-fuzz" \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/" "$out/corpus" "$out/seeds"
