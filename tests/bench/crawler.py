#!/usr/bin/env python3
"""The reference peer of the semcrawl benchmark: the seed article's recipe.

"How do you limit memory usage with asyncio?" (2017) limits a crawler's memory
with a semaphore: every URL becomes a task at once (``asyncio.ensure_future``),
and each task does its work inside ``async with asyncio.BoundedSemaphore(N)``.
This is that crawler, written the idiomatic way and doing the same work as
``semcrawl crawl`` so the comparison is fair:

* aiohttp for HTTP (one session, keep-alive, a connection pool as large as the
  semaphore, redirects not followed: a 3xx is a record and its target is
  queued like a link, as semcrawl does);
* lxml for HTML: title, meta description, ``<html lang>``, ``<link
  rel=canonical>``, ``<base href>``, and the ``href`` of ``<a>``/``<area>``;
* a seen-set of canonical URLs (fragment dropped, scheme and host lowercased,
  default port dropped, ``utm_*`` parameters and an empty query dropped,
  remaining parameters sorted), the same form semcrawl stores;
* scope: the seed's host and port; robots.txt fetched once and obeyed
  (``urllib.robotparser``); a disallowed URL is never requested;
* one JSON Lines record per URL fetched (url, status, depth, title,
  description, lang, canonical, links_count, content_type, bytes, sha256,
  fetched_at, elapsed_ms, error), failures included.

No retries, no politeness delays, no body cap: the recipe has none, and the
benchmark sites need none.

Usage: crawler.py URL --concurrency N --out FILE.jsonl [--timeout SECONDS]
"""

import argparse
import asyncio
import hashlib
import json
import sys
import time
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

import aiohttp
import lxml.html

USER_AGENT = "semcrawl-bench-peer/1.0"
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical(url):
    """The canonical form of an absolute URL, or None if it is not crawlable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    params = [
        p for p in parts.query.split("&") if p and not p.split("=", 1)[0].startswith("utm_")
    ]
    params.sort(key=lambda p: p.split("=", 1)[0])
    return urlunsplit((scheme, netloc, parts.path or "/", "&".join(params), ""))


def extract(body, url):
    """Title, description, lang, canonical and links of an HTML body."""
    try:
        doc = lxml.html.document_fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return None, None, None, None, []
    base = url
    for href in doc.xpath("//base/@href")[:1]:
        base = urljoin(url, href.strip())
    title = " ".join(" ".join(doc.xpath("//title[1]//text()")).split()) or None
    desc = doc.xpath("//meta[translate(@name,'DESCRIPTION','description')='description']/@content")
    desc = (" ".join(desc[0].split()) or None) if desc else None
    lang = (doc.get("lang") or "").strip() or None
    canon = None
    for link in doc.xpath("//link[@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            canon = canonical(urljoin(base, link.get("href").strip()))
            break
    links = []
    for href in doc.xpath("//a/@href | //area/@href"):
        link = canonical(urljoin(base, href.strip()))
        if link is not None:
            links.append(link)
    if canon is not None:
        links.append(canon)
    return title, desc, lang, canon, links


class Crawler:
    def __init__(self, seed, concurrency, out, timeout):
        self.seed = canonical(seed)
        split = urlsplit(self.seed)
        self.scope = (split.scheme, split.netloc)
        self.semaphore = asyncio.BoundedSemaphore(concurrency)
        self.concurrency = concurrency
        self.out = out
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.seen = {self.seed}
        self.tasks = set()
        self.robots = None
        self.pages = 0
        self.errors = 0

    def in_scope(self, url):
        split = urlsplit(url)
        return (split.scheme, split.netloc) == self.scope

    def allowed(self, url):
        return self.robots is None or self.robots.can_fetch(USER_AGENT, url)

    def enqueue(self, url, depth, parent):
        if url in self.seen or not self.in_scope(url):
            return
        self.seen.add(url)
        if not self.allowed(url):
            return
        # The recipe: a task per URL, right away; the semaphore is inside.
        task = asyncio.ensure_future(self.crawl(url, depth, parent))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def load_robots(self, session):
        scheme, netloc = self.scope
        try:
            async with session.get(f"{scheme}://{netloc}/robots.txt") as resp:
                text = await resp.text(errors="replace")
                if resp.status == 200:
                    self.robots = RobotFileParser()
                    self.robots.parse(text.splitlines())
        except (aiohttp.ClientError, asyncio.TimeoutError):
            pass

    async def crawl(self, url, depth, parent):
        async with self.semaphore:
            started = time.monotonic()
            record = {"url": url, "final_url": url, "status": None, "depth": depth,
                      "parent": parent, "title": None, "description": None, "lang": None,
                      "canonical": None, "links_count": 0, "content_type": None,
                      "bytes": 0, "sha256": None, "fetched_at": int(time.time() * 1000),
                      "elapsed_ms": 0, "error": None}
            links = []
            try:
                async with self.session.get(url, allow_redirects=False) as resp:
                    body = await resp.read()
                    ctype = resp.headers.get("Content-Type")
                    record.update(status=resp.status, content_type=ctype, bytes=len(body),
                                  sha256=hashlib.sha256(body).hexdigest())
                    location = resp.headers.get("Location")
                if 300 <= record["status"] < 400 and location:
                    target = canonical(urljoin(url, location))
                    record["final_url"] = target
                    if target is not None:
                        links.append(target)
                elif record["status"] >= 400:
                    record["error"] = {"kind": "http", "message": f"HTTP {record['status']}"}
                elif ctype is None or "html" in ctype.lower():
                    title, desc, lang, canon, links = extract(body, url)
                    record.update(title=title, description=desc, lang=lang, canonical=canon,
                                  links_count=len(links))
                del body
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                kind = "timeout" if isinstance(e, asyncio.TimeoutError) else "connect"
                record["error"] = {"kind": kind, "message": str(e) or kind}
            record["elapsed_ms"] = int((time.monotonic() - started) * 1000)
            if record["error"] is None:
                self.pages += 1
            else:
                self.errors += 1
            self.out.write(json.dumps(record) + "\n")
            for link in links:
                self.enqueue(link, depth + 1, url)

    async def run(self):
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        headers = {"User-Agent": USER_AGENT}
        async with aiohttp.ClientSession(connector=connector, headers=headers,
                                         timeout=self.timeout) as session:
            self.session = session
            await self.load_robots(session)
            self.enqueue_seed()
            while self.tasks:
                await asyncio.gather(*list(self.tasks))

    def enqueue_seed(self):
        task = asyncio.ensure_future(self.crawl(self.seed, 0, None))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("url")
    p.add_argument("--concurrency", "-c", type=int, default=16)
    p.add_argument("--out", "-o", required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args()
    started = time.monotonic()
    with open(args.out, "w", encoding="utf-8") as out:
        crawler = Crawler(args.url, args.concurrency, out, args.timeout)
        asyncio.run(crawler.run())
    secs = time.monotonic() - started
    total = crawler.pages + crawler.errors
    print(f"{total} records ({crawler.pages} ok, {crawler.errors} errors) in {secs:.2f}s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
