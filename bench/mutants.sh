#!/usr/bin/env bash
# Mutation testing of the protocol layer with cargo-mutants: each mutant (an operator flipped,
# a function made to return a default, a condition forced) must make some test of the
# framework crate fail. A mutant that survives is behaviour no test pins, or an equivalent
# change; bench/README.md lists the survivors judged equivalent, with why.
#
# usage: bench/mutants.sh [FILE...]   (paths under framework/src; default: the h1 files below)
#   e.g. bench/mutants.sh h1/body.rs
# Not part of CI: about 10 s per mutant on two cores, some 600 mutants for the default files
# (about two hours). Each file is run on its own, with the framework crate's own tests only
# (`--lib --tests`), so a score says what carafe's unit, property and integration tests pin.
# Results: target/mutants/<file>/mutants.out (caught.txt, missed.txt, timeout.txt, unviable.txt).
# needs: cargo install cargo-mutants --version '^27' --locked
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-mutants >/dev/null || {
  echo "bench/mutants.sh: needs cargo-mutants: cargo install cargo-mutants --version '^27' --locked" >&2
  exit 1
}
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(h1/head.rs h1/body.rs h1/buffer.rs h1/conn.rs h1/encode.rs)
results=target/mutants
count() { [ -f "$1" ] && grep -c . "$1" || echo 0; }
summary=()
for file in "${files[@]}"; do
  out="$results/${file//\//_}"
  mkdir -p "$out"
  # cargo-mutants exits non-zero when a mutant survives; the summary below says which.
  cargo mutants -p carafe --file "framework/src/$file" --timeout 120 --jobs 1 \
    --output "$out" -- --lib --tests || true
  dir="$out/mutants.out"
  caught=$(count "$dir/caught.txt")
  missed=$(count "$dir/missed.txt")
  timeout=$(count "$dir/timeout.txt")
  unviable=$(count "$dir/unviable.txt")
  viable=$((caught + missed + timeout))
  summary+=("$file: $((caught + timeout))/$viable caught ($missed missed, $timeout by timeout, $unviable unviable)")
  if [ "$missed" -gt 0 ]; then
    summary+=("$(sed 's/^/    missed: /' "$dir/missed.txt")")
  fi
done
printf '%s\n' "${summary[@]}"
