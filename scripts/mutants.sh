#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the files whose bugs change results:
# src/model/ (the world's parts in src/model/world/ included), src/assertions.rs,
# src/metrics.rs and src/scenario/build.rs. docs/testing.md has the latest
# score per file, the survivors and why each is equivalent.
#
#   scripts/mutants.sh                   # the whole pass (hours on 2 cores)
#   scripts/mutants.sh --shard 3/40      # one fixed slice (CI runs one)
#   scripts/mutants.sh --list            # the mutants, without running them
#   scripts/mutants.sh --iterate         # only those not caught by the last run
#   scripts/mutants.sh -F 'reservoir.rs' # those whose name matches a regex
#
# Extra arguments go to cargo-mutants. Results: target/mutants.out/
# (outcomes.json, caught.txt, missed.txt, timeout.txt, unviable.txt).
#
# Cost: each mutant is an incremental build with the `mutants` profile of
# Cargo.toml (release optimisation, incremental, no debug info: ~15 s) and the
# test targets below. cargo stops at the first failing test binary, so a
# mutant that the unit tests catch costs little; a survivor costs the whole
# list (~30 s). The slow end-to-end targets that add no kills on these files
# are left out: cli and reports (the binary and the charts), erlang_c (its
# scenario is pinned by snapshots) and readme_figures (reads files only).
# MUTANTS_JOBS=2 runs two mutants at once.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "cargo-mutants is missing: cargo install cargo-mutants --locked" >&2
    exit 2
fi

FILES=(
    -f 'src/model/*.rs' -f 'src/model/world/*.rs'
    -f src/assertions.rs -f src/metrics.rs -f src/scenario/build.rs
)
SKIP=" cli reports erlang_c readme_figures "
TESTS=(--lib)
for f in tests/*.rs; do
    name=$(basename "$f" .rs)
    case "$SKIP" in *" $name "*) ;; *) TESTS+=(--test "$name") ;; esac
done

# Mutants documented as equivalent in docs/testing.md (no observable
# difference): skipped, so that a shard never fails on them.
EXCLUDE=()
while IFS= read -r line; do
    case "$line" in '' | '#'*) ;; *) EXCLUDE+=(--exclude-re "$line") ;; esac
done < scripts/mutants-equivalent.txt

# MUTANTS_CI=1 (.ci/run): reuse the release build that `cargo test --release`
# just made (copied into the scratch tree) instead of building the mutants
# profile from scratch, and skip the unmutated baseline (CI just ran it).
if [ "${MUTANTS_CI:-0}" = 1 ]; then
    MODE=(--profile release --copy-target true --baseline skip)
else
    MODE=(--profile mutants)
fi

exec nice -n 19 cargo mutants \
    "${MODE[@]}" \
    --jobs "${MUTANTS_JOBS:-1}" \
    --output target \
    --no-shuffle \
    "${FILES[@]}" \
    "${EXCLUDE[@]}" \
    "$@" \
    -- "${TESTS[@]}"
