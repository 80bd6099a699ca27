// The semcrawl demo page: a form, a live view of the crawl, the records.
//
// Query parameters (for links and automation): seed, concurrency, memory,
// maxPages, maxBody, and autostart=1 to start at once. When a crawl ends,
// window.semcrawlSummary holds the summary and <pre id="summary"> its JSON;
// if it fails, window.semcrawlError holds the message.
import init, { crawl } from './pkg/semcrawl_wasm.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MAX_ROWS = 500; // rows kept in the table (all records go to the JSONL download)

const form = $('form');
const fields = {
  seed: $('seed'),
  concurrency: $('concurrency'),
  memory: $('memory'),
  maxPages: $('maxPages'),
};
fields.seed.value = params.get('seed') || new URL('./', location.href).href;
for (const name of ['concurrency', 'memory', 'maxPages']) {
  if (params.has(name)) fields[name].value = params.get(name);
}
const maxBody = params.get('maxBody') || '1MiB';

let lines = []; // JSONL of every record
let controller = null;

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(1)} ${units[i]}`;
}

function setStatus(text, kind = '') {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${kind}`;
}

function drawSlots(n) {
  const slots = $('slots');
  slots.replaceChildren(...Array.from({ length: Math.min(n, 64) }, () => {
    const s = document.createElement('span');
    s.className = 'slot';
    return s;
  }));
}

let maxSeen = 0;
function showProgress(p) {
  $('pages').textContent = p.pages;
  $('errors').textContent = p.errors;
  $('inflight').textContent = p.inFlight;
  maxSeen = Math.max(maxSeen, p.inFlight);
  $('inflightmax').textContent = `(max ${maxSeen})`;
  $('queued').textContent = p.queued;
  const secs = p.elapsedMs / 1000;
  $('elapsed').textContent = `${secs.toFixed(1)} s`;
  $('rate').textContent = secs > 0 ? ((p.pages + p.errors) / secs).toFixed(1) : '0.0';
  const share = p.budget > 0 ? p.bytesHeld / p.budget : 0;
  $('held').textContent = formatBytes(p.bytesHeld);
  $('budget').textContent = formatBytes(p.budget);
  $('fill').style.width = `${(100 * share).toFixed(2)}%`;
  $('fill').classList.toggle('high', share > 0.8);
  $('bar').setAttribute('aria-valuenow', (100 * share).toFixed(0));
  [...$('slots').children].forEach((s, i) => s.classList.toggle('busy', i < p.inFlight));
}

let peak = 0;
function showPeak(bytes, budget) {
  peak = Math.max(peak, bytes);
  $('peak').textContent = formatBytes(peak);
  $('peakmark').style.left = `${budget > 0 ? Math.min(100, (100 * peak) / budget) : 0}%`;
}

function addRecord(r) {
  lines.push(JSON.stringify(r));
  const tr = document.createElement('tr');
  tr.className = 'fresh';
  const status = r.error ? (r.status ?? r.error.kind) : r.status;
  const cls = r.error && !r.status ? 'serr' : `s${String(r.status ?? 0)[0]}`;
  const cells = [
    [lines.length, 'num'],
    [status, cls],
    [r.depth, 'num'],
    [r.url, 'url'],
    [r.error ? `⚠ ${r.error.message}` : (r.title ?? ''), 'title'],
    [r.bytes.toLocaleString(), 'num'],
    [r.elapsed_ms, 'num'],
  ];
  for (const [text, className] of cells) {
    const td = document.createElement('td');
    td.textContent = String(text);
    td.className = className;
    if (className === 'url' || className === 'title') td.title = String(text);
    tr.append(td);
  }
  const body = $('records').tBodies[0];
  body.prepend(tr);
  if (body.rows.length > MAX_ROWS) body.deleteRow(-1);
  $('recordcount').textContent = `(${lines.length})`;
}

function setRunning(running) {
  $('start').disabled = running;
  $('stop').disabled = !running;
  $('download').disabled = running || lines.length === 0;
  for (const input of Object.values(fields)) input.disabled = running;
}

async function start() {
  lines = [];
  maxSeen = 0;
  peak = 0;
  $('records').tBodies[0].replaceChildren();
  $('recordcount').textContent = '';
  $('summary').textContent = '(crawling…)';
  delete window.semcrawlSummary;
  delete window.semcrawlError;
  const concurrency = Number(fields.concurrency.value) || 4;
  drawSlots(concurrency);
  const options = {
    seeds: new URL(fields.seed.value.trim(), location.href).href,
    concurrency,
    memory: /^\d+$/.test(fields.memory.value.trim()) ? Number(fields.memory.value) : fields.memory.value,
    maxBody,
    progressMs: 100,
  };
  if (fields.maxPages.value) options.maxPages = Number(fields.maxPages.value);
  controller = new AbortController();
  options.signal = controller.signal;
  setRunning(true);
  setStatus(`Crawling ${options.seeds} …`);
  try {
    const summary = await crawl(options, addRecord, (p) => { showProgress(p); showPeak(p.bytesHeld, p.budget); });
    showPeak(summary.peakBytes, summary.budget);
    window.semcrawlSummary = summary;
    $('summary').textContent = JSON.stringify(summary, null, 2);
    const secs = (summary.elapsedMs / 1000).toFixed(2);
    setStatus(`${summary.interrupted ? 'Stopped' : 'Done'}: ${summary.pages} pages, ${summary.errors} error${summary.errors === 1 ? "" : "s"} in ${secs} s; ` +
      `at most ${summary.maxInFlight} in flight, peak ${formatBytes(summary.peakBytes)} of ${formatBytes(summary.budget)}.`, 'done');
  } catch (e) {
    const message = e && e.message ? e.message : String(e);
    window.semcrawlError = message;
    $('summary').textContent = '(no summary: the crawl did not run)';
    setStatus(message, 'error');
  } finally {
    controller = null;
    setRunning(false);
  }
}

function download() {
  const blob = new Blob(lines.map((l) => `${l}\n`), { type: 'application/x-ndjson' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'semcrawl.jsonl';
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

form.addEventListener('submit', (e) => { e.preventDefault(); start(); });
$('stop').addEventListener('click', () => {
  if (controller) {
    controller.abort();
    setStatus('Stopping: in-flight pages finish or are recorded as interrupted…');
  }
});
$('download').addEventListener('click', download);

setRunning(true);
try {
  await init();
  setRunning(false);
  setStatus('Ready. Only same-origin or CORS-enabled sites can be crawled from a page.');
  drawSlots(Number(fields.concurrency.value) || 4);
  if (params.get('autostart') === '1') start();
} catch (e) {
  window.semcrawlError = `could not load the crawler: ${e.message || e}`;
  setStatus(window.semcrawlError, 'error');
}
