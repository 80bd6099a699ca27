#!/usr/bin/env bash
# Issue 5's sweep: on the `slow` benchmark site (2,000 pages, 50 ms per
# response), crawl at fixed concurrencies 4..512 and with --concurrency auto,
# and write the table to docs/bench/auto.md. RUNS runs per cell (default 2);
# each figure is the median of the runs' pages/s.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-2}
cargo build --release -q -p semcrawl-cli -p semcrawl-tests
bin=target/release/semcrawl
tmp=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$tmp"' EXIT
target/release/bench __serve slow 3600 > "$tmp/url" 2>/dev/null &
server=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(cat "$tmp/url")
[ -n "$url" ] || { echo "the site server did not start" >&2; exit 1; }

cell() { # $1 = --concurrency value; prints: pages/s wall limit-trajectory
  local rates=() line=""
  for _ in $(seq "$RUNS"); do
    "$bin" crawl "$url" -q --concurrency "$1" --out "$tmp/out.jsonl" --summary-json "$tmp/s.json"
    line=$(python3 - "$tmp/s.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = d["pages"] + d["errors"]
t = d["elapsedMs"] / 1000
lim = f'{d.get("limitMin")}..{d.get("limitMax")}, final {d.get("limitFinal")}' if d.get("limitMin") is not None else str(d.get("limitFinal"))
print(f"{n / t:.0f} {t:.2f} {n} {lim}")
PY
)
    rates+=("$line")
  done
  printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

out=docs/bench/auto.md
{
  echo "# --concurrency auto vs a fixed sweep (slow site)"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, shared; commit $(git rev-parse --short HEAD)"
  echo "- Site: 2,000 pages, 50 ms per response, served on 127.0.0.1 (\`bench __serve slow\`); ideal at concurrency c: 2000 x 50 ms / c"
  echo "- Each row: median of $RUNS run(s) by pages/s. Reproduce: \`RUNS=$RUNS bash scripts/sweep-auto.sh\`"
  echo
  echo "| --concurrency | pages/s | wall s | records | limit (min..max, final) |"
  echo "|---|---:|---:|---:|---|"
} > "$tmp/table"
best=0
for c in 4 8 16 32 64 128 256 512 auto; do
  read -r rate wall n lim <<< "$(cell "$c")"
  echo "| $c | $rate | $wall | $n | $lim |" >> "$tmp/table"
  echo "c=$c: $rate pages/s ($wall s, limit $lim)" >&2
  if [ "$c" != auto ] && [ "$rate" -gt "$best" ]; then best=$rate; fi
  [ "$c" = auto ] && auto=$rate
done
{
  echo
  echo "auto reaches $auto pages/s = $(( 100 * auto / best ))% of the best fixed concurrency ($best pages/s); target: >= 90%."
} >> "$tmp/table"
mkdir -p docs/bench
cp "$tmp/table" "$out"
cat "$out"
