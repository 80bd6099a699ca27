#!/usr/bin/env python3
"""A blog behind Python's ThreadingHTTPServer: the server of issue #13's report.

usage: blog-server.py PORT [POSTS]

What makes it hard for `--concurrency auto`, and why the sweep keeps it:

* a thread per request, all under one GIL: the server saturates early, and
  its accept loop competes with its handlers for the interpreter;
* the listen backlog is Python's default of 5 (`request_queue_size`): when
  the accept loop falls behind, the kernel drops new connections, and a
  client learns of it only by its own retransmissions (1 s, 3 s, ...) or
  its request timeout, long after the load that caused it;
* one post (`/post/37`) takes 2 s however idle the server is: latency that
  is no queue.

Pages: `/` and `/page/K` (index pages of 10 posts, linking to the next),
`/post/N` (its neighbours, its tag, home), `/tag/T` (20 tags, up to 50 posts
each). About 1,120 pages for 1,000 posts. Every second, and when it is
stopped with SIGTERM, the server prints "at most N in flight" (handler
threads at once) on stderr.
"""
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

POSTS = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
SLOW = {37}
TAGS = 20
lock = threading.Lock()
inflight = 0
most = 0


def page(title, links, words=600):
    body = " ".join(f"word{i}" for i in range(words))
    items = "".join(f'<li><a href="{h}">{t}</a></li>' for h, t in links)
    return (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><ul>{items}</ul><p>{body}</p></body></html>"
    ).encode()


def render(path):
    """The page at `path`, or None for a 404."""
    parts = path.split("/")
    if path == "/" or (len(parts) == 3 and parts[1] == "page"):
        k = 0 if path == "/" else int(parts[2])
        links = [(f"/post/{i}", f"post {i}") for i in range(k * 10, min(POSTS, k * 10 + 10))]
        if (k + 1) * 10 < POSTS:
            links.append((f"/page/{k + 1}", "older"))
        links += [(f"/tag/{t}", f"tag {t}") for t in range(TAGS)]
        return page(f"index {k}", links)
    if len(parts) == 3 and parts[1] == "post":
        i = int(parts[2])
        if not 0 <= i < POSTS:
            return None
        if i in SLOW:
            time.sleep(2)
        links = [(f"/post/{j}", f"post {j}") for j in (i - 1, i + 1) if 0 <= j < POSTS]
        links += [(f"/tag/{i % TAGS}", "tag"), ("/", "home")]
        return page(f"post {i}", links)
    if len(parts) == 3 and parts[1] == "tag":
        t = int(parts[2])
        links = [(f"/post/{i}", f"post {i}") for i in range(t, POSTS, TAGS)][:50]
        return page(f"tag {t}", links)
    return None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        global inflight, most
        with lock:
            inflight += 1
            most = max(most, inflight)
        try:
            try:
                body = render(self.path)
            except ValueError:
                body = None
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with lock:
                inflight -= 1


def report():
    print(f"at most {most} in flight", file=sys.stderr, flush=True)


def report_every_second():
    while True:
        time.sleep(1)
        report()


def stop(*_):
    report()
    os._exit(0)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
signal.signal(signal.SIGTERM, stop)
threading.Thread(target=report_every_second, daemon=True).start()
print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
server.serve_forever()
