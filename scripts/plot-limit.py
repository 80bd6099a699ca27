#!/usr/bin/env python3
"""Plot the limit of `--concurrency auto` over time.

Reads, for each site, a directory written by scripts/sweep-auto.sh:

  log           the crawl's stderr with `--log-level semcrawl_core::limits=debug`:
                one line per limit change, `limit changed` with the fields
                `limit=B previous=A reason="..." rtt_ms=X baseline_ms=Y`, and
                `host="ORIGIN"` for a host's limiter
  start, end    Unix time (seconds) just before the crawl started and after it ended
  trace         optional, from `bench __serve SITE --trace FILE`: every 10 ms,
                `UNIX_SECONDS IN_FLIGHT WORKING` as the site server saw them
  summary.json  optional, the crawl's --summary-json
  workers       optional, the server's worker count (drawn as a reference line)

and writes the series as JSON and a hand-written SVG, one panel per site
(x = seconds since the crawl started, y = limit / requests). Python 3, no
third-party packages.

usage: plot-limit.py --json OUT.json --svg OUT.svg NAME=DIR [NAME=DIR...]
"""

import argparse
import datetime
import json
import math
import os
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CHANGE = re.compile(
    r"^(?P<ts>\S+)\s+DEBUG\s+semcrawl_core::limits:\s+limit changed\b(?P<rest>.*)$"
)
# The fmt layer prints fields as key=value, strings quoted.
FIELD = re.compile(r'\b(?P<key>\w+)=(?:"(?P<quoted>[^"]*)"|(?P<bare>\S+))')


def read_float(path, default=None):
    try:
        with open(path) as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return default


def parse_ts(ts):
    # tracing prints RFC 3339 UTC with microseconds: 2026-11-26T01:54:56.738379Z
    if ts.endswith("Z"):
        ts = ts[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(ts).timestamp()


def load_site(name, d):
    start = read_float(os.path.join(d, "start"))
    end = read_float(os.path.join(d, "end"))
    if start is None:
        sys.exit(f"plot-limit: {d}/start is missing")
    crawl, hosts = [], {}
    with open(os.path.join(d, "log"), errors="replace") as f:
        for raw in f:
            m = CHANGE.match(ANSI.sub("", raw).strip())
            if not m:
                continue
            fields = {
                f["key"]: f["quoted"] if f["quoted"] is not None else f["bare"]
                for f in FIELD.finditer(m["rest"])
            }
            try:
                change = {
                    "t": round(parse_ts(m["ts"]) - start, 4),
                    "from": int(fields["previous"]),
                    "to": int(fields["limit"]),
                    "reason": fields["reason"],
                    "rttMs": float(fields["rtt_ms"]),
                    "baselineMs": float(fields["baseline_ms"]),
                }
            except (KeyError, ValueError):
                continue
            if "host" in fields:
                hosts.setdefault(fields["host"], []).append(change)
            else:
                crawl.append(change)
    summary = None
    try:
        with open(os.path.join(d, "summary.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError):
        pass
    if end is None:
        end = start + (summary["elapsedMs"] / 1000 if summary else 0)
    server = []
    try:
        with open(os.path.join(d, "trace")) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                t = float(parts[0]) - start
                if -0.05 <= t <= end - start + 0.05:
                    server.append([round(t, 3), int(parts[1]), int(parts[2])])
    except OSError:
        pass
    workers = read_float(os.path.join(d, "workers"))
    site = {
        "durationS": round(end - start, 3),
        "limitChanges": crawl,
        "hostLimitChanges": hosts,
        "server": server,
    }
    if workers:
        site["workers"] = int(workers)
    if summary:
        records = summary.get("pages", 0) + summary.get("errors", 0)
        secs = summary.get("elapsedMs", 0) / 1000
        site["records"] = records
        site["elapsedS"] = secs
        site["pagesPerSec"] = round(records / secs) if secs else None
        for k in ("limitMin", "limitMax", "limitFinal", "maxInFlight"):
            if k in summary:
                site[k] = summary[k]
    return site


def steps(changes, duration):
    """A step function [(t, limit)] from the changes, over [0, duration]."""
    if not changes:
        return []
    pts = [(0.0, changes[0]["from"])]
    for c in changes:
        t = max(c["t"], 0.0)
        pts.append((t, pts[-1][1]))
        pts.append((t, c["to"]))
    pts.append((max(duration, pts[-1][0]), pts[-1][1]))
    return pts


def nice_step(span, target=6):
    if span <= 0:
        return 1
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt_tick(v):
    return f"{v:g}"


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


COLORS = {
    "limit": "#1f77b4",
    "host": "#ff7f0e",
    "inflight": "#9a9a9a",
    "working": "#2ca02c",
    "workers": "#d62728",
}


def panel(out, x0, y0, w, h, title, site):
    dur = max(site["durationS"], 0.001)
    crawl = steps(site["limitChanges"], dur)
    hosts = [steps(c, dur) for c in site["hostLimitChanges"].values()]
    server = site["server"]
    ymax = max(
        [p[1] for p in crawl]
        + [p[1] for s in hosts for p in s]
        + [r[1] for r in server]
        + [site.get("workers", 0), 1]
    )
    # Headroom above the data for the legend (top right).
    ystep = nice_step(ymax * 1.35)
    ytop = math.ceil(ymax * 1.35 / ystep) * ystep
    xstep = nice_step(dur)
    xtop = math.ceil(dur / xstep) * xstep

    def X(t):
        return x0 + w * min(max(t, 0), xtop) / xtop

    def Y(v):
        return y0 + h - h * v / ytop

    out.append(
        f'<text x="{x0 + w / 2}" y="{y0 - 12}" text-anchor="middle" '
        f'font-size="14" font-weight="bold">{esc(title)}</text>'
    )
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#F7F7F7" stroke="none"/>')
    v = 0.0
    while v <= ytop + 1e-9:
        y = Y(v)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#FFFFFF" stroke-width="1.5"/>')
        out.append(f'<line x1="{x0 - 5}" y1="{y:.1f}" x2="{x0}" y2="{y:.1f}" stroke="#000000"/>')
        out.append(
            f'<text x="{x0 - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt_tick(v)}</text>'
        )
        v += ystep
    t = 0.0
    while t <= xtop + 1e-9:
        x = X(t)
        out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + h}" stroke="#FFFFFF" stroke-width="1.5"/>')
        out.append(f'<line x1="{x:.1f}" y1="{y0 + h}" x2="{x:.1f}" y2="{y0 + h + 5}" stroke="#000000"/>')
        out.append(
            f'<text x="{x:.1f}" y="{y0 + h + 18}" text-anchor="middle" font-size="11">{fmt_tick(round(t, 6))}</text>'
        )
        t += xstep
    out.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="#000000"/>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + h}" stroke="#000000"/>')
    out.append(
        f'<text x="{x0 + w / 2}" y="{y0 + h + 34}" text-anchor="middle" font-size="12">'
        "seconds since the crawl started</text>"
    )
    out.append(
        f'<text transform="translate({x0 - 42},{y0 + h / 2}) rotate(-90)" text-anchor="middle" '
        'font-size="12">limit / requests</text>'
    )

    def poly(pts, color, width, dash=None, opacity=1):
        if not pts:
            return
        d = " ".join(f"{X(a):.1f},{Y(b):.1f}" for a, b in pts)
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="{width}" '
            f'stroke-opacity="{opacity}"{extra} points="{d}"/>'
        )

    legend = []
    if server:
        poly([(r[0], r[1]) for r in server], COLORS["inflight"], 1)
        legend.append(("requests at the server (received, not answered)", COLORS["inflight"], None))
        if site.get("workers"):
            poly([(r[0], r[2]) for r in server], COLORS["working"], 1)
            legend.append(("... of which holding a worker", COLORS["working"], None))
    if site.get("workers"):
        poly([(0, site["workers"]), (xtop, site["workers"])], COLORS["workers"], 1, "6,4")
        legend.append((f"server workers ({site['workers']})", COLORS["workers"], "6,4"))
    # The crawl's limit, then the host's on top (thinner, dashed): with one
    # host they often coincide.
    poly(crawl, COLORS["limit"], 2.5)
    legend.insert(0, ("crawl limit (--concurrency auto)", COLORS["limit"], None))
    for s in hosts:
        poly(s, COLORS["host"], 1.5, "5,3")
    if hosts:
        legend.insert(1, ("the host's limit", COLORS["host"], "5,3"))

    lx, ly = x0 + w - 290, y0 + 10
    out.append(
        f'<rect x="{lx - 8}" y="{ly - 4}" width="294" height="{len(legend) * 17 + 6}" '
        'fill="#FFFFFF" fill-opacity="0.85" stroke="#CCCCCC"/>'
    )
    for i, (label, color, dash) in enumerate(legend):
        yy = ly + 8 + i * 17
        extra = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<line x1="{lx}" y1="{yy}" x2="{lx + 24}" y2="{yy}" stroke="{color}" stroke-width="2.5"{extra}/>'
        )
        out.append(f'<text x="{lx + 30}" y="{yy + 4}" font-size="11">{esc(label)}</text>')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", required=True)
    ap.add_argument("--svg", required=True)
    ap.add_argument("--title", default="--concurrency auto: the limit over one crawl")
    ap.add_argument("sites", nargs="+", metavar="NAME=DIR")
    args = ap.parse_args()

    sites = {}
    for spec in args.sites:
        name, _, d = spec.partition("=")
        sites[name] = load_site(name, d)

    with open(args.json, "w") as f:
        json.dump({"sites": sites}, f, indent=1)
        f.write("\n")

    width, ph, top, gap = 860, 250, 50, 85
    height = top + len(sites) * (ph + gap)
    out = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#FFFFFF"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="16">{esc(args.title)}</text>',
    ]
    for i, (name, site) in enumerate(sites.items()):
        title = name
        if site.get("pagesPerSec"):
            title += (
                f": {site.get('records')} records in {site['elapsedS']:.2f} s, "
                f"{site['pagesPerSec']} pages/s"
            )
        panel(out, 70, top + 20 + i * (ph + gap), width - 100, ph, title, site)
    out.append("</svg>")
    with open(args.svg, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
