#!/usr/bin/env bash
# The sweep of --concurrency auto: on two benchmark sites, crawl at fixed concurrencies
# 4..512 and with --concurrency auto, and write the tables to
# docs/bench/auto.md; then crawl each site once more with auto, logging every
# change of the limit, and plot the limit over time (docs/bench/limit.svg,
# series in docs/bench/limit.json).
#
#   slow       2,000 pages, every response 50 ms late (`bench __serve slow`)
#   saturated  the same pages, served by 32 workers: requests beyond 32 queue
#              (`bench __serve saturated`); ideal 640 pages/s at c >= 32
#   pool       a blog of 400 pages behind a thread pool of 8 workers, 4 pages
#              taking 2 s (`bench __serve pool`): swept at POOL_CONC, a fresh
#              server per crawl, which reports the most requests it had in
#              flight; auto with the default --per-host (16) and with 512
#   pyblog     about 1,120 pages behind Python's ThreadingHTTPServer
#              (scripts/blog-server.py: a thread per request under one GIL, a
#              listen backlog of 5, one page taking 2 s), the server of the
#              report in issue #13; swept like pool, at POOL_CONC, with the most
#              requests the crawler had in flight (all on that one host)
#
# On slow and saturated, auto runs with --per-host 512 (its maximum): one host
# is the whole crawl there, and the sweep measures the limiter, not the
# default per-host cap of auto (16).
#
# Environment:
#   RUNS=3                          runs per cell; each figure is the median run by pages/s
#   CONC="4 8 16 32 64 128 256 512" the fixed concurrencies swept
#   SITES="slow saturated pool pyblog" the sites
#   POOL_CONC="4 8 16 32 64"        the fixed concurrencies swept on pool and pyblog
#   OUT=docs/bench                  where auto.md, limit.svg and limit.json go
#   BIG=1                           also the memory check on the big site (0: skip)
#   NO_BUILD=1                      use target/release/{semcrawl,bench} as they are
#   SEMCRAWL=PATH BENCH=PATH        other binaries (e.g. copies, when others build
#                                   in the same target directory meanwhile); no build
#
# Time: about 1 minute per run of the full sweep per site (c=4 alone takes
# ~26 s), so RUNS=3 is ~6-7 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
CONC=${CONC:-"4 8 16 32 64 128 256 512"}
SITES=${SITES:-"slow saturated pool pyblog"}
POOL_CONC=${POOL_CONC:-"4 8 16 32 64"}
OUT=${OUT:-docs/bench}
if [ -z "${NO_BUILD:-}${SEMCRAWL:-}${BENCH:-}" ]; then
  cargo build --release -q -p semcrawl-cli -p semcrawl-bench
fi
bin=${SEMCRAWL:-target/release/semcrawl}
bench=${BENCH:-target/release/bench}
tmp=$(mktemp -d)
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# serve SITE [ARGS...]: start `bench __serve SITE 3600 ARGS` in the background;
# sets $server (its pid) and $url.
serve() {
  local site=$1
  shift
  rm -f "$tmp/url"
  "$bench" __serve "$site" 3600 "$@" > "$tmp/url" 2>/dev/null &
  server=$!
  for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
  url=$(cat "$tmp/url")
  [ -n "$url" ] || { echo "the $site site server did not start" >&2; exit 1; }
}

stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}

# summary JSON -> "pages/s wall records limit-trajectory"
summarize() {
  python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = d["pages"] + d["errors"]
t = d["elapsedMs"] / 1000
lim = f'{d.get("limitMin")}..{d.get("limitMax")}, final {d.get("limitFinal")}' if d.get("limitMin") is not None else str(d.get("limitFinal"))
print(f"{n / t:.0f} {t:.2f} {n} {lim}")
PY
}

cell() { # $1 = --concurrency value, then more crawl flags; prints the median run's summary line
  local lines=()
  for _ in $(seq "$RUNS"); do
    "$bin" crawl "$url" -q --concurrency "$@" --out "$tmp/out.jsonl" --summary-json "$tmp/s.json"
    lines+=("$(summarize "$tmp/s.json")")
  done
  printf '%s\n' "${lines[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

# fresh_cell SITE ARGS...: as cell, on a fresh server per crawl (pool: `bench
# __serve pool`, which reports the most requests it had in flight; pyblog:
# scripts/blog-server.py); prints the median run by wall time as
# "wall records max-in-flight-at-server max-fetching limit-trajectory" (the
# trajectory last: it has spaces).
fresh_cell() {
  local site=$1 lines=()
  shift
  for _ in $(seq "$RUNS"); do
    rm -f "$tmp/url"
    if [ "$site" = pool ]; then
      "$bench" __serve pool 3600 > "$tmp/url" 2> "$tmp/served" &
    else
      python3 scripts/blog-server.py 0 > "$tmp/url" 2> "$tmp/served" &
    fi
    server=$!
    for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.1; done
    url=$(head -1 "$tmp/url")
    "$bin" crawl "$url" -q --concurrency "$@" --out "$tmp/out.jsonl" --summary-json "$tmp/s.json"
    stop_server
    read -r _ wall n lim <<< "$(summarize "$tmp/s.json")"
    fetching=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["maxFetching"])' "$tmp/s.json")
    lines+=("$wall $n $(sed -n 's/.*at most \([0-9]*\) in flight.*/\1/p' "$tmp/served" | tail -1) $fetching $lim")
  done
  printf '%s\n' "${lines[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
}

describe() {
  case $1 in
    slow) echo "2,000 pages of ~20 KiB, every response 50 ms late (\`bench __serve slow\`). Ideal at concurrency c: c / 50 ms = 20c pages/s (the crawler's CPU aside)." ;;
    saturated) echo "the slow site's pages (2,000, 50 ms per response) served by 32 workers: a request beyond 32 at once queues for a worker (\`bench __serve saturated\`). Ideal at concurrency c: min(c, 32) / 50 ms, so 640 pages/s at any c >= 32; above 32, more concurrency only lengthens the queue." ;;
    pyblog) echo "about 1,120 pages of ~6 KiB (1,000 posts, index pages, 20 tags) behind Python's \`ThreadingHTTPServer\` (\`scripts/blog-server.py\`): a thread per request under one GIL, Python's default listen backlog of 5, one post taking 2 s. A fresh server per crawl. *At the server*: handler threads at once (connections waiting in the backlog are not counted); *fetching*: the crawler's most requests in flight, all at this one host. Target: auto within 1.3x the wall time of the best fixed concurrency, with at most 32 requests in flight." ;;
    pool) echo "a blog of 400 pages of ~4 KiB behind a thread-pool server of 8 workers (\`bench __serve pool\`, \`tests/src/pool_site.rs\`): 20 ms of a worker per page, 4 pages take 2 s; requests beyond 8 wait in the accept queue. A fresh server per crawl, which counts the requests it had in flight at once (from accept to answer). Target: auto within 1.3x the wall time of the best fixed concurrency, with at most 32 requests in flight." ;;
  esac
}

ideal() { # $1 = site, $2 = concurrency: ideal pages/s
  case $1 in
    slow) echo $(( 20 * $2 )) ;;
    saturated) echo $(( 20 * ($2 < 32 ? $2 : 32) )) ;;
  esac
}

table="$tmp/table"
{
  echo "# --concurrency auto vs a fixed sweep"
  echo
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, shared (load average at start: $(cut -d' ' -f1-3 /proc/loadavg)); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- core cli runtime-smol 2>/dev/null || echo ' + uncommitted changes')"
  echo "- Each row: the median of $RUNS run(s) by pages/s (records / the crawl's elapsed time). Sites are served on 127.0.0.1 by the bench harness, on the same cores as the crawler."
  echo "- Reproduce: \`RUNS=$RUNS bash scripts/sweep-auto.sh\` (see [README.md](README.md#auto-concurrency-sweep))"
} > "$table"

for site in $SITES; do
  case $site in pool | pyblog) continue ;; esac
  serve "$site"
  {
    echo
    echo "## $site"
    echo
    echo "$(describe "$site")"
    echo
    echo "| --concurrency | pages/s | ideal pages/s | wall s | records | limit (min..max, final) |"
    echo "|---|---:|---:|---:|---:|---|"
  } >> "$table"
  best=0 bestc=""
  for c in $CONC auto; do
    if [ "$c" = auto ]; then
      read -r rate wall n lim <<< "$(cell auto --per-host 512)"
    else
      read -r rate wall n lim <<< "$(cell "$c")"
    fi
    if [ "$c" = auto ]; then
      id="-"
    else
      id=$(ideal "$site" "$c")
    fi
    label=$c
    [ "$c" = auto ] && label="auto --per-host 512"
    echo "| $label | $rate | $id | $wall | $n | $lim |" >> "$table"
    echo "$site c=$c: $rate pages/s ($wall s, limit $lim)" >&2
    if [ "$c" != auto ] && [ "$rate" -gt "$best" ]; then best=$rate bestc=$c; fi
    [ "$c" = auto ] && auto=$rate
  done
  {
    echo
    echo "**$site: auto reaches $auto pages/s = $(( 100 * auto / best ))% of the best fixed concurrency ($bestc: $best pages/s); target: >= 90%.**"
  } >> "$table"
  stop_server
done

# The pool and pyblog sites: wall time (their pages are few and some are
# slow, so the crawl's length, not a rate, is what a user sees) and the
# requests in flight.
for site in $SITES; do
  case $site in pool | pyblog) ;; *) continue ;; esac
  {
    echo
    echo "## $site"
    echo
    echo "$(describe "$site")"
    echo
    echo "| --concurrency | wall s | records | most in flight at the server | most fetching | limit (min..max, final) |"
    echo "|---|---:|---:|---:|---:|---|"
  } >> "$table"
  best="" bestc=""
  for c in $POOL_CONC auto auto512; do
    case $c in
      auto) read -r wall n inflight fetching lim <<< "$(fresh_cell "$site" auto)"; label="auto (default --per-host)" ;;
      auto512) read -r wall n inflight fetching lim <<< "$(fresh_cell "$site" auto --per-host 512)"; label="auto --per-host 512" ;;
      *) read -r wall n inflight fetching lim <<< "$(fresh_cell "$site" "$c")"; label=$c ;;
    esac
    echo "| $label | $wall | $n | $inflight | $fetching | $lim |" >> "$table"
    echo "$site c=$c: $wall s, at most $inflight in flight at the server, $fetching fetching (limit $lim)" >&2
    case $c in
      auto) auto_wall=$wall auto_fetching=$fetching ;;
      auto512) ;;
      *) if [ -z "$best" ] || python3 -c "import sys; sys.exit(not $wall < $best)"; then best=$wall bestc=$c; fi ;;
    esac
  done
  {
    echo
    echo "**$site: auto takes $auto_wall s = $(python3 -c "print(f'{$auto_wall / $best:.2f}')")x the best fixed concurrency ($bestc: $best s), with at most $auto_fetching requests in flight; target: <= 1.3x, <= 32.**"
  } >> "$table"
done

# Memory: on the `big` site (300 pages of 1 MiB, 200 ms late), auto under
# --memory 64MiB must keep the process's peak RSS <= 80 MiB (fixed
# concurrencies beside it for comparison). Each row: RUNS runs; the worst
# (highest) peak RSS, the median pages/s.
if [ "${BIG:-1}" = 1 ]; then
  serve big
  {
    echo
    echo "## Memory: the big site under \`--memory 64MiB\`"
    echo
    echo "300 pages of 1 MiB, every response 200 ms late (\`bench __serve big\`), crawled with \`--memory 64MiB --max-body 2MiB\`; $RUNS run(s) per row. Target for auto: peak RSS <= 80 MiB."
    echo
    echo "| --concurrency | worst peak RSS MiB | peak bytes held MiB | pages/s (median) | memory-bound s | limit-bound s | limit (min..max, final) |"
    echo "|---|---:|---:|---:|---:|---:|---|"
  } >> "$table"
  for c in 64 256 auto; do
    rows=()
    for _ in $(seq "$RUNS"); do
      per_host=()
      [ "$c" = auto ] && per_host=(--per-host 512)
      "$bin" crawl "$url" -q --concurrency "$c" "${per_host[@]}" --memory 64MiB --max-body 2MiB \
        --out "$tmp/out.jsonl" --summary-json "$tmp/s.json"
      rows+=("$(python3 - "$tmp/s.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
n = d["pages"] + d["errors"]
lim = f'{d.get("limitMin")}..{d.get("limitMax")}, final {d.get("limitFinal")}' if d.get("limitMin") is not None else str(d.get("limitFinal"))
print(f'{n / (d["elapsedMs"] / 1000):.0f}|{d["peakRssBytes"] / 2**20:.1f}|{d["peakBytes"] / 2**20:.1f}|{d["memoryBoundMs"] / 1000:.2f}|{d["limitBoundMs"] / 1000:.2f}|{lim}')
PY
)")
    done
    worst=$(printf '%s\n' "${rows[@]}" | cut -d'|' -f2 | sort -n | tail -1)
    IFS='|' read -r rate _ held mem lim_s lim <<< "$(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")"
    echo "| $c | $worst | $held | $rate | $mem | $lim_s | $lim |" >> "$table"
    echo "big c=$c: worst peak RSS $worst MiB, $rate pages/s" >&2
  done
  stop_server
fi

# The limit over time: one more auto crawl per site, with the limit's changes
# logged (debug level for the pipeline only, so that isahc's debug logs do
# not slow the crawl) and the server's requests in flight traced.
plot_args=()
for site in $SITES; do
  case $site in pool | pyblog) continue ;; esac
  d="$tmp/plot-$site"
  mkdir -p "$d"
  serve "$site" --trace "$d/trace"
  [ "$site" = saturated ] && echo 32 > "$d/workers"
  date +%s.%N > "$d/start"
  "$bin" crawl "$url" -q --concurrency auto --per-host 512 --out "$tmp/out.jsonl" --summary-json "$d/summary.json" \
    --log-level semcrawl_core::limits=debug 2> "$d/log"
  date +%s.%N > "$d/end"
  stop_server
  echo "$site plot crawl: $(summarize "$d/summary.json"), $(grep -c 'limit changed' "$d/log" || true) limit changes logged" >&2
  plot_args+=("$site=$d")
done
mkdir -p "$OUT"
if [ ${#plot_args[@]} -gt 0 ]; then
  python3 scripts/plot-limit.py --json "$OUT/limit.json" --svg "$OUT/limit.svg" "${plot_args[@]}"
  {
    echo
    echo "## The limit over time"
    echo
    echo "One more \`--concurrency auto\` crawl of each site, its limit's changes read from its debug log, and the requests in flight as the site server saw them every 10 ms ([limit.json](limit.json) has the series):"
    echo
    echo "![the limit over time](limit.svg)"
  } >> "$table"
fi
cp "$table" "$OUT/auto.md"
cat "$OUT/auto.md"
