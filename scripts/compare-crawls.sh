#!/usr/bin/env bash
# Alternate crawlers (binaries, flags) on one site, RUNS rounds: the before/after
# figures of docs/bench/auto.md come from this loop.
#
#   bash scripts/compare-crawls.sh SITE RUNS "LABEL:BINARY:FLAGS" ...
#
# SITE is a `bench __serve` site (slow, saturated, big, fast: one server for
# all the crawls), pool (`bench __serve pool`) or pyblog (scripts/blog-server.py),
# both fresh per crawl. One line per crawl: wall and CPU seconds
# (/usr/bin/time), records, pages/s, the limit's range and final value, the
# most requests in flight the crawler had (fetching) and the server counted,
# and the one-minute load average before the crawl.
#
# BENCH=PATH: the bench binary serving the sites (default target/release/bench).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
site=$1 runs=$2
shift 2
bench=${BENCH:-target/release/bench}
tmp=$(mktemp -d)
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT
serve() {
  rm -f "$tmp/url"
  if [ "$site" = pyblog ]; then
    python3 scripts/blog-server.py 0 > "$tmp/url" 2> "$tmp/served" &
  else
    "$bench" __serve "$site" 3600 > "$tmp/url" 2> "$tmp/served" &
  fi
  server=$!
  for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
  url=$(head -1 "$tmp/url")
  [ -n "$url" ] || { echo "the $site server did not start" >&2; exit 1; }
}
stop() { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; server=""; }
fresh() { [ "$site" = pool ] || [ "$site" = pyblog ]; }
fresh || serve
for _ in $(seq "$runs"); do
  for v in "$@"; do
    IFS=: read -r label bin args <<< "$v"
    fresh && serve
    load=$(cut -d' ' -f1 /proc/loadavg)
    # shellcheck disable=SC2086 # the flags are words
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$bin" crawl "$url" -q $args \
      --out "$tmp/out.jsonl" --summary-json "$tmp/s.json"
    fresh && stop
    inflight=$(sed -n 's/.*at most \([0-9]*\) in flight.*/\1/p' "$tmp/served" | tail -1)
    read -r wall u s < "$tmp/time"
    python3 - "$tmp/s.json" "$site" "$label" "$wall" "$u" "$s" "${inflight:--}" "$load" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
site, label, wall, u, s, inflight, load = sys.argv[2:]
n = d["pages"] + d["errors"]
t = d["elapsedMs"] / 1000
lim = f'{d.get("limitMin")}..{d.get("limitMax")}/{d.get("limitFinal")}' if d.get("limitMin") is not None else str(d.get("limitFinal"))
print(f"{site} {label} wall={float(wall):.2f} cpu={float(u)+float(s):.2f} records={n} "
      f"pps={n/t:.0f} limit={lim} fetching={d.get('maxFetching', '-')} server={inflight} load={load}", flush=True)
PY
  done
done
fresh || stop
