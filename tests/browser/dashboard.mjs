// The dashboard (GET /) in a real browser: Debian's chromium driven by
// playwright-core (pinned in package-lock.json beside this file). Starts
// real fitd daemons itself (FITD_BIN), on free loopback ports with state
// directories of their own, and checks what a person would see:
//
//   - upload by file picker and by drag-and-drop, with the progress bar;
//     a dataset named <img src=x onerror=alert(1)> and HTML column names
//     shown as text (no dialog, no element injected);
//   - a job submitted from the page, whose leaderboard grows while it runs
//     without a reload, and whose best score is the API's;
//   - the job list is GET /v1/jobs;
//   - cancel from the page ends the job (the API says cancelled);
//   - the event stream resumes after the daemon is restarted (same state
//     directory, same port), without a reload;
//   - a model's importance, coefficients, predictions and explanations;
//   - a job of 5,000 trials renders in under 5 s (the figure is printed);
//   - with a token file: no token gets the prompt, a read-only token gets
//     no cancel button, a refused token is said so;
//   - no console error, page error or failed request besides those a phase
//     expects (a 401 before the token is given, refused connections while
//     the daemon restarts).
//
// Screenshots go to FITD_SCREENSHOT_DIR. Ends with "N passed, N failed".

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const FITD = process.env.FITD_BIN || "build/daemon/fitd";
const DATA = process.env.FITD_TEST_DATA || "tests/data";
const SHOTS = process.env.FITD_SCREENSHOT_DIR || ".";
const CHROMIUM = process.env.FITD_CHROMIUM || "/usr/bin/chromium";
const SCRATCH = existsSync("/dev/shm") ? "/dev/shm" : tmpdir(); // fsyncs cost nothing there
const TERMINAL = ["succeeded", "failed", "cancelled"];
const XSS = "<img src=x onerror=alert(1)>";

let passed = 0, failed = 0;
const cleanups = [];

function assert(cond, msg) {
	if (!cond)
		throw new Error("assertion failed: " + msg);
}

async function step(name, fn) {
	const t0 = Date.now();
	try {
		await fn();
		passed++;
		console.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
	} catch (e) {
		failed++;
		console.log(`FAIL ${name}: ${e.stack || e}`);
	}
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, timeout = 60000, every = 100) {
	const end = Date.now() + timeout;
	let last;
	while (Date.now() < end) {
		last = await fn();
		if (last)
			return last;
		await sleep(every);
	}
	throw new Error("timed out waiting for " + what + " (last: " + JSON.stringify(last) + ")");
}

// ---- a fitd process ----

class Daemon {
	constructor(args = [], token = null) {
		this.dir = mkdtempSync(join(SCRATCH, "fitd-browser-"));
		this.args = args;
		this.token = token;
		this.port = 0;
		this.log = [];
		cleanups.push(() => {
			this.kill();
			rmSync(this.dir, { recursive: true, force: true });
		});
	}
	start() {
		return new Promise((resolve, reject) => {
			const p = spawn(FITD, ["--listen", "127.0.0.1:" + this.port, "--state-dir", join(this.dir, "state"), ...this.args],
				{ stdio: ["ignore", "ignore", "pipe"] });
			this.proc = p;
			let buf = "";
			const timer = setTimeout(() => reject(new Error("fitd did not become ready")), 20000);
			p.stderr.on("data", (d) => {
				buf += d;
				let i;
				while ((i = buf.indexOf("\n")) >= 0) {
					const line = buf.slice(0, i);
					buf = buf.slice(i + 1);
					this.log.push(line);
					const m = /event=listening .*addr=\S*:(\d+)/.exec(line);
					if (m)
						this.port = Number(m[1]);
					if (line.includes("event=ready")) {
						clearTimeout(timer);
						resolve(this);
					}
				}
			});
			p.on("exit", (code) => {
				clearTimeout(timer);
				this.proc = null;
				reject(new Error("fitd exited: " + code + "\n" + this.log.slice(-5).join("\n")));
			});
		});
	}
	stop(sig = "SIGTERM") {
		const p = this.proc;
		if (!p)
			return Promise.resolve();
		return new Promise((r) => {
			p.on("exit", r);
			p.kill(sig);
		});
	}
	kill() {
		if (this.proc)
			this.proc.kill("SIGKILL");
	}
	get url() {
		return "http://127.0.0.1:" + this.port;
	}
	async req(method, path, body, headers = {}, token = this.token) {
		const hd = Object.assign({}, headers);
		if (token)
			hd.Authorization = "Bearer " + token;
		if (body !== undefined && typeof body !== "string" && !(body instanceof Buffer)) {
			body = JSON.stringify(body);
			hd["Content-Type"] = "application/json";
		}
		const res = await fetch(this.url + path, { method, headers: hd, body });
		const text = await res.text();
		let data = text;
		try {
			data = JSON.parse(text);
		} catch (_) { /* not JSON */ }
		return { status: res.status, headers: res.headers, body: data };
	}
	async ok(method, path, body, headers) {
		const r = await this.req(method, path, body, headers);
		assert(r.status >= 200 && r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
		return r.body;
	}
	upload(name, csv) {
		return this.ok("POST", "/v1/datasets?name=" + encodeURIComponent(name), csv, { "Content-Type": "text/csv" });
	}
	async waitJob(id, timeout = 90000) {
		return until("job " + id + " to end", async () => {
			const j = await this.ok("GET", "/v1/jobs/" + id);
			return TERMINAL.includes(j.state) ? j : null;
		}, timeout, 200);
	}
}

// ---- the page and what it reports ----

class Watch {
	constructor(page) {
		this.page = page;
		this.errors = [];
		this.dialogs = [];
		this.allow = []; // regexps of console errors and failures this phase expects
		page.on("console", (m) => {
			if (m.type() === "error")
				this.note("console: " + m.text() + " @ " + (m.location().url || ""));
		});
		page.on("pageerror", (e) => this.note("page error: " + e.message));
		page.on("requestfailed", (r) => {
			const why = r.failure() ? r.failure().errorText : "";
			if (why !== "net::ERR_ABORTED") // a view that closes aborts its stream on purpose
				this.note("request failed: " + r.method() + " " + r.url() + " " + why);
		});
		page.on("dialog", async (d) => {
			this.dialogs.push(d.type() + ": " + d.message());
			if (d.type() === "confirm")
				await d.accept();
			else
				await d.dismiss();
		});
	}
	note(text) {
		if (!this.allow.some((re) => re.test(text)))
			this.errors.push(text);
	}
	clean(what) {
		assert(this.errors.length === 0, what + ": " + this.errors.join("\n"));
	}
}

async function shot(page, name) {
	await page.screenshot({ path: join(SHOTS, name), fullPage: true });
	console.log("     screenshot " + join(SHOTS, name));
}

async function text(page, sel) {
	return page.locator(sel).first().textContent();
}

// ---- the checks ----

async function main() {
	const iris = readFileSync(join(DATA, "iris.csv"));
	const seed = readFileSync(join(DATA, "seed_linear.csv"));
	const d = await new Daemon().start();
	const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
	cleanups.unshift(() => browser.close());
	const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
	const page = await ctx.newPage();
	const w = new Watch(page);
	page.setDefaultTimeout(30000);

	// The 5,000-trial job runs on a daemon of its own from the start, while the other steps go on.
	const b = await new Daemon().start();
	const seedDs = await b.upload("seed_linear", seed);
	const big = await b.ok("POST", "/v1/jobs", { dataset: seedDs.id, target: "y", early_stopping: false,
		validation: { method: "holdout", fraction: 0.2 },
		space: { models: ["linear"], optimizer: ["lbfgs"], epochs: 5, regularization: ["l2"],
			penalty: { min: 1e-6, max: 10, log: true }, loss: ["squared"] },
		search: { max_trials: 5000, algorithm: "random", ensemble: false } });

	await step("GET / serves the page with its headers, gzipped when asked", async () => {
		const r = await fetch(d.url + "/", { headers: { "Accept-Encoding": "gzip" } });
		assert(r.status === 200, "status " + r.status);
		assert(r.headers.get("content-security-policy").startsWith("default-src 'self'"), "CSP");
		assert(r.headers.get("cache-control") === "no-cache" && r.headers.get("etag"), "cache headers");
		const raw = await d.req("GET", "/dash/app.js", undefined, { "If-None-Match": r.headers.get("etag") });
		assert(raw.status === 200, "another file's ETag is not this one's");
		const again = await d.req("GET", "/", undefined, { "If-None-Match": r.headers.get("etag") });
		assert(again.status === 304, "If-None-Match: " + again.status);
		const gz = await fetch(d.url + "/dash/app.js", { headers: { "Accept-Encoding": "gzip" } });
		assert(gz.headers.get("content-type").startsWith("text/javascript"), "js type");
	});

	let xssId;
	await step("upload by file picker with progress; a dataset named like HTML renders as text", async () => {
		await page.goto(d.url + "/#/datasets");
		await page.fill("#upload-name", XSS);
		await page.setInputFiles("#upload-file", { name: "iris.csv", mimeType: "text/csv", buffer: iris });
		await page.waitForSelector("#upload-status:has-text('Uploaded')");
		assert(await page.locator("#upload-progress").evaluate((p) => p.value === 1 && !p.hidden), "progress bar full");
		const names = await until("the table's row", async () => {
			const n = await page.locator("#datasets-table .ds-name").allTextContents();
			return n.includes(XSS) && n;
		}, 10000);
		assert(names.includes(XSS), "name shown as text: " + JSON.stringify(names));
		assert(await page.locator("img[src='x']").count() === 0, "no injected img");
		const list = await d.ok("GET", "/v1/datasets");
		xssId = list.items.find((x) => x.name === XSS).id;
		await shot(page, "dash-datasets.png");
	});

	await step("drag and drop uploads; HTML in column names renders as text", async () => {
		const csv = '<b>bold</b>,"<script>alert(2)</script>",<img src=y onerror=alert(3)>,y\n1.5,a,b,x\n2.5,c,d,z\n3.5,a,d,x\n';
		await page.evaluate((body) => {
			const dt = new DataTransfer();
			dt.items.add(new File([body], "html_cols.csv", { type: "text/csv" }));
			document.querySelector("#drop").dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
		}, csv);
		await page.waitForSelector("#upload-status:has-text('Uploaded html_cols')");
		const ds = (await d.ok("GET", "/v1/datasets")).items.find((x) => x.name === "html_cols");
		assert(ds, "dropped file stored");
		await page.goto(d.url + "/#/datasets/" + ds.id);
		await page.waitForSelector("#columns-table");
		const cols = await page.locator("#columns-table .col-name").allTextContents();
		assert(JSON.stringify(cols) === JSON.stringify(["<b>bold</b>", "<script>alert(2)</script>", "<img src=y onerror=alert(3)>", "y"]), JSON.stringify(cols));
		assert(await page.locator("main b, main script, img[src='y']").count() === 0, "no injected element");
		await shot(page, "dash-dataset-columns.png");
		await page.goto(d.url + "/#/datasets");
		await page.click(`#datasets-table tr[data-id='${ds.id}'] button.danger`); // the confirm() is accepted
		await until("the deletion", async () => !(await d.ok("GET", "/v1/datasets")).items.some((x) => x.id === ds.id), 10000);
		await until("the row to go", async () => (await page.locator(`#datasets-table tr[data-id='${ds.id}']`).count()) === 0, 10000);
		assert(w.dialogs.length === 1 && w.dialogs[0].startsWith("confirm: Delete dataset html_cols"), w.dialogs.join());
		w.dialogs = [];
		await page.goto(d.url + "/#/datasets/" + xssId);
		await until("the dataset's page", async () => (await page.locator("h1 .ds-name").count()) &&
			(await text(page, "h1 .ds-name")) === XSS, 10000);
		assert(await page.locator("img[src='x']").count() === 0, "no injected img");
		assert(w.dialogs.length === 0, "no dialog: " + w.dialogs.join(", "));
		w.clean("datasets");
	});

	let liveJob;
	await step("a job submitted from the page: the leaderboard grows live, best equals the API's", async () => {
		const irisDs = await d.upload("iris", iris);
		await page.goto(d.url + "/#/new?dataset=" + irisDs.id);
		await page.waitForSelector("#f-spec");
		await page.selectOption("#f-target", "species");
		assert((await text(page, "#f-inferred")).includes("classification"), "task inferred");
		await page.fill("#f-trials", "20");
		const spec = JSON.parse(await page.inputValue("#f-spec"));
		assert(spec.dataset === irisDs.id && spec.target === "species" && spec.search.max_trials === 20, JSON.stringify(spec));
		// The spec is sent as it stands in the text area: edit it there.
		spec.space = { models: ["mlp", "logistic"] };
		// Enough trials that the job still runs once the page has drawn its
		// leaderboard on a busy machine (twenty took about two seconds).
		spec.search = { max_trials: 200, parallel_trials: 1, seed: 3 };
		spec.validation = { method: "cv", folds: 3 };
		delete spec.metric;
		await page.fill("#f-spec", JSON.stringify(spec, null, 2));
		await shot(page, "dash-new-job.png");
		await page.click("#f-submit");
		await page.waitForURL(/#\/jobs\/job_/);
		liveJob = page.url().split("#/jobs/")[1];
		const stored = await d.ok("GET", "/v1/jobs/" + liveJob);
		assert(JSON.stringify(stored.spec.space.models.slice().sort()) === JSON.stringify(["logistic", "mlp"]) &&
			stored.spec.search.seed === 3, "spec as edited: " + JSON.stringify(stored.spec));
		await page.waitForSelector("#leaderboard[data-ready='1']");
		await page.evaluate(() => { window.__noReload = 1; });
		const first = Number(await page.locator("#leaderboard").getAttribute("data-count"));
		await until("the leaderboard to grow", async () =>
			Number(await page.locator("#leaderboard").getAttribute("data-count")) > first + 2, 60000);
		const job = await d.waitJob(liveJob);
		assert(job.state === "succeeded", job.state);
		await until("the page to show the end", async () => (await text(page, "#job-state")) === "succeeded" &&
			(await page.locator("#leaderboard").getAttribute("data-count")) === String(job.progress.trials_done), 20000);
		assert(await page.evaluate(() => window.__noReload === 1), "no reload");
		const top = (await d.ok("GET", "/v1/jobs/" + liveJob + "/trials?limit=1")).items[0];
		const pageTop = await page.locator("#leaderboard tbody tr").first().getAttribute("data-score");
		assert(Number(pageTop) === top.score, `leaderboard top ${pageTop} vs API ${top.score}`);
		await until("the final best", async () => Number(await page.locator("#job-best").getAttribute("data-score")) === job.best.score, 10000);
		await shot(page, "dash-job.png");
		w.clean("live job");
	});

	await step("a model: importance, predictions with explanations as the API's", async () => {
		const job = await d.ok("GET", "/v1/jobs/" + liveJob);
		await page.click("#job-model");
		await page.waitForSelector("#importance");
		const m = await d.ok("GET", "/v1/models/" + job.best.model_id);
		assert(await page.locator("#importance .barrow").count() === m.importance.length, "a bar per column");
		const rows = "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n";
		await page.fill("#predict-csv", rows);
		await page.click("#predict-go");
		await page.waitForSelector("#predictions");
		const api = await d.ok("POST", "/v1/models/" + job.best.model_id + "/predict", rows, { "Content-Type": "text/csv" });
		const shown = await page.locator("#predictions .pred").allTextContents();
		assert(JSON.stringify(shown) === JSON.stringify(api.predictions), JSON.stringify(shown));
		assert((await text(page, "#predictions tbody tr")).includes("bias"), "explained");
		const [download] = await Promise.all([page.waitForEvent("download"), page.click("#model-download")]);
		assert(download.suggestedFilename() === job.best.model_id + ".json", download.suggestedFilename());
		const saved = JSON.parse(readFileSync(await download.path(), "utf8"));
		assert(JSON.stringify(saved) === JSON.stringify(m), "the downloaded model is the API's");
		await shot(page, "dash-model.png");
		w.clean("model");
	});

	await step("the job list is GET /v1/jobs", async () => {
		await page.goto(d.url + "/#/jobs");
		await page.waitForSelector("#jobs-table");
		const api = (await d.ok("GET", "/v1/jobs?limit=1000")).items;
		const shown = await page.locator("#jobs-table tbody tr").evaluateAll((rs) => rs.map((r) => r.dataset.id + " " + r.dataset.state));
		const want = api.map((j) => j.id + " " + j.state).reverse();
		assert(JSON.stringify(shown) === JSON.stringify(want), JSON.stringify({ shown, want }));
		await page.selectOption("#state-filter", "succeeded");
		await page.waitForURL(/state=succeeded/);
		await until("the filter", async () => (await page.locator("#jobs[data-count]").count()) &&
			(await page.locator("#jobs-table tbody tr").evaluateAll((rs) => rs.every((r) => r.dataset.state === "succeeded"))));
		await shot(page, "dash-jobs.png");
		w.clean("jobs");
	});

	await step("cancel from the page ends the job", async () => {
		const irisId = (await d.ok("GET", "/v1/datasets?limit=1000")).items.find((x) => x.name === "iris").id;
		const long = await d.ok("POST", "/v1/jobs", { dataset: irisId, target: "species", space: { models: ["mlp"] },
			search: { max_trials: 500, parallel_trials: 1 } });
		await page.goto(d.url + "/#/jobs/" + long.id);
		await page.waitForSelector(".cancel");
		await page.click(".cancel");
		const job = await d.waitJob(long.id, 30000);
		assert(job.state === "cancelled", job.state);
		await until("the page to say cancelled", async () => (await text(page, "#job-state")) === "cancelled", 15000);
		assert(await page.locator(".cancel").count() === 0, "no cancel button once ended");
		w.clean("cancel");
	});

	await step("the stream resumes after the daemon restarts (same state, same port), no reload", async () => {
		const irisId = (await d.ok("GET", "/v1/datasets?limit=1000")).items.find((x) => x.name === "iris").id;
		const job = await d.ok("POST", "/v1/jobs", { dataset: irisId, target: "species", space: { models: ["mlp"] },
			validation: { method: "cv", folds: 5 }, search: { max_trials: 16, parallel_trials: 1, seed: 5 } });
		await page.goto(d.url + "/#/jobs/" + job.id);
		await page.waitForSelector("#leaderboard[data-ready='1']");
		await page.evaluate(() => { window.__noReload = 2; });
		await until("two trials", async () => Number(await page.locator("#leaderboard").getAttribute("data-count")) >= 2, 60000);
		w.allow = [/ERR_CONNECTION_REFUSED/, /ERR_EMPTY_RESPONSE/, /ERR_CONNECTION_RESET/, /503/, /ERR_INCOMPLETE_CHUNKED_ENCODING/];
		await d.stop();
		await until("the page to notice", async () => (await text(page, "#stream-state")) === "reconnecting", 15000);
		await sleep(1500);
		await d.start(); // the same port: d.port was learnt at the first start
		const done = await d.waitJob(job.id);
		assert(done.state === "succeeded", done.state);
		await until("the page to catch up", async () => (await text(page, "#job-state")) === "succeeded" &&
			(await page.locator("#leaderboard").getAttribute("data-count")) === String(done.progress.trials_done), 30000);
		assert(await page.evaluate(() => window.__noReload === 2), "no reload");
		await until("the banner to clear", async () => page.locator("#banner").isHidden(), 10000);
		w.allow = [];
		w.errors = [];
	});

	await step("a job of 5,000 trials renders in under a second (bound 5 s)", async () => {
		const job = await b.waitJob(big.id, 100000);
		assert(job.state === "succeeded" && job.progress.trials_done === 5000, JSON.stringify(job.progress));
		await page.goto("about:blank");
		const t0 = Date.now();
		await page.goto(b.url + "/#/jobs/" + big.id);
		await page.waitForSelector("#leaderboard[data-ready='1']");
		const ms = Date.now() - t0;
		await page.waitForSelector("#leaderboard[data-complete='1']");
		const all = Date.now() - t0;
		const lb = page.locator("#leaderboard");
		const [inPage, fetch, since, complete, count] = await Promise.all(["data-load-ms", "data-fetch-ms", "data-done-at",
			"data-complete-at", "data-count"].map((a) => lb.getAttribute(a)));
		console.log(`     5,000-trial job: leaderboard drawn ${ms} ms after page.goto (in the page: ${since} ms after the ` +
			`navigation began; ${fetch} ms fetching the job and the first 1,000 trials, ${inPage - fetch} ms drawing); ` +
			`all 5,000 trials and the charts ${all} ms after page.goto (${complete} ms after the navigation began)`);
		assert(count === "5000", "trials shown " + count);
		assert(ms < 5000 && all < 5000, "took " + ms + " and " + all + " ms");
		const top = (await b.ok("GET", "/v1/jobs/" + big.id + "/trials?limit=1")).items[0];
		assert(Number(await page.locator("#leaderboard tbody tr").first().getAttribute("data-score")) === top.score, "top row");
		// Responsive while the replayed stream (10,000 events) is applied: a click answers at once.
		const t1 = Date.now();
		await page.locator("#leaderboard tbody tr button").first().click();
		await page.waitForSelector("#trial-detail:not([hidden]) h2");
		const click = Date.now() - t1;
		console.log(`     a trial's detail opened in ${click} ms while the stream's 10,000 events were replayed`);
		assert(click < 2000, "the page is busy: " + click + " ms");
		await until("stream replay", async () => (await text(page, "#stream-state")) === "ended", 30000);
		assert(Number(await page.locator("#leaderboard").getAttribute("data-count")) === 5000, "still 5000");
		await shot(page, "dash-job-5000.png");
		// A linear model: its coefficients are shown.
		await page.goto(b.url + "/#/models/" + job.best.model_id);
		await page.waitForSelector("#coefficients");
		w.clean("5,000 trials");
	});

	await step("200% zoom: the job page has no horizontal scroll", async () => {
		const small = await ctx.newPage();
		await small.setViewportSize({ width: 640, height: 450 });
		const ws = new Watch(small);
		await small.goto(d.url + "/#/jobs/" + liveJob);
		await small.waitForSelector("#leaderboard[data-ready='1']");
		const over = await small.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		assert(over <= 1, "overflows by " + over + " px");
		await small.keyboard.press("Tab");
		assert(await small.evaluate(() => document.activeElement.className) === "skip", "Tab reaches the skip link first");
		await small.keyboard.press("Enter");
		assert(await small.evaluate(() => document.activeElement.id) === "main" && small.url().endsWith("#/jobs/" + liveJob),
			"the skip link focuses the content and keeps the route");
		for (let i = 0; i < 4; i++)
			await small.keyboard.press("Tab");
		assert(await small.evaluate(() => document.activeElement.closest("#leaderboard, #job-head") !== null),
			"Tab walks into the job's controls: " + await small.evaluate(() => document.activeElement.outerHTML.slice(0, 80)));
		await shot(small, "dash-job-narrow.png");
		ws.clean("narrow");
		await small.close();
	});

	await step("tokens: none gets the prompt, a read-only one gets no cancel button, a wrong one is refused", async () => {
		const ro = "ro-" + createHash("sha256").update(String(Math.random())).digest("hex").slice(0, 24);
		const rw = "rw-" + createHash("sha256").update(String(Math.random())).digest("hex").slice(0, 24);
		const dir = mkdtempSync(join(SCRATCH, "fitd-tokens-"));
		cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
		const file = join(dir, "tokens");
		const sha = (t) => createHash("sha256").update(t).digest("hex");
		writeFileSync(file, `${sha(ro)} read viewer\n${sha(rw)} read,write ci\n`);
		const t = await new Daemon(["--token-file", file], rw).start();
		const ds = await t.upload("iris", iris);
		const job = await t.ok("POST", "/v1/jobs", { dataset: ds.id, target: "species", space: { models: ["mlp"] },
			search: { max_trials: 500, parallel_trials: 1 } });

		const c1 = await browser.newContext({ viewport: { width: 1100, height: 800 } });
		const p1 = await c1.newPage();
		const w1 = new Watch(p1);
		w1.allow = [/status of 401/];
		await p1.goto(t.url + "/#/jobs/" + job.id);
		await p1.waitForSelector("#token-dialog[open]");
		await shot(p1, "dash-token-prompt.png");
		await p1.fill("#token-input", "not-a-token");
		await p1.press("#token-input", "Enter");
		await until("the refusal", async () => (await text(p1, "#token-why")).includes("refused"), 10000);
		await p1.fill("#token-input", ro);
		await p1.click("#token-ok");
		await p1.waitForSelector("#leaderboard[data-ready='1']");
		assert((await text(p1, "#who")).includes("viewer"), "the token's name shown");
		const state = (await t.ok("GET", "/v1/jobs/" + job.id)).state;
		assert(!TERMINAL.includes(state), "the job is live: " + state);
		await sleep(500);
		assert(await p1.locator(".cancel").count() === 0, "read-only: no cancel button");
		await shot(p1, "dash-readonly-job.png");
		await p1.goto(t.url + "/#/new");
		await p1.waitForSelector("#f-spec");
		assert(!(await p1.locator("#f-submit").isVisible()), "read-only: no submit button");
		w1.clean("read-only");

		const c2 = await browser.newContext();
		await c2.addInitScript((tok) => sessionStorage.setItem("fitd.token", tok), rw);
		const p2 = await c2.newPage();
		const w2 = new Watch(p2);
		await p2.goto(t.url + "/#/jobs/" + job.id);
		await p2.waitForSelector(".cancel");
		assert(await p2.locator("#token-dialog[open]").count() === 0, "no prompt with a token");
		await p2.click(".cancel");
		assert((await t.waitJob(job.id, 30000)).state === "cancelled", "cancelled with the write token");
		w2.clean("read-write");
		await c1.close();
		await c2.close();
		await t.stop();
	});

	w.clean("the whole run");
}

try {
	await main();
} catch (e) {
	failed++;
	console.log("FAIL setup: " + (e.stack || e));
} finally {
	for (const c of cleanups.reverse()) {
		try {
			await c();
		} catch (_) { /* best effort */ }
	}
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
