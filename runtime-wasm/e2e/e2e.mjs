// End-to-end test of the demo page in headless Chromium.
//
// Serves, on 127.0.0.1, a generated site (/site/, with a robots.txt that
// disallows /site/private/) and the built demo (runtime-wasm/www, with pkg/)
// under /demo/; a second server on another host name plays the off-site
// target. Opens /demo/index.html?autostart=1 with playwright-core driving the
// system Chromium, waits (with a deadline) for window.semcrawlSummary and
// asserts: every reachable page fetched once and recorded once, nothing
// disallowed or off-site fetched, at most `concurrency` requests in flight
// (counted by the server and by the crawler), the byte budget held.
// Then downloads the records as JSONL, and runs a second crawl stopped with
// the Stop button, and checks that bad options are reported. Screenshots (mid-crawl, at the end, after the stop), the
// summary and the records go to test-output/wasm/.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const www = path.join(root, 'runtime-wasm/www');
const out = path.join(root, 'test-output/wasm');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PAGES = 30; // p1..p30, plus index.html
const CONCURRENCY = 3;
const LATENCY_MS = 120; // per page, in two halves: head, then the rest of the body
const DEADLINE_MS = 90_000;

function log(...args) { console.log('[e2e]', ...args); }

// ---- the generated site ---------------------------------------------------
function sitePages(offsiteBase) {
  const pages = new Map();
  const link = (href, text) => `<a href="${href}">${text}</a>`;
  const nav = link('index.html', 'home');
  const filler = '<p>' + 'The quick brown fox jumps over the lazy dog. '.repeat(60) + '</p>';
  pages.set('/site/index.html', `<!doctype html><html lang="en"><head><title>Test site home</title>
    <meta name="description" content="the home page"></head><body><h1>Home</h1>
    ${link('p1.html', 'first')} ${link('p2.html', 'second')} ${link('p3.html', 'third')}
    ${link('private/secret.html', 'secret')} ${link(`${offsiteBase}/offsite.html`, 'elsewhere')}
    ${link('missing.html', 'missing')} ${filler}</body></html>`);
  for (let i = 1; i <= PAGES; i++) {
    // A tree (i -> 3i+1..3i+3) plus back-links and cross-links: every page
    // is reachable, most are linked several times.
    const kids = [3 * i + 1, 3 * i + 2, 3 * i + 3].filter((j) => j <= PAGES);
    const links = [nav, ...kids.map((j) => link(`p${j}.html`, `page ${j}`)),
      link(`p${((i * 7) % PAGES) + 1}.html`, 'cross'), link(`./p${i}.html#self`, 'self')];
    if (i % 5 === 0) links.push(link(`${offsiteBase}/p${i}.html`, 'off-site'), link('/site/private/', 'private'));
    pages.set(`/site/p${i}.html`, `<!doctype html><html lang="en"><head><title>Page ${i}</title></head>
      <body><h1>Page ${i}</h1><nav>${links.join(' | ')}</nav>${filler}</body></html>`);
  }
  pages.set('/site/private/secret.html', '<title>secret</title>');
  return pages;
}

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.wasm': 'application/wasm', '.json': 'application/json', '.ts': 'text/plain' };

function startServer(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  fs.mkdirSync(out, { recursive: true });
  assert.ok(fs.existsSync(path.join(www, 'pkg/semcrawl_wasm_bg.wasm')), 'build first: scripts/wasm-build.sh');

  const offsiteHits = [];
  const offsite = await startServer((req, res) => { offsiteHits.push(req.url); res.end('off-site'); });
  const offsiteBase = `http://localhost:${offsite.address().port}`;
  const pages = sitePages(offsiteBase);

  const hits = new Map();
  let inFlight = 0;
  let maxInFlight = 0;
  const server = await startServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const p = decodeURIComponent(url.pathname);
    if (p === '/robots.txt' || p.startsWith('/site/')) {
      hits.set(p, (hits.get(p) || 0) + 1);
    }
    if (p === '/robots.txt') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('User-agent: *\nDisallow: /site/private/\n');
      return;
    }
    if (p.startsWith('/site/')) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await sleep(LATENCY_MS / 2);
        const body = pages.get(p);
        if (!body) {
          res.writeHead(404, { 'content-type': 'text/html' });
          res.end('<title>not found</title>');
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        const half = Math.floor(body.length / 2);
        res.write(body.slice(0, half));
        await sleep(LATENCY_MS / 2);
        res.end(body.slice(half));
      } finally {
        inFlight--;
      }
      return;
    }
    if (p === '/demo' || p.startsWith('/demo/')) {
      let file = path.join(www, p.slice('/demo'.length));
      if (!file.startsWith(www)) { res.writeHead(403).end(); return; }
      if (p.endsWith('/')) file = path.join(file, 'index.html');
      fs.readFile(file, (err, data) => {
        if (err) { res.writeHead(404).end('not found'); return; }
        res.writeHead(200, { 'content-type': MIME[path.extname(file)] || 'application/octet-stream' });
        res.end(data);
      });
      return;
    }
    res.writeHead(404).end('not found');
  });
  const origin = `http://127.0.0.1:${server.address().port}`;
  const seed = `${origin}/site/index.html`;
  log(`site and demo at ${origin}, off-site at ${offsiteBase}`);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'semcrawl-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 1000 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-default-apps', '--disable-extensions'],
  });
  const browserRequests = [];
  const consoleLines = [];
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('request', (r) => browserRequests.push(r.url()));
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    const query = new URLSearchParams({ seed, concurrency: String(CONCURRENCY), memory: '8MiB', autostart: '1' });
    const started = Date.now();
    await page.goto(`${origin}/demo/index.html?${query}`);

    // Mid-crawl: once a handful of pages are done, while others are in flight.
    await page.waitForFunction(() => Number(document.getElementById('pages').textContent) >= 8
      || window.semcrawlSummary || window.semcrawlError, null, { timeout: DEADLINE_MS });
    await page.screenshot({ path: path.join(out, 'demo-mid-crawl.png'), fullPage: true });
    const midPages = await page.$eval('#pages', (e) => Number(e.textContent));

    await page.waitForFunction(() => window.semcrawlSummary || window.semcrawlError, null,
      { timeout: Math.max(1000, DEADLINE_MS - (Date.now() - started)) });
    const loadToSummary = (Date.now() - started) / 1000;
    const error = await page.evaluate(() => window.semcrawlError);
    assert.equal(error, undefined, `the crawl failed: ${error}`);
    const summary = await page.evaluate(() => window.semcrawlSummary);
    const pre = JSON.parse(await page.$eval('#summary', (e) => e.textContent));
    await page.waitForTimeout(300); // let the last progress paint
    await page.screenshot({ path: path.join(out, 'demo-end.png'), fullPage: true });
    const rows = await page.$$eval('#records tbody tr', (trs) => trs.length);
    fs.writeFileSync(path.join(out, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    log('summary', JSON.stringify(summary));

    // ---- assertions -------------------------------------------------------
    assert.deepEqual(pre, summary, '<pre id="summary"> holds the summary');
    const reachable = PAGES + 1; // index + p1..p30
    assert.equal(summary.pages, reachable, 'every reachable page recorded without error');
    assert.equal(summary.errors, 1, 'missing.html is the one error record');
    assert.equal(summary.errorsByKind.http, 1);
    assert.equal(rows, reachable + 1, 'one table row per record');
    assert.equal(summary.interrupted, false);
    for (const p of pages.keys()) {
      const want = p.startsWith('/site/private/') ? 0 : 1;
      assert.equal(hits.get(p) || 0, want, `${p} fetched ${hits.get(p) || 0} times, expected ${want}`);
    }
    assert.equal(hits.get('/site/missing.html'), 1, 'missing.html fetched once');
    assert.equal(hits.get('/robots.txt'), 1, 'robots.txt fetched once');
    assert.equal([...hits.keys()].filter((p) => p.startsWith('/site/private')).length, 0, 'robots.txt obeyed');
    assert.deepEqual(offsiteHits, [], 'the off-site server was never contacted');
    const foreign = browserRequests.filter((u) => !u.startsWith(origin));
    assert.deepEqual(foreign, [], 'the browser requested nothing off-site');
    assert.ok(summary.maxInFlight <= CONCURRENCY, `maxInFlight ${summary.maxInFlight} <= ${CONCURRENCY}`);
    assert.ok(maxInFlight <= CONCURRENCY, `server saw ${maxInFlight} concurrent requests, limit ${CONCURRENCY}`);
    assert.ok(maxInFlight >= 2, `the crawl ran requests concurrently (server saw at most ${maxInFlight})`);
    assert.ok(summary.peakBytes > 0 && summary.peakBytes <= summary.budget, 'byte budget held');
    assert.equal(summary.budget, 8 * 1024 * 1024);

    // Download JSONL: one line per record, the same records.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const jsonl = fs.readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(jsonl.length, reachable + 1, 'one JSONL line per record');
    assert.equal(new Set(jsonl.map((r) => r.url)).size, jsonl.length, 'each URL recorded once');
    assert.equal(jsonl.filter((r) => r.error === null).length, reachable);
    assert.ok(jsonl.every((r) => r.url.startsWith(`${origin}/site/`)), 'only site pages recorded');
    fs.writeFileSync(path.join(out, 'records.jsonl'), jsonl.map((r) => JSON.stringify(r)).join('\n') + '\n');

    // Stop: a second crawl, stopped from the page after a few pages.
    const first = { serverMax: maxInFlight, seconds: loadToSummary };
    hits.clear();
    maxInFlight = 0;
    const stopQuery = new URLSearchParams({ seed, concurrency: '2', memory: '4MiB', autostart: '1' });
    await page.goto(`${origin}/demo/index.html?${stopQuery}`);
    await page.waitForFunction(() => Number(document.getElementById('pages').textContent) >= 4, null,
      { timeout: DEADLINE_MS });
    await page.click('#stop');
    await page.waitForFunction(() => window.semcrawlSummary || window.semcrawlError, null, { timeout: DEADLINE_MS });
    const stopped = await page.evaluate(() => window.semcrawlSummary);
    await page.waitForTimeout(300); // let the last progress paint
    await page.screenshot({ path: path.join(out, 'demo-stopped.png'), fullPage: true });
    log('stopped summary', JSON.stringify(stopped));
    assert.equal(stopped.interrupted, true, 'the Stop button interrupts the crawl');
    assert.ok(stopped.pages >= 4 && stopped.pages < reachable, `stopped after ${stopped.pages} pages`);
    assert.ok(stopped.maxInFlight <= 2 && maxInFlight <= 2, 'count gate of the second crawl');
    const stoppedRows = await page.$$eval('#records tbody tr', (trs) => trs.length);
    assert.equal(stoppedRows, stopped.pages + stopped.errors, 'every page started was recorded');
    assert.equal(await page.$eval('#status', (e) => e.textContent.startsWith('Stopped')), true);

    // Bad options: the page shows the core's message, naming the option.
    await page.goto(`${origin}/demo/index.html?${new URLSearchParams({ seed, memory: '1KiB', autostart: '1' })}`);
    await page.waitForFunction(() => window.semcrawlSummary || window.semcrawlError, null, { timeout: DEADLINE_MS });
    const badMessage = await page.evaluate(() => window.semcrawlError);
    assert.match(badMessage, /^invalid options: memory 1\.0 KiB is smaller than one page.*maxBody/);
    assert.equal(await page.$eval('#status', (e) => e.className.includes('error')), true);

    const wasm = fs.statSync(path.join(www, 'pkg/semcrawl_wasm_bg.wasm')).size;
    log(`PASS: ${summary.pages} pages + ${summary.errors} error in ${(summary.elapsedMs / 1000).toFixed(2)} s ` +
      `(page load to summary ${first.seconds.toFixed(2)} s), max in flight ${summary.maxInFlight} ` +
      `(server: ${first.serverMax}) of ${CONCURRENCY}, peak ${summary.peakBytes} of ${summary.budget} bytes, ` +
      `mid-crawl screenshot at ${midPages} pages; .wasm ${wasm} bytes`);
    log(`screenshots: ${['demo-mid-crawl.png', 'demo-end.png', 'demo-stopped.png']
      .map((f) => path.relative(root, path.join(out, f))).join(', ')}`);
  } catch (e) {
    console.error('[e2e] page console:\n  ' + consoleLines.join('\n  '));
    throw e;
  } finally {
    await context.close();
    server.close();
    offsite.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => { console.log('1 passed, 0 failed'); }, (e) => {
  console.error('[e2e] FAIL:', e && e.stack ? e.stack : e);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
