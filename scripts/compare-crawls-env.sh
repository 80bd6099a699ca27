#!/usr/bin/env bash
# scripts/compare-crawls.sh's loop on a `bench __serve` site, with peak RSS
# and an environment variable per crawler, e.g. to compare frontiers:
#
#   bash scripts/compare-crawls-env.sh SITE RUNS "LABEL:ENV:BINARY:FLAGS" ...
#
# ENV is VAR=value (SEMCRAWL_FRONTIER=memory) or - for none. One line per
# crawl: wall and CPU seconds, peak RSS (/usr/bin/time), records in the
# summary and lines in the output, the one-minute load average before it.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n "2,9p" "$0" >&2; exit 2; }
site=$1 runs=$2; shift 2
bench=${BENCH:-target/release/bench}
tmp=$(mktemp -d)
"$bench" __serve "$site" 3600 > "$tmp/url" 2> "$tmp/served" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
url=$(head -1 "$tmp/url")
for _ in $(seq "$runs"); do
  for v in "$@"; do
    IFS=: read -r label envv bin args <<< "$v"
    [ "$envv" = - ] && envv=SEMCRAWL_UNUSED=1
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" env "$envv" "$bin" crawl "$url" -q $args \
      --out "$tmp/out.jsonl" --summary-json "$tmp/s.json"
    read -r wall u s rss < "$tmp/time"
    n=$(python3 -c "import json;d=json.load(open('$tmp/s.json'));print(d['pages']+d['errors'])")
    lines=$(wc -l < "$tmp/out.jsonl")
    echo "$site $label wall=$wall cpu=$(python3 -c "print(round($u+$s,2))") rssMiB=$(python3 -c "print(round($rss/1024,1))") records=$n lines=$lines load=$load"
  done
done
