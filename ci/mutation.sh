#!/usr/bin/env bash
# Mutation testing of the reference system, with gauntlet's own commands as
# the test: how many seeded bugs does the harness catch?
#
#   ci/mutation.sh [--budget MINUTES] [--seed N] [--per-file N] [--files "A B"]
#                  [--tests "gate props load chaos:NAME"] [--retest DIR] [--list]
#
# cargo-mutants generates the mutants (it knows Rust: replaced function
# bodies, flipped operators, deleted match arms). Its own test phase runs
# `cargo test`, which cannot bring a stack up, so this script applies each
# mutant itself to a disposable worktree (target/mutation/tree), builds the
# system binary, and runs gauntlet's commands as the test, each on a fresh
# stack, in the order of --tests (default "gate props"), stopping at the
# first that fails:
#
#   gate        every journey            props   every property (--cases $PROPS_CASES)
#   load        the smoke load profile   chaos:NAME  one chaos experiment
#
# A mutant is `caught` when one exits 1 or 2 (a check failed, or the app
# did not come up as itself), `missed` when all exit 0, `timeout` when a
# command ran over its limit, `unviable` when it does not compile, `error`
# for anything else (exit 3: the environment; reported, never counted as a
# catch), `equivalent` when ci/mutation-equivalent.txt lists it with the
# reason no user could see it (not tested). The unmutated system must pass
# the same test first.
#
# Sampling: cargo-mutants lists every mutant of the files below; the seed
# picks --per-file of each (printed; the same seed picks the same ones), and
# no new mutant starts once --budget minutes are spent. Results, per file
# and per mutant (with its diff and the first failure line), go to
# target/mutation/<stamp>/: report.md and results.jsonl.
#
# --retest DIR tests again exactly the mutants an earlier run (DIR, its
# target/mutation/<stamp>) missed: the "after" score once new checks exist.
#
# Not part of .ci/run (it takes about 30 minutes); see README "Mutation score".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

budget_min=30
seed=$(( $(date +%s) % 100000 ))
per_file=3
list_only=false
retest=""
# The modules holding the contracts the spec states: stock and checkout,
# idempotency, cart ownership, order stages, rate limits, the credit ledger,
# the outbox relay and event delivery, webhook signatures.
files="system/src/market/stock.rs system/src/market/checkout.rs
system/src/market/idempotency.rs system/src/market/cart.rs
system/src/market/stages.rs system/src/ratelimit/mod.rs
system/src/rules_store/billing.rs system/src/worker/relay.rs
system/src/worker/consumer.rs system/src/api/ops/signature.rs"
tests="gate props"
PROPS_CASES=${PROPS_CASES:-24}
GATE_TIMEOUT=${GATE_TIMEOUT:-300}
PROPS_TIMEOUT=${PROPS_TIMEOUT:-400}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-300}
CHAOS_TIMEOUT=${CHAOS_TIMEOUT:-400}

while [ $# -gt 0 ]; do
  case $1 in
    --budget) budget_min=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --per-file) per_file=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --tests) tests=$2; shift 2 ;;
    --retest) retest=$2; shift 2 ;;
    --list) list_only=true; shift ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "mutation: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '[mutation +%ss] %s\n' "$SECONDS" "$*"; }
for f in $files; do
  [ -f "$f" ] || { echo "mutation: no such file: $f" >&2; exit 2; }
done
for t in $tests; do
  case $t in
    gate|props|load|chaos:?*) ;;
    *) echo "mutation: unknown test \`$t\` in --tests (gate, props, load, chaos:NAME)" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "mutation: needs jq (apt-get install jq)" >&2; exit 3; }
if ! cargo mutants --version >/dev/null 2>&1; then
  say "installing cargo-mutants (compiled from crates.io, a few minutes)"
  cargo install --locked cargo-mutants
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/target/mutation/$stamp
tree=$root/target/mutation/tree
export CARGO_TARGET_DIR=$root/target/mutation/target
mkdir -p "$out"
say "seed $seed; $per_file mutants per file; budget ${budget_min} min; results in $out"
say "$(cargo mutants --version)"

# A disposable worktree at HEAD: mutants never touch the checkout, and the
# build hook stages binaries into the worktree's image contexts, not ours.
if [ -d "$tree" ]; then
  git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
  git worktree prune
fi
git worktree add --quiet --detach "$tree" HEAD
gauntlet=$CARGO_TARGET_DIR/debug/gauntlet
system_bin=$CARGO_TARGET_DIR/debug/gauntlet-system
# Whatever happens, no stack of this script outlives it.
trap '[ -x "$gauntlet" ] && "$gauntlet" --config "$tree/gauntlet.toml" --project mutation down --all >/dev/null 2>&1 || true' EXIT

file_args=()
for f in $files; do file_args+=(--file "$f"); done
# Functions named `*_defective` run only with a SYSTEM_DEFECTS switch on:
# mutating them changes no behaviour a user can reach.
(cd "$tree" && cargo mutants --list --json --diff -p gauntlet-system "${file_args[@]}" \
  --exclude-re '_defective\b') > "$out/all.json"
total=$(jq length "$out/all.json")
say "cargo-mutants lists $total mutants in $(echo $files | wc -w) files"

# The sample: per file, a seeded shuffle, the first --per-file; or the
# mutants an earlier run missed (matched by name: the same source).
: > "$out/sample.jsonl"
if [ -n "$retest" ]; then
  jq -r 'select(.outcome == "missed") | .name' "$retest/results.jsonl" > "$out/retest.names"
  jq -c --rawfile names "$out/retest.names" \
    '.[] | select(.name as $n | $names | split("\n") | index($n))' "$out/all.json" > "$out/sample.jsonl"
  say "retesting the $(wc -l < "$out/sample.jsonl") of $(wc -l < "$out/retest.names") mutants $retest missed"
else
  for f in $files; do
    jq -c --arg f "$f" '.[] | select(.file == $f)' "$out/all.json" \
      | shuf -n "$per_file" --random-source=<(yes "$seed" 2>/dev/null || true) >> "$out/sample.jsonl"
  done
fi
sampled=$(wc -l < "$out/sample.jsonl")
# Known equivalent mutants (ci/mutation-equivalent.txt: name, tab, reason)
# are reported with their reason, not tested.
equivalent_reason() {
  grep -v '^#' "$root/ci/mutation-equivalent.txt" 2>/dev/null | awk -F '\t' -v n="$1" '$1 == n { print $2; exit }'
}
if $list_only; then
  jq -r .name "$out/sample.jsonl"
  exit 0
fi

build_system() {
  (cd "$tree" && cargo build --quiet -p gauntlet-system --bin gauntlet-system \
    -p gauntlet-faultproxy --bin gauntlet-faultproxy) > "$1" 2>&1
}
# One test command, by its name in --tests: `gate` (every journey),
# `props` (every property, --cases $PROPS_CASES), `load` (the smoke
# profile: SLOs and the post-run invariants), `chaos:NAME` (one experiment).
# Each brings up its own fresh stack with the mutant and tears it down.
test_command() {
  local common=(--config "$tree/gauntlet.toml" --project mutation)
  case $1 in
    gate) echo "$GATE_TIMEOUT" "$gauntlet" "${common[@]}" gate --system-bin "$system_bin" --seed "$seed" ;;
    props) echo "$PROPS_TIMEOUT" "$gauntlet" "${common[@]}" props --system-bin "$system_bin" --seed "$seed" --cases "$PROPS_CASES" ;;
    load) echo "$LOAD_TIMEOUT" "$gauntlet" "${common[@]}" load --profile smoke --system-bin "$system_bin" --seed "$seed" ;;
    chaos:*) echo "$CHAOS_TIMEOUT" "$gauntlet" "${common[@]}" chaos "${1#chaos:}" --system-bin "$system_bin" --seed "$seed" ;;
    *) return 1 ;;
  esac
}
# The test: each of --tests in turn, stopping at the first that catches
# the mutant; echoes `outcome exit_code test`.
run_test() {
  local log=$1 name code limit cmd
  for name in $tests; do
    read -r limit cmd <<< "$(test_command "$name")"
    echo "\$ gauntlet ... $name" >> "$log"
    code=0
    # shellcheck disable=SC2086 # the command line is words, none with blanks
    timeout -k 10 "$limit" $cmd > "$log.last" 2>&1 || code=$?
    cat "$log.last" >> "$log"
    case $code in
      0) ;;
      1|2) echo "caught $code $name"; return ;;
      124|137) echo "timeout $code $name"; return ;;
      *) echo "error $code $name"; return ;;
    esac
  done
  echo "missed 0 -"
}
# Mutant images differ only in the binary layer; drop each after use.
drop_new_images() {
  comm -13 <(sort "$out/images.before") <(docker images -q --no-trunc gauntlet/app | sort) \
    | xargs -r docker rmi -f >/dev/null 2>&1 || true
}

say "building gauntlet and the unmutated system in the worktree (the first time: several minutes)"
(cd "$tree" && cargo build --quiet -p gauntlet --bin gauntlet) > "$out/build-gauntlet.log" 2>&1 \
  || { echo "mutation: gauntlet did not build; see $out/build-gauntlet.log" >&2; exit 3; }
build_system "$out/build-baseline.log" \
  || { echo "mutation: the unmutated system did not build; see $out/build-baseline.log" >&2; exit 3; }
"$gauntlet" --config "$tree/gauntlet.toml" --project mutation down --all >/dev/null 2>&1 || true
docker images -q --no-trunc gauntlet/app | sort > "$out/images.before"
say "baseline: the unmutated system must pass the test"
read -r outcome code cmd < <(run_test "$out/baseline.log")
if [ "$outcome" != missed ]; then
  echo "mutation: the unmutated system did not pass ($outcome, $cmd exit $code); see $out/baseline.log" >&2
  exit 1
fi
docker images -q --no-trunc gauntlet/app | sort > "$out/images.before"

deadline=$(( SECONDS + budget_min * 60 ))
: > "$out/results.jsonl"
n=0
while IFS= read -r mutant; do
  n=$((n + 1))
  if [ "$SECONDS" -ge "$deadline" ]; then
    say "budget spent: $((n - 1)) of $sampled mutants tested"
    break
  fi
  name=$(jq -r .name <<< "$mutant")
  log=$out/mutant-$n.log
  say "[$n/$sampled] $name"
  reason=$(equivalent_reason "$name")
  if [ -n "$reason" ]; then
    say "[$n/$sampled] equivalent (ci/mutation-equivalent.txt): $reason"
    jq -c --arg why "$reason" '{file, line: .span.start.line, name, replacement, diff,
      outcome: "equivalent", command: "-", exit: 0, why: $why, seconds: 0, log: ""}' \
      <<< "$mutant" >> "$out/results.jsonl"
    continue
  fi
  started=$SECONDS
  # cargo-mutants' diff names the mutation on its `+++` line: name the file.
  jq -r .diff <<< "$mutant" | sed "2s|^+++ .*|+++ $(jq -r .file <<< "$mutant")|" > "$out/mutant-$n.diff"
  (cd "$tree" && git apply -p0 "$out/mutant-$n.diff")
  if build_system "$log"; then
    read -r outcome code cmd < <(run_test "$log")
  else
    outcome=unviable code=0 cmd=build
  fi
  (cd "$tree" && git checkout --quiet -- system)
  drop_new_images
  # The first line that says why, from the command that caught it: a
  # journey's failed step, a property's message, an experiment's verdict.
  why=""
  if [ -f "$log.last" ] && [ "$outcome" != missed ]; then
    why=$(grep -m1 -E '^ +[a-z_]+ (/|\(first attempt\)) |^ +- |BROKEN|^ +FAIL +[a-z_]+ +[0-9]+ cases' -A1 "$log.last" \
      | tr -s ' \n' ' ' | cut -c1-240 || true)
  elif [ "$outcome" = unviable ]; then
    why=$(grep -m1 -E '^error' "$log" | cut -c1-200 || true)
  fi
  rm -f "$log.last"
  secs=$((SECONDS - started))
  say "[$n/$sampled] $outcome ($cmd, exit $code, ${secs}s)${why:+: $why}"
  jq -c --arg outcome "$outcome" --arg cmd "$cmd" --argjson code "$code" --arg why "$why" \
    --argjson secs "$secs" --arg log "$log" \
    '{file, line: .span.start.line, name, replacement, diff,
      outcome: $outcome, command: $cmd, exit: $code, why: $why, seconds: $secs, log: $log}' \
    <<< "$mutant" >> "$out/results.jsonl"
done < "$out/sample.jsonl"

# Built back to the unmutated system, so the worktree's binary is honest.
build_system /dev/null || true

{
  echo "# Mutation score: seed $seed, $per_file per file, budget ${budget_min} min"
  echo
  echo "cargo-mutants: $total mutants listed in the files below; $(wc -l < "$out/results.jsonl") tested."
  echo "Test, in order, each on a fresh stack, stopping at the first catch: \`$tests\` (props with --cases $PROPS_CASES)."
  echo
  echo "| file | caught | missed | timeout | unviable | equivalent | error | score |"
  echo "|---|---|---|---|---|---|---|---|"
  jq -s -r 'group_by(.file)[] | . as $g
    | [($g[0].file), ([$g[] | select(.outcome=="caught")] | length),
       ([$g[] | select(.outcome=="missed")] | length), ([$g[] | select(.outcome=="timeout")] | length),
       ([$g[] | select(.outcome=="unviable")] | length), ([$g[] | select(.outcome=="equivalent")] | length),
       ([$g[] | select(.outcome=="error")] | length)]
    | . + [(if (.[1] + .[2] + .[3]) > 0 then "\((100 * (.[1] + .[3]) / (.[1] + .[2] + .[3])) | floor) %" else "-" end)]
    | "| \(.[0]) | \(.[1]) | \(.[2]) | \(.[3]) | \(.[4]) | \(.[5]) | \(.[6]) | \(.[7]) |"' "$out/results.jsonl"
  jq -s -r '(map(select(.outcome=="caught")) | length) as $c
    | (map(select(.outcome=="missed")) | length) as $m
    | (map(select(.outcome=="timeout")) | length) as $t
    | "| **all** | \($c) | \($m) | \($t) | | | | \(if ($c+$m+$t) > 0 then "\((100*($c+$t)/($c+$m+$t))|floor) %" else "-" end) |"' "$out/results.jsonl"
  echo
  echo "Score = (caught + timeout) / (caught + missed + timeout), as cargo-mutants counts it."
  echo
  echo "## Surviving mutants"
  echo
  jq -r 'select(.outcome=="missed") | "### \(.name)\n\n```diff\n\(.diff)```\n"' "$out/results.jsonl"
  echo "## Equivalent (ci/mutation-equivalent.txt)"
  echo
  jq -r 'select(.outcome=="equivalent") | "- \(.name): \(.why)"' "$out/results.jsonl"
  echo
  echo "## Caught"
  echo
  jq -r 'select(.outcome=="caught" or .outcome=="timeout") | "- \(.name): \(.outcome) by \(.command) (exit \(.exit)): \(.why)"' "$out/results.jsonl"
} > "$out/report.md"

cat "$out/report.md"
say "report: $out/report.md"
