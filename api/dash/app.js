// fitd's dashboard: one page, plain JavaScript, served by the daemon itself
// (api/dash.c). It speaks only the public v1 contract, like any client.
//
// Rules kept throughout: every string that comes from the API (names of
// datasets, columns, levels, error messages) reaches the page as text
// (Node.textContent, or a string handed to append()), never as HTML; the
// token lives in sessionStorage and goes out as "Authorization: Bearer";
// live views batch their DOM work into one animation frame and decimate
// what they draw, so a job of thousands of trials stays responsive.

"use strict";

const TOKEN_KEY = "fitd.token";
const TERMINAL = ["succeeded", "failed", "cancelled"];
const LOWER_IS_BETTER = ["log_loss", "rmse", "mae"];
const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"];
const FAMILIES = {
	classification: ["logistic", "svm", "mlp", "gbdt"],
	regression: ["linear", "mlp", "gbdt"],
};
const METRICS = {
	classification: ["accuracy", "balanced_accuracy", "f1", "log_loss", "auc"],
	regression: ["rmse", "mae", "r2"],
};

// ---- DOM helpers: text only ----

// h("tag", {attrs}, ...children): children that are not Nodes become text nodes.
function h(tag, attrs, ...kids) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === "class")
			el.className = v;
		else if (k.startsWith("on"))
			el.addEventListener(k.slice(2), v);
		else if (k === "data")
			Object.assign(el.dataset, v);
		else if (k === "value" || k === "checked" || k === "selected" || k === "disabled")
			el[k] = v;
		else
			el.setAttribute(k, v === true ? "" : String(v));
	}
	for (const c of kids.flat(Infinity))
		if (c !== null && c !== undefined && c !== false)
			el.append(c instanceof Node ? c : String(c));
	return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

function fmt(x, digits = 4) {
	if (x === null || x === undefined || Number.isNaN(x))
		return "–";
	if (typeof x !== "number")
		return String(x);
	if (Number.isInteger(x))
		return x.toLocaleString("en");
	const a = Math.abs(x);
	if (a !== 0 && (a < 1e-3 || a >= 1e6))
		return x.toExponential(2);
	return x.toFixed(digits);
}

function fmtTime(iso) {
	return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "–";
}

function fmtBytes(n) {
	const u = ["B", "KB", "MB", "GB"];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) {
		n /= 1024;
		i++;
	}
	return (i ? n.toFixed(1) : n) + " " + u[i];
}

function table(caption, heads, rows, attrs) {
	return h("div", { class: "scroll" },
		h("table", attrs || {},
			caption ? h("caption", {}, caption) : null,
			h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))),
			h("tbody", {}, rows)));
}

// ---- access: the token and the API ----

let token = sessionStorage.getItem(TOKEN_KEY);
let scopes = null; // from GET /v1/whoami
let tokenPrompt = null;

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

function canWrite() {
	return scopes !== null && scopes.includes("write");
}

// Shows the token dialog; resolves once a token was given.
function askToken(why) {
	if (tokenPrompt)
		return tokenPrompt;
	tokenPrompt = new Promise((resolve) => {
		const dlg = $("#token-dialog"), input = $("#token-input");
		$("#token-why").textContent = why;
		input.value = "";
		const done = () => {
			const v = input.value.trim();
			if (!v)
				return;
			token = v;
			sessionStorage.setItem(TOKEN_KEY, v);
			dlg.close();
			tokenPrompt = null;
			resolve();
		};
		$("#token-ok").onclick = done;
		input.onkeydown = (e) => {
			if (e.key === "Enter") {
				e.preventDefault();
				done();
			}
		};
		dlg.oncancel = (e) => e.preventDefault(); // the page cannot work without it
		if (!dlg.open)
			dlg.showModal();
		input.focus();
	});
	return tokenPrompt;
}

function authHeaders(extra) {
	const hd = Object.assign({}, extra);
	if (token)
		hd.Authorization = "Bearer " + token;
	return hd;
}

async function errorOf(res) {
	const text = await res.text();
	let code = "http_" + res.status, message = text || res.statusText;
	try {
		const e = JSON.parse(text).error;
		code = e.code;
		message = e.message;
	} catch (_) { /* not the JSON error */ }
	return new ApiError(res.status, code, message);
}

// One API call; a 401 asks for a token and tries again. Other errors throw ApiError.
async function api(method, path, opts = {}) {
	for (;;) {
		const headers = authHeaders(opts.headers);
		let body = opts.body;
		if (body !== undefined && typeof body !== "string") {
			body = JSON.stringify(body);
			headers["Content-Type"] = "application/json";
		}
		const res = await fetch(path, { method, headers, body, signal: opts.signal });
		if (res.status === 401) {
			const err = await errorOf(res);
			await askToken((token ? "The token was refused: " : "fitd needs a token: ") + "401 " + err.code + ", " + err.message);
			await loadWho();
			continue;
		}
		if (!res.ok)
			throw await errorOf(res);
		return opts.text ? res.text() : res.json();
	}
}

// Every item of a paginated list (?limit=1000&after=…).
async function listAll(path, signal) {
	const items = [];
	let after = null;
	for (;;) {
		const sep = path.includes("?") ? "&" : "?";
		const page = await api("GET", path + sep + "limit=1000" +
			(after ? "&after=" + encodeURIComponent(after) : ""), { signal });
		items.push(...page.items);
		if (!page.next_after)
			return items;
		after = page.next_after;
	}
}

async function loadWho() {
	const who = await api("GET", "/v1/whoami");
	scopes = who.scopes;
	const el = $("#who");
	el.textContent = who.tokens_required ? "token " + who.token + " (" + who.scopes.join(", ") + ")" : "";
	$("#forget").hidden = !who.tokens_required;
	document.body.classList.toggle("readonly", !canWrite());
}

function showError(err, where) {
	const b = $("#banner");
	const what = err instanceof ApiError
		? (err.status === 403 ? "Not allowed (403 " + err.code + "): "
			: err.status === 401 ? "Not signed in (401): "
				: "Error " + err.status + " " + err.code + ": ") + err.message
		: "Error: " + (err && err.message ? err.message : String(err));
	b.textContent = (where ? where + ": " : "") + (err instanceof TypeError ? "fitd cannot be reached (" + err.message + "); retrying" : what);
	b.hidden = false;
	// A network failure (fitd restarting) clears itself once an answer comes back.
	if (err instanceof TypeError || (err instanceof ApiError && err.status === 503))
		b.dataset.transient = "1";
	else
		delete b.dataset.transient;
}

function clearError() {
	$("#banner").hidden = true;
	delete $("#banner").dataset.transient;
}

// ---- the view's lifetime: timers and streams stop when the view changes ----

class View {
	constructor() {
		this.ctl = new AbortController();
		this.timers = [];
	}
	get signal() {
		return this.ctl.signal;
	}
	get live() {
		return !this.ctl.signal.aborted;
	}
	every(ms, fn) {
		const tick = async () => {
			if (!this.live)
				return;
			try {
				await fn();
				if ($("#banner").dataset.transient)
					clearError(); // the daemon answers again
			} catch (e) {
				if (this.live && e.name !== "AbortError")
					showError(e);
			}
			if (this.live)
				this.timers.push(setTimeout(tick, ms));
		};
		this.timers.push(setTimeout(tick, ms));
	}
	close() {
		this.ctl.abort();
		this.timers.forEach(clearTimeout);
	}
}

// ---- datasets ----

async function viewDatasets(view) {
	const list = h("div", { id: "datasets" });
	const progress = h("progress", { id: "upload-progress", max: 1, value: 0, hidden: true });
	const status = h("p", { id: "upload-status", role: "status" });
	const file = h("input", { type: "file", id: "upload-file", accept: ".csv,.tsv,.txt,text/csv" });
	const name = h("input", { type: "text", id: "upload-name", placeholder: "from the file's name" });
	const drop = h("div", { class: "drop", id: "drop", tabindex: "0", role: "button", "aria-describedby": "upload-status",
		onkeydown: (e) => {
			if (e.key === "Enter" || e.key === " ") {
				e.preventDefault();
				file.click();
			}
		} }, "Drop a CSV file here, or press Enter to choose one");

	async function refresh() {
		const items = await listAll("/v1/datasets", view.signal);
		const rows = items.slice().reverse().map((d) => h("tr", { data: { id: d.id } },
			h("td", {}, h("a", { href: "#/datasets/" + d.id, class: "ds-name" }, d.name)),
			h("td", { class: "num" }, fmt(d.rows)),
			h("td", { class: "num" }, fmt(d.cols !== undefined ? d.cols : d.columns.length)),
			h("td", { class: "num" }, fmtBytes(d.bytes)),
			h("td", {}, fmtTime(d.created_at)),
			h("td", {}, h("a", { href: "#/new?dataset=" + d.id, class: "write" }, "New job"), " ",
				h("button", { type: "button", class: "write danger", "aria-label": "Delete dataset " + d.name,
					onclick: () => remove(d) }, "Delete"))));
		list.replaceChildren(items.length ? table("Datasets", ["Name", "Rows", "Columns", "Size", "Created", ""], rows,
			{ id: "datasets-table" }) : h("p", {}, "No dataset yet: upload a table."));
	}

	async function remove(d) {
		if (!confirm("Delete dataset " + d.name + "?"))
			return;
		try {
			await api("DELETE", "/v1/datasets/" + d.id);
			clearError();
		} catch (e) {
			showError(e, "Delete");
		}
		await refresh();
	}

	function upload(f) {
		const n = name.value.trim() || f.name.replace(/\.(csv|tsv|txt)(\.gz)?$/i, "") || "table";
		const xhr = new XMLHttpRequest();
		xhr.open("POST", "/v1/datasets?name=" + encodeURIComponent(n));
		const type = /\.tsv(\.gz)?$/i.test(f.name) ? "text/tab-separated-values" : "text/csv";
		xhr.setRequestHeader("Content-Type", type);
		if (token)
			xhr.setRequestHeader("Authorization", "Bearer " + token);
		progress.hidden = false;
		progress.value = 0;
		status.textContent = "Uploading " + f.name + "…";
		xhr.upload.onprogress = (e) => {
			if (e.lengthComputable)
				progress.value = e.loaded / e.total;
		};
		xhr.onload = async () => {
			progress.value = 1;
			let body = null;
			try {
				body = JSON.parse(xhr.responseText);
			} catch (_) { /* not JSON */ }
			if (xhr.status === 201) {
				clearError();
				name.value = "";
				await refresh();
				status.textContent = "Uploaded " + body.name + ": " + body.rows + " rows, " + body.columns.length + " columns.";
			} else if (xhr.status === 401) {
				status.textContent = "";
				await askToken("fitd asks for a token to upload.");
				await loadWho();
				upload(f);
			} else {
				status.textContent = "Upload failed.";
				showError(new ApiError(xhr.status, body ? body.error.code : "http_" + xhr.status,
					body ? body.error.message : xhr.responseText), "Upload");
			}
		};
		xhr.onerror = () => {
			status.textContent = "Upload failed: the connection broke.";
		};
		xhr.send(f);
	}

	file.addEventListener("change", () => file.files[0] && upload(file.files[0]));
	drop.addEventListener("dragover", (e) => {
		e.preventDefault();
		drop.classList.add("over");
	});
	drop.addEventListener("dragleave", () => drop.classList.remove("over"));
	drop.addEventListener("drop", (e) => {
		e.preventDefault();
		drop.classList.remove("over");
		if (e.dataTransfer.files[0])
			upload(e.dataTransfer.files[0]);
	});

	render(h("h1", { tabindex: "-1" }, "Datasets"),
		h("section", { class: "card write", "aria-labelledby": "up-h" },
			h("h2", { id: "up-h" }, "Upload a table"),
			drop,
			h("div", { class: "form" },
				h("label", { for: "upload-file" }, "File"), file,
				h("label", { for: "upload-name" }, "Name"), name),
			progress, status),
		list);
	await refresh();
}

async function viewDataset(view, id) {
	const d = await api("GET", "/v1/datasets/" + id, { signal: view.signal });
	const rows = d.columns.map((c) => h("tr", {},
		h("td", { class: "col-name" }, c.name),
		h("td", {}, c.type),
		h("td", { class: "num" }, fmt(c.missing)),
		h("td", {}, c.type === "categorical"
			? [fmt(c.n_levels !== undefined ? c.n_levels : (c.levels || []).length) + ": ",
				(c.levels || []).slice(0, 20).map((l, i) => [i ? ", " : "", h("span", { class: "level" }, l)]),
				(c.levels || []).length > 20 ? " …" : ""]
			: "")));
	render(h("h1", { tabindex: "-1" }, "Dataset ", h("span", { class: "ds-name" }, d.name)),
		h("p", {}, fmt(d.rows) + " rows, " + d.columns.length + " columns, " + fmtBytes(d.bytes) +
			", uploaded " + fmtTime(d.created_at) + ". ", h("a", { href: "#/new?dataset=" + d.id, class: "write" }, "New job on it")),
		table("Columns", ["Column", "Type", "Missing", "Levels"], rows, { id: "columns-table" }));
}

// ---- a new job ----

async function viewNew(view, dsId) {
	const datasets = await listAll("/v1/datasets", view.signal);
	if (!datasets.length) {
		render(h("h1", { tabindex: "-1" }, "New job"), h("p", {}, "Upload a table first: ", h("a", { href: "#/datasets" }, "Datasets"), "."));
		return;
	}
	const dsSel = h("select", { id: "f-dataset" }, datasets.slice().reverse().map((d) =>
		h("option", { value: d.id, selected: d.id === dsId }, d.name + " (" + d.rows + " rows)")));
	const target = h("select", { id: "f-target" });
	const task = h("select", { id: "f-task" }, ["auto", "classification", "regression"].map((t) => h("option", { value: t }, t)));
	const metric = h("select", { id: "f-metric" });
	const inferred = h("p", { id: "f-inferred", class: "hint", "aria-live": "polite" });
	const trials = h("input", { type: "number", id: "f-trials", min: 1, max: 10000, value: "50" });
	const seconds = h("input", { type: "number", id: "f-seconds", min: 1, step: "any", value: "600" });
	const algo = h("select", { id: "f-algorithm" }, ["auto", "random", "grid", "tpe", "asha"].map((t) => h("option", { value: t }, t)));
	const seed = h("input", { type: "number", id: "f-seed", value: "0", min: 0 });
	const fams = h("fieldset", { id: "f-families" });
	const spec = h("textarea", { id: "f-spec", rows: 14, spellcheck: "false" });
	const submit = h("button", { type: "button", id: "f-submit", class: "write" }, "Submit job");
	const out = h("p", { role: "status" });
	let edited = false;

	function ds() {
		return datasets.find((d) => d.id === dsSel.value);
	}
	function column() {
		return ds().columns.find((c) => c.name === target.value);
	}
	function effectiveTask() {
		if (task.value !== "auto")
			return task.value;
		const c = column();
		return c && c.type === "categorical" ? "classification" : "regression";
	}
	function fillTargets() {
		const cols = ds().columns;
		target.replaceChildren(...cols.map((c) => h("option", { value: c.name }, c.name)));
		target.value = cols[cols.length - 1].name;
	}
	function fillTask() {
		const t = effectiveTask();
		const keepM = METRICS[t].includes(metric.value) ? metric.value : METRICS[t][0];
		metric.replaceChildren(...METRICS[t].map((m) => h("option", { value: m }, m)));
		metric.value = keepM;
		const checked = new Set([...fams.querySelectorAll("input:checked")].map((i) => i.value));
		const all = checked.size === 0 || [...fams.querySelectorAll("input")].every((i) => i.checked);
		fams.replaceChildren(h("legend", {}, "Model families"), ...FAMILIES[t].map((f) =>
			h("label", { class: "check" }, h("input", { type: "checkbox", value: f, checked: all || checked.has(f), onchange: update }), " " + f)));
		const c = column();
		inferred.textContent = task.value === "auto"
			? "Task inferred from the target (" + (c ? c.type : "?") + "): " + t +
			(c && c.type === "numeric" ? " (fitd makes it classification when the column holds at most 20 integer values)" : "") +
			"; metric " + metric.value + "."
			: "Task " + t + "; metric " + metric.value + ".";
	}
	function build() {
		const s = { dataset: dsSel.value, target: target.value };
		if (task.value !== "auto")
			s.task = task.value;
		s.metric = metric.value;
		const f = [...fams.querySelectorAll("input:checked")].map((i) => i.value);
		if (f.length && f.length !== fams.querySelectorAll("input").length)
			s.space = { models: f };
		s.search = {};
		if (algo.value !== "auto")
			s.search.algorithm = algo.value;
		if (trials.value)
			s.search.max_trials = Number(trials.value);
		if (seconds.value)
			s.search.max_seconds = Number(seconds.value);
		s.search.seed = Number(seed.value || 0);
		return s;
	}
	function update() {
		fillTask();
		if (!edited)
			spec.value = JSON.stringify(build(), null, 2);
	}
	dsSel.addEventListener("change", () => {
		fillTargets();
		update();
	});
	for (const el of [target, task, metric, trials, seconds, algo, seed])
		el.addEventListener(el.tagName === "SELECT" ? "change" : "input", update);
	spec.addEventListener("input", () => {
		edited = true;
		reset.hidden = false;
	});
	const reset = h("button", { type: "button", class: "link", hidden: true, onclick: () => {
		edited = false;
		reset.hidden = true;
		update();
	} }, "Rebuild the spec from the form");
	submit.addEventListener("click", async () => {
		submit.disabled = true;
		out.textContent = "Submitting…";
		try {
			const job = await api("POST", "/v1/jobs", { body: spec.value, headers: { "Content-Type": "application/json" } });
			clearError();
			location.hash = "#/jobs/" + job.id;
		} catch (e) {
			out.textContent = "";
			showError(e, "Submit");
		} finally {
			submit.disabled = false;
		}
	});
	fillTargets();
	update();
	const field = (id, label, el) => [h("label", { for: id }, label), el];
	render(h("h1", { tabindex: "-1" }, "New job"),
		h("div", { class: "two" },
			h("section", { class: "card", "aria-labelledby": "nj-form" },
				h("h2", { id: "nj-form" }, "Settings"),
				h("div", { class: "form" },
					field("f-dataset", "Dataset", dsSel), field("f-target", "Target column", target),
					field("f-task", "Task", task), field("f-metric", "Metric", metric),
					field("f-trials", "Max trials", trials), field("f-seconds", "Max seconds", seconds),
					field("f-algorithm", "Search", algo), field("f-seed", "Seed", seed)),
				inferred, fams),
			h("section", { class: "card", "aria-labelledby": "nj-spec" },
				h("h2", { id: "nj-spec" }, h("label", { for: "f-spec" }, "The spec sent (editable)")),
				spec, h("div", { class: "row" }, submit, reset), out)));
}

// ---- the jobs ----

function jobProgress(j) {
	const p = j.progress, total = p.trials_total;
	return h("span", { class: "prog" },
		h("progress", { max: total || 1, value: total ? Math.min(p.trials_done, total) : (TERMINAL.includes(j.state) ? 1 : 0),
			"aria-label": "trials done" }),
		" " + p.trials_done + (total ? "/" + total : "") + (p.trials_running ? " (" + p.trials_running + " running)" : ""));
}

function cancelButton(j, after) {
	if (TERMINAL.includes(j.state) || !canWrite())
		return null;
	return h("button", { type: "button", class: "danger cancel", data: { job: j.id }, "aria-label": "Cancel job " + j.id,
		onclick: async (e) => {
			e.target.disabled = true;
			try {
				await api("POST", "/v1/jobs/" + j.id + "/cancel");
				clearError();
			} catch (err) {
				showError(err, "Cancel");
			}
			after();
		} }, "Cancel");
}

async function viewJobs(view, state) {
	const dsNames = new Map();
	const filter = h("select", { id: "state-filter", onchange: (e) => {
		location.hash = e.target.value ? "#/jobs?state=" + e.target.value : "#/jobs";
	} }, h("option", { value: "" }, "all"), JOB_STATES.map((s) => h("option", { value: s, selected: s === state }, s)));
	const body = h("div", { id: "jobs" });

	async function refresh() {
		const jobs = await listAll("/v1/jobs" + (state ? "?state=" + state : ""), view.signal);
		if (jobs.some((j) => !dsNames.has(j.dataset))) // a dataset uploaded since, or deleted
			for (const d of await listAll("/v1/datasets", view.signal))
				dsNames.set(d.id, d.name);
		const rows = jobs.slice().reverse().map((j) => h("tr", { data: { id: j.id, state: j.state } },
			h("td", {}, h("a", { href: "#/jobs/" + j.id }, j.id)),
			h("td", {}, dsNames.has(j.dataset) ? dsNames.get(j.dataset) : j.dataset),
			h("td", {}, j.target),
			h("td", {}, h("span", { class: "state " + j.state }, j.state)),
			h("td", {}, jobProgress(j)),
			h("td", { class: "num" }, j.best ? fmt(j.best.score) : "–", " ", j.metric),
			h("td", {}, fmtTime(j.created_at)),
			h("td", {}, cancelButton(j, refresh))));
		body.replaceChildren(jobs.length ? table(null, ["Job", "Dataset", "Target", "State", "Trials", "Best", "Created", ""], rows, { id: "jobs-table" })
			: h("p", {}, state ? "No " + state + " job." : "No job yet."));
		body.dataset.count = String(jobs.length);
	}

	render(h("h1", { tabindex: "-1" }, "Jobs"),
		h("div", { class: "row" }, h("label", { for: "state-filter" }, "State"), filter,
			h("a", { href: "#/new", class: "write button" }, "New job")),
		body);
	await refresh();
	view.every(2000, refresh);
}

// ---- one job: the leaderboard, the charts, the stream ----

function betterFirst(metric) {
	const sign = LOWER_IS_BETTER.includes(metric) ? 1 : -1;
	return (a, b) => {
		if ((a.score === null) !== (b.score === null))
			return a.score === null ? 1 : -1;
		return (a.score !== b.score ? sign * (a.score - b.score) : 0) || a.trial - b.trial;
	};
}

// Reads GET /v1/jobs/{id}/events with fetch (EventSource cannot send a
// token), resuming after the last id it saw with Last-Event-ID on any drop,
// a daemon restart included, until the job's terminal event.
async function followEvents(view, jobId, onEvent, onState) {
	let last = 0, wait = 500;
	while (view.live) {
		try {
			const hd = authHeaders({ Accept: "text/event-stream" });
			if (last > 0)
				hd["Last-Event-ID"] = String(last);
			const res = await fetch("/v1/jobs/" + jobId + "/events", { headers: hd, signal: view.signal });
			if (res.status === 401) {
				await askToken("fitd asks for a token.");
				continue;
			}
			if (!res.ok)
				throw await errorOf(res);
			onState("live");
			wait = 500;
			const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
			let buf = "", finished = false;
			for (;;) {
				const { value, done } = await reader.read();
				if (done)
					break;
				buf += value;
				let at = 0, cut;
				// One pass over what arrived; the rest is kept once, not copied per event.
				for (; (cut = buf.indexOf("\n\n", at)) >= 0; at = cut + 2) {
					const block = buf.slice(at, cut);
					let id = null, type = "message", data = "";
					for (const line of block.split("\n")) {
						if (line.startsWith("id:"))
							id = Number(line.slice(3).trim());
						else if (line.startsWith("event:"))
							type = line.slice(6).trim();
						else if (line.startsWith("data:"))
							data += line.slice(5).trim();
					}
					if (!data)
						continue;
					if (id !== null)
						last = id;
					const ev = JSON.parse(data);
					onEvent(type, ev);
					if ((type === "job_state" && TERMINAL.includes(ev.state)) || type === "job_deleted")
						finished = true;
				}
				buf = buf.slice(at);
			}
			if (finished) {
				onState("ended");
				return;
			}
		} catch (e) {
			if (!view.live || e.name === "AbortError")
				return;
			if (e instanceof ApiError && e.status !== 503 && e.status !== 429) {
				showError(e, "Event stream");
				return;
			}
		}
		onState("reconnecting");
		await new Promise((r) => setTimeout(r, wait));
		wait = Math.min(wait * 2, 4000);
	}
}

// The trials of a job, best first: GET /v1/jobs/{id}/trials in pages of
// 1,000. The first page comes with the job (the leaderboard shows its top);
// the rest, fetched side by side once the job says how many there are.
function trialsPage(jobId, offset, signal) {
	return api("GET", "/v1/jobs/" + jobId + "/trials?limit=1000&offset=" + offset, { signal });
}

async function trialsRest(jobId, job, first, signal) {
	const n = job.progress.trials_done + job.progress.trials_running;
	const offsets = [];
	for (let o = 1000; o < n && first.next_offset !== null; o += 1000)
		offsets.push(o);
	const pages = [first, ...await Promise.all(offsets.map((o) => trialsPage(jobId, o, signal)))];
	const all = pages.slice(1).flatMap((p) => p.items);
	let next = pages[pages.length - 1].next_offset;
	while (next !== null && next !== undefined) { // trials added since the job was read
		const p = await trialsPage(jobId, next, signal);
		all.push(...p.items);
		next = p.next_offset;
	}
	return all;
}

async function viewJob(view, jobId) {
	const t0 = performance.now();
	const [job0, first] = await Promise.all([api("GET", "/v1/jobs/" + jobId, { signal: view.signal }),
		trialsPage(jobId, 0, view.signal)]);
	const fetched = performance.now();
	const S = { job: job0, trials: new Map(), curves: new Map(), shown: 50, selected: null, stream: "connecting" };
	for (const t of first.items)
		S.trials.set(t.trial, t);
	const lower = LOWER_IS_BETTER.includes(job0.metric);

	const head = h("section", { id: "job-head", class: "card", "aria-labelledby": "jh" });
	const board = h("tbody");
	const boardInfo = h("p", { id: "board-info", "aria-live": "off" });
	const more = h("button", { type: "button", class: "link", onclick: () => {
		S.shown += 200;
		schedule();
	} }, "Show more");
	const detail = h("section", { id: "trial-detail", class: "card", "aria-live": "polite", hidden: true });
	const families = h("div", { id: "families" });
	const cBest = canvas("chart-best", "Best score against time");
	const cCurves = canvas("chart-curves", "Learning curves: validation score by epoch");
	const cPar = canvas("chart-parallel", "Parallel coordinates: settings against score");

	let frame = 0, chartsAt = 0;
	function schedule() {
		if (!frame)
			frame = requestAnimationFrame(paint);
	}
	function paint() {
		frame = 0;
		if (!view.live)
			return;
		paintHead();
		paintBoard();
		paintFamilies();
		const now = performance.now();
		if (now - chartsAt > 400 || TERMINAL.includes(S.job.state)) {
			chartsAt = now;
			drawBest(cBest.canvas, S, lower);
			drawCurves(cCurves.canvas, S, lower);
			drawParallel(cPar.canvas, S, lower);
		} else {
			schedule(); // charts follow at most every 400 ms
		}
	}

	function paintHead() {
		const j = S.job;
		head.replaceChildren(
			h("h1", { id: "jh", tabindex: "-1" }, "Job ", j.id),
			h("dl", { class: "facts" },
				h("dt", {}, "State"), h("dd", {}, h("span", { id: "job-state", class: "state " + j.state }, j.state),
					" ", cancelButton(j, refreshJob)),
				h("dt", {}, "Trials"), h("dd", {}, jobProgress(j)),
				h("dt", {}, "Elapsed"), h("dd", {}, fmt(j.progress.elapsed_s, 1) + " s" +
					(j.spec.search.max_seconds ? " of " + fmt(j.spec.search.max_seconds) : "")),
				h("dt", {}, "Target"), h("dd", {}, j.target + " (" + j.task + ", " + j.metric + ")"),
				h("dt", {}, "Best"), h("dd", {}, j.best
					? [h("span", { id: "job-best", data: { score: String(j.best.score) } }, fmt(j.best.score)),
						" (trial " + j.best.trial + ", " + j.best.params.model + (j.best.kind === "ensemble" ? ", ensemble" : "") + ") ",
						j.best.model_id ? h("a", { href: "#/models/" + j.best.model_id, id: "job-model" }, "model " + j.best.model_id) : null]
					: "none yet"),
				j.best && j.best.reason ? [h("dt", {}, "Why"), h("dd", {}, j.best.reason)] : null,
				j.error ? [h("dt", {}, "Error"), h("dd", { class: "err" }, j.error.code + ": " + j.error.message)] : null,
				h("dt", {}, "Stream"), h("dd", { id: "stream-state" }, S.stream)));
	}

	function paintBoard() {
		const sorted = [...S.trials.values()].sort(betterFirst(S.job.metric));
		const done = sorted.filter((t) => t.state === "completed").length;
		boardInfo.textContent = S.trials.size + " trials, " + done + " completed; best first.";
		board.parentElement.dataset.count = String(S.trials.size);
		board.replaceChildren(...sorted.slice(0, S.shown).map((t, i) => h("tr", { data: { trial: t.trial, score: t.score === null ? "" : String(t.score) },
			class: S.selected === t.trial ? "sel" : null },
			h("td", { class: "num" }, t.score === null ? "" : i + 1),
			h("td", {}, h("button", { type: "button", class: "link", onclick: () => select(t.trial) }, "#" + t.trial)),
			h("td", {}, h("span", { class: "state " + t.state }, t.state)),
			h("td", { class: "num score" }, fmt(t.score)),
			h("td", { class: "num" }, t.score_std === null || t.score_std === undefined ? "" : "± " + fmt(t.score_std)),
			h("td", {}, t.params ? t.params.model : ""),
			h("td", {}, t.params ? t.params.optimizer || "" : ""),
			h("td", { class: "num" }, t.epochs === undefined ? "" : fmt(t.epochs)),
			h("td", { class: "num" }, t.duration_ms === undefined ? "" : fmt(t.duration_ms)))));
		more.hidden = sorted.length <= S.shown;
		if (S.selected !== null)
			paintDetail();
	}

	function paintFamilies() {
		const fam = S.job.families || {};
		const names = Object.keys(fam);
		const maxS = Math.max(1e-9, ...names.map((n) => fam[n].seconds));
		const states = {};
		for (const t of S.trials.values())
			states[t.state] = (states[t.state] || 0) + 1;
		families.replaceChildren(
			names.length ? table("Model families: how the time went", ["Family", "Trials", "Seconds", "", "Best score"],
				names.map((n) => h("tr", {},
					h("td", {}, n), h("td", { class: "num" }, fmt(fam[n].trials)), h("td", { class: "num" }, fmt(fam[n].seconds, 2)),
					h("td", { class: "barcell" }, h("span", { class: "bar", style: null, data: { w: fam[n].seconds / maxS } })),
					h("td", { class: "num" }, fmt(fam[n].best_score)))), { id: "families-table" }) : h("p", {}, "No finished trial yet."),
			h("p", { class: "hint" }, "Trials by state: " + (Object.entries(states).map(([k, v]) => k + " " + v).join(", ") || "none")));
		for (const b of families.querySelectorAll(".bar"))
			b.style.width = (100 * Number(b.dataset.w)).toFixed(1) + "%";
	}

	function select(n) {
		S.selected = n;
		paintDetail();
		detail.hidden = false;
		detail.focus();
	}

	function paintDetail() {
		const t = S.trials.get(S.selected);
		if (!t)
			return;
		const params = Object.entries(t.params || {}).map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : fmt(v, 6))));
		detail.replaceChildren(h("h2", {}, "Trial #" + t.trial),
			h("dl", { class: "facts" },
				h("dt", {}, "State"), h("dd", {}, t.state),
				h("dt", {}, "Score"), h("dd", {}, fmt(t.score, 6) + (t.score_std !== null && t.score_std !== undefined ? " ± " + fmt(t.score_std, 6) : "")),
				h("dt", {}, "Fold scores"), h("dd", {}, (t.fold_scores || []).map((x) => fmt(x)).join(", ") || "–"),
				h("dt", {}, "Epochs"), h("dd", {}, fmt(t.epochs)),
				h("dt", {}, "Attempts"), h("dd", {}, fmt(t.attempt)),
				h("dt", {}, "Duration"), h("dd", {}, t.duration_ms === undefined ? "–" : fmt(t.duration_ms) + " ms"),
				h("dt", {}, "Started"), h("dd", {}, fmtTime(t.started_at)),
				t.error ? [h("dt", {}, "Error"), h("dd", { class: "err" }, t.error.code + ": " + t.error.message)] : null),
			table("Settings", ["Setting", "Value"], params),
			h("button", { type: "button", class: "link", onclick: () => {
				S.selected = null;
				detail.hidden = true;
			} }, "Close"));
	}

	async function refreshJob() {
		S.job = await api("GET", "/v1/jobs/" + jobId, { signal: view.signal });
		schedule();
	}

	function onEvent(type, ev) {
		let t = S.trials.get(ev.trial);
		if (type === "trial_started") {
			if (!t)
				S.trials.set(ev.trial, t = { trial: ev.trial, score: null, score_std: null });
			if (t.state === undefined || !["completed", "pruned", "failed", "timeout"].includes(t.state))
				t.state = "running";
			t.params = ev.params;
			t.attempt = ev.attempt;
			t.started_at = t.started_at || new Date().toISOString();
		} else if (type === "trial_progress") {
			if (ev.fold === 0 && ev.score !== undefined) {
				let c = S.curves.get(ev.trial);
				if (!c)
					S.curves.set(ev.trial, c = []);
				if (!c.length || c[c.length - 1][0] < ev.epoch)
					c.push([ev.epoch, ev.score]);
			}
		} else if (type === "trial_finished") {
			if (!t)
				S.trials.set(ev.trial, t = { trial: ev.trial, params: null });
			const known = t.finished_at;
			Object.assign(t, { state: ev.state, epochs: ev.epochs, duration_ms: ev.duration_ms,
				score: ev.score === undefined ? null : ev.score, score_std: ev.score_std === undefined ? null : ev.score_std,
				error: ev.error || null });
			t.finished_at = known || new Date().toISOString();
		} else if (type === "new_best") {
			S.job.best = Object.assign({}, S.job.best || { kind: "single" }, { trial: ev.trial, score: ev.score, model_id: ev.model_id, params: ev.params });
		} else if (type === "job_state") {
			S.job.state = ev.state;
			refreshJob().catch((e) => view.live && showError(e));
		}
		schedule();
	}

	render(head,
		h("div", { class: "two" },
			h("section", { class: "card", "aria-labelledby": "lb-h" },
				h("h2", { id: "lb-h" }, "Leaderboard"), boardInfo,
				h("div", { class: "scroll" }, h("table", { id: "leaderboard" },
					h("thead", {}, h("tr", {}, ["Rank", "Trial", "State", "Score", "Std", "Model", "Optimizer", "Epochs", "ms"].map((x) => h("th", { scope: "col" }, x)))),
					board)), more),
			h("div", {}, detail,
				h("section", { class: "card", "aria-labelledby": "fam-h" }, h("h2", { id: "fam-h" }, "Families and budget"), families))),
		h("div", { class: "charts" }, cBest.fig, cCurves.fig, cPar.fig));
	detail.setAttribute("tabindex", "-1");
	paint();
	const lb = $("#leaderboard");
	lb.dataset.ready = "1"; // the top of the leaderboard is drawn
	lb.dataset.loadMs = (performance.now() - t0).toFixed(0);
	lb.dataset.fetchMs = (fetched - t0).toFixed(0);
	lb.dataset.doneAt = performance.now().toFixed(0); // since the page's navigation began
	for (const t of await trialsRest(jobId, job0, first, view.signal))
		S.trials.set(t.trial, t);
	paint();
	lb.dataset.complete = "1"; // every trial, and the charts
	lb.dataset.completeAt = performance.now().toFixed(0);

	followEvents(view, jobId, onEvent, (s) => {
		S.stream = s;
		schedule();
	});
	view.every(2000, async () => {
		if (!TERMINAL.includes(S.job.state) || !S.job.finished_at)
			await refreshJob();
	});
	addEventListener("resize", schedule, { signal: view.signal });
}

// ---- charts: small canvas code of our own ----

function canvas(id, title) {
	const c = h("canvas", { id, role: "img", "aria-label": title, width: 600, height: 260 });
	return { canvas: c, fig: h("figure", { class: "card chart" }, h("figcaption", {}, title), c) };
}

// Sizes the canvas to its box and the screen's pixels; returns the 2D context and size in CSS px.
function prep(c) {
	const dpr = window.devicePixelRatio || 1;
	const w = Math.max(200, c.clientWidth || 600), hgt = Math.max(160, c.clientHeight || 260);
	if (c.width !== Math.round(w * dpr) || c.height !== Math.round(hgt * dpr)) {
		c.width = Math.round(w * dpr);
		c.height = Math.round(hgt * dpr);
	}
	const g = c.getContext("2d");
	g.setTransform(dpr, 0, 0, dpr, 0, 0);
	g.clearRect(0, 0, w, hgt);
	g.font = "12px system-ui, sans-serif";
	return { g, w, h: hgt };
}

function css(name) {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#333";
}

// Axes with 5 ticks each; returns the functions from data to pixels.
function axes(g, w, hgt, xr, yr, xl, yl) {
	const L = 56, R = 12, T = 20, B = 30;
	const sx = (x) => L + (xr[1] === xr[0] ? 0.5 : (x - xr[0]) / (xr[1] - xr[0])) * (w - L - R);
	const sy = (y) => T + (yr[1] === yr[0] ? 0.5 : 1 - (y - yr[0]) / (yr[1] - yr[0])) * (hgt - T - B);
	g.strokeStyle = css("--grid");
	g.fillStyle = css("--muted");
	g.lineWidth = 1;
	for (let i = 0; i <= 4; i++) {
		const y = yr[0] + (yr[1] - yr[0]) * i / 4, x = xr[0] + (xr[1] - xr[0]) * i / 4;
		g.beginPath();
		g.moveTo(L, sy(y));
		g.lineTo(w - R, sy(y));
		g.stroke();
		g.textAlign = "right";
		g.fillText(fmt(y, 3), L - 4, sy(y) + 4);
		g.textAlign = "center";
		g.fillText(fmt(x, 1), sx(x), hgt - B + 14);
	}
	g.textAlign = "left";
	g.fillText(yl, 4, 10);
	g.textAlign = "right";
	g.fillText(xl, w - R, hgt - 4);
	return { sx, sy };
}

function range(vals) {
	let lo = Infinity, hi = -Infinity;
	for (const v of vals)
		if (Number.isFinite(v)) {
			lo = Math.min(lo, v);
			hi = Math.max(hi, v);
		}
	return lo === Infinity ? [0, 1] : [lo, hi];
}

// At most n points of a series, keeping each bucket's extremes (min-max decimation).
function decimate(pts, n) {
	if (pts.length <= n)
		return pts;
	const out = [], step = pts.length / (n / 2);
	for (let i = 0; i < pts.length; i += step) {
		const b = pts.slice(Math.floor(i), Math.floor(i + step));
		let lo = b[0], hi = b[0];
		for (const p of b) {
			if (p[1] < lo[1])
				lo = p;
			if (p[1] > hi[1])
				hi = p;
		}
		out.push(...(lo[0] <= hi[0] ? [lo, hi] : [hi, lo]));
	}
	return out;
}

function drawBest(c, S, lower) {
	const { g, w, h: hgt } = prep(c);
	const start = Date.parse(S.job.started_at || S.job.created_at);
	const done = [...S.trials.values()].filter((t) => t.state === "completed" && t.score !== null && t.finished_at)
		.map((t) => [(Date.parse(t.finished_at) - start) / 1000, t.score]).sort((a, b) => a[0] - b[0]);
	if (!done.length) {
		g.fillStyle = css("--muted");
		g.fillText("No completed trial yet.", 60, hgt / 2);
		return;
	}
	const best = [];
	let b = null;
	for (const [x, y] of done)
		if (b === null || (lower ? y < b : y > b))
			best.push([x, b = y]);
	const xr = [0, Math.max(done[done.length - 1][0], 1e-3)], yr = range(done.map((p) => p[1]));
	const { sx, sy } = axes(g, w, hgt, xr, yr, "seconds", S.job.metric);
	g.fillStyle = css("--dot");
	for (const [x, y] of decimate(done, 2000))
		g.fillRect(sx(x) - 1, sy(y) - 1, 2, 2);
	g.strokeStyle = css("--accent");
	g.lineWidth = 2;
	g.beginPath();
	best.forEach(([x, y], i) => {
		if (i)
			g.lineTo(sx(x), sy(best[i - 1][1]));
		(i ? g.lineTo : g.moveTo).call(g, sx(x), sy(y));
	});
	g.lineTo(sx(xr[1]), sy(b));
	g.stroke();
}

function drawCurves(c, S, lower) {
	const { g, w, h: hgt } = prep(c);
	// The curves of running trials and of the best finished ones: at most 40.
	const running = [...S.curves.keys()].filter((k) => (S.trials.get(k) || {}).state === "running");
	const ranked = [...S.trials.values()].filter((t) => S.curves.has(t.trial) && t.state !== "running")
		.sort(betterFirst(S.job.metric)).map((t) => t.trial);
	const keys = [...running, ...ranked].slice(0, 40);
	if (!keys.length) {
		g.fillStyle = css("--muted");
		g.fillText("No trial_progress event yet (iterative solvers report few epochs).", 60, hgt / 2);
		return;
	}
	const pts = keys.flatMap((k) => S.curves.get(k));
	const xr = [0, range(pts.map((p) => p[0]))[1]], yr = range(pts.map((p) => p[1]));
	const { sx, sy } = axes(g, w, hgt, xr, yr, "epoch", S.job.metric);
	keys.forEach((k, i) => {
		const line = decimate(S.curves.get(k), 200);
		g.strokeStyle = running.includes(k) ? css("--accent") : `hsla(${(i * 47) % 360},55%,45%,0.6)`;
		g.lineWidth = running.includes(k) ? 2 : 1;
		g.beginPath();
		line.forEach(([x, y], j) => (j ? g.lineTo : g.moveTo).call(g, sx(x), sy(y)));
		g.stroke();
		g.fillStyle = g.strokeStyle; // a trial of one report is a dot
		for (const [x, y] of line)
			g.fillRect(sx(x) - 1.5, sy(y) - 1.5, 3, 3);
	});
}

function drawParallel(c, S, lower) {
	const { g, w, h: hgt } = prep(c);
	const done = [...S.trials.values()].filter((t) => t.score !== null && t.params);
	if (done.length < 2) {
		g.fillStyle = css("--muted");
		g.fillText("Parallel coordinates need two scored trials.", 60, hgt / 2);
		return;
	}
	// Axes: the settings that vary (numbers on a log scale when they span 100x), then the score.
	const keys = new Set();
	for (const t of done)
		for (const k of Object.keys(t.params))
			keys.add(k);
	const dims = [];
	for (const k of keys) {
		const vals = done.map((t) => t.params[k]).filter((v) => v !== undefined && v !== null);
		const uniq = [...new Set(vals.map(String))];
		if (uniq.length < 2 || typeof vals[0] === "object")
			continue;
		if (vals.every((v) => typeof v === "number")) {
			let [lo, hi] = range(vals);
			const log = lo > 0 && hi / lo >= 100;
			if (log)
				[lo, hi] = [Math.log10(lo), Math.log10(hi)];
			dims.push({ k, pos: (v) => (typeof v !== "number" ? null : ((log ? Math.log10(v) : v) - lo) / (hi - lo || 1)) });
		} else {
			uniq.sort();
			dims.push({ k, pos: (v) => (v === undefined || v === null ? null : (uniq.indexOf(String(v)) + 0.5) / uniq.length) });
		}
	}
	const sr = range(done.map((t) => t.score));
	dims.push({ k: S.job.metric, pos: (v) => (v - sr[0]) / (sr[1] - sr[0] || 1), score: true });
	const L = 30, R = 30, T = 18, B = 22;
	const x = (i) => L + i * (w - L - R) / Math.max(1, dims.length - 1);
	const y = (p) => T + (1 - p) * (hgt - T - B);
	// The best trials last, on top; 5,000 lines at low alpha stay readable.
	const sorted = done.slice().sort(betterFirst(S.job.metric)).reverse().slice(-3000);
	g.lineWidth = 1;
	sorted.forEach((t) => {
		const q = (t.score - sr[0]) / (sr[1] - sr[0] || 1), good = lower ? 1 - q : q;
		g.strokeStyle = `hsla(${Math.round(10 + 200 * good)},70%,45%,${sorted.length > 500 ? 0.15 : 0.5})`;
		g.beginPath();
		let pen = false;
		dims.forEach((d, i) => {
			const p = d.pos(d.score ? t.score : t.params[d.k]);
			if (p === null || !Number.isFinite(p)) {
				pen = false;
				return;
			}
			(pen ? g.lineTo : g.moveTo).call(g, x(i), y(p));
			pen = true;
		});
		g.stroke();
	});
	g.fillStyle = css("--fg");
	g.strokeStyle = css("--muted");
	g.textAlign = "center";
	dims.forEach((d, i) => {
		g.beginPath();
		g.moveTo(x(i), T);
		g.lineTo(x(i), hgt - B);
		g.stroke();
		const room = (w - L - R) / Math.max(1, dims.length - 1) - 4;
		let label = d.k;
		while (label.length > 3 && g.measureText(label).width > room)
			label = label.slice(0, -2) + "…";
		g.fillText(label, x(i), hgt - 6);
	});
}

// ---- a model ----

async function viewModel(view, id) {
	const m = await api("GET", "/v1/models/" + id, { signal: view.signal });
	const inputs = (m.columns || []).map((c) => c.name);
	const imp = (m.importance || []).slice().sort((a, b) => b.importance - a.importance);
	const maxImp = Math.max(1e-12, ...imp.map((x) => Math.abs(x.importance)));
	const bars = h("div", { id: "importance", class: "bars" }, imp.map((x) => h("div", { class: "barrow" },
		h("span", { class: "bar-label" }, x.column),
		h("span", { class: "bar-track" }, h("span", { class: "bar", data: { w: Math.max(0, x.importance) / maxImp } })),
		h("span", { class: "num" }, fmt(x.importance) + (x.std !== undefined ? " ± " + fmt(x.std) : "")))));
	for (const b of bars.querySelectorAll(".bar"))
		b.style.width = (100 * Number(b.dataset.w)).toFixed(1) + "%";
	const coefs = m.coefficients ? table("Coefficients on the original columns", ["Column", "Kind", "Level", "Output", "Value"],
		m.coefficients.slice(0, 500).map((c) => h("tr", {}, h("td", {}, c.column), h("td", {}, c.kind),
			h("td", {}, c.level === undefined ? "" : String(c.level)), h("td", { class: "num" }, String(c.output)), h("td", { class: "num" }, fmt(c.value)))),
		{ id: "coefficients" }) : null;
	const csv = h("textarea", { id: "predict-csv", rows: 6, spellcheck: "false" });
	csv.value = inputs.join(",") + "\n";
	const explain = h("input", { type: "checkbox", id: "predict-explain", checked: true });
	const out = h("div", { id: "predict-out" });
	const go = h("button", { type: "button", id: "predict-go" }, "Predict");
	go.addEventListener("click", async () => {
		go.disabled = true;
		try {
			const r = await api("POST", "/v1/models/" + id + "/predict" + (explain.checked ? "?explain=true" : ""),
				{ body: csv.value, headers: { "Content-Type": "text/csv" } });
			clearError();
			out.replaceChildren(predictionTable(r));
		} catch (e) {
			out.replaceChildren(h("p", { class: "err" }, e.code + ": " + e.message));
		} finally {
			go.disabled = false;
		}
	});
	const dl = h("button", { type: "button", id: "model-download" }, "Download the model (JSON)");
	dl.addEventListener("click", async () => {
		const text = await api("GET", "/v1/models/" + id, { text: true });
		const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
		const a = h("a", { href: url, download: id + ".json" });
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 1000);
	});
	const sel = m.selection || {};
	render(h("h1", { tabindex: "-1" }, "Model ", id),
		h("dl", { class: "facts" },
			h("dt", {}, "Task"), h("dd", {}, m.task || "–"),
			h("dt", {}, "Family"), h("dd", {}, m.params ? m.params.model : (m.kind || "–")),
			h("dt", {}, "Target"), h("dd", {}, typeof m.target === "string" ? m.target : "–"),
			h("dt", {}, "Score"), h("dd", { id: "model-score" }, m.metric && typeof m.metric === "object"
				? m.metric.name + " " + fmt(m.metric.cv_mean) + (m.metric.cv_std !== undefined ? " ± " + fmt(m.metric.cv_std) : "") + " (cross-validation)"
				: "–"),
			sel.reason ? [h("dt", {}, "Selection"), h("dd", {}, (sel.kind || "") + ": " + sel.reason)] : null,
			m.job ? [h("dt", {}, "Job"), h("dd", {}, h("a", { href: "#/jobs/" + m.job }, m.job), m.trial !== undefined ? ", trial " + m.trial : "")] : null,
			h("dt", {}, "Inputs"), h("dd", {}, inputs.join(", "))),
		h("div", { class: "row" }, dl),
		h("section", { class: "card", "aria-labelledby": "imp-h" }, h("h2", { id: "imp-h" }, "Permutation importance"),
			imp.length ? bars : h("p", {}, "This model has no importance.")),
		coefs ? h("section", { class: "card" }, coefs) : null,
		h("section", { class: "card", "aria-labelledby": "pr-h" }, h("h2", { id: "pr-h" }, "Predict"),
			h("label", { for: "predict-csv" }, "Rows as CSV with a header (the inputs above)"), csv,
			h("div", { class: "row" }, h("label", { class: "check" }, explain, " explain each row"), go), out));
}

function predictionTable(r) {
	const rows = r.predictions.map((p, i) => {
		const cells = [h("td", { class: "num" }, i + 1), h("td", { class: "pred" }, typeof p === "number" ? fmt(p, 6) : p)];
		if (r.probabilities)
			cells.push(h("td", {}, r.classes.map((c, k) => c + " " + fmt(r.probabilities[i][k], 3)).join(", ")));
		if (r.contributions) {
			const ct = r.contributions, v = ct.values[i][0];
			cells.push(h("td", {}, ct.columns.map((c, k) => [k ? ", " : "", h("span", { class: v[k] >= 0 ? "pos" : "neg" }, c + " " + fmt(v[k], 3))]),
				", bias " + fmt(v[v.length - 1], 3) + (ct.outputs.length > 1 || r.classes ? " (" + ct.outputs[0] + ", " + ct.link + ")" : "")));
		}
		return h("tr", {}, cells);
	});
	return table("Predictions", ["Row", "Prediction", r.probabilities ? "Probabilities" : null,
		r.contributions ? "Contributions" : null].filter(Boolean), rows, { id: "predictions" });
}

// ---- routing ----

const routes = [
	[/^#\/datasets$/, viewDatasets, "Datasets"],
	[/^#\/datasets\/(ds_[0-9a-f]+)$/, viewDataset, "Dataset"],
	[/^#\/new(?:\?dataset=(ds_[0-9a-f]+))?$/, viewNew, "New job"],
	[/^#\/jobs(?:\?state=([a-z]+))?$/, viewJobs, "Jobs"],
	[/^#\/jobs\/(job_[0-9a-f]+)$/, viewJob, "Job"],
	[/^#\/models\/(mdl_[0-9a-f]+)$/, viewModel, "Model"],
];

let current = null;

function render(...nodes) {
	const main = $("#main");
	main.replaceChildren(...nodes.flat().filter(Boolean));
	const h1 = $("h1", main);
	if (h1 && document.activeElement === document.body)
		h1.focus({ preventScroll: true });
}

async function route() {
	if (current)
		current.close();
	const view = current = new View();
	let hash = location.hash || "#/jobs";
	let match = null, fn = null, title = "";
	for (const [re, f, t] of routes)
		if ((match = re.exec(hash))) {
			fn = f;
			title = t;
			break;
		}
	if (!fn) {
		location.replace("#/jobs");
		return;
	}
	document.title = title + " · fitd";
	for (const a of document.querySelectorAll("nav a"))
		a.toggleAttribute("aria-current", hash.startsWith(a.getAttribute("href")));
	document.body.dataset.view = title;
	clearError();
	try {
		await fn(view, ...match.slice(1));
	} catch (e) {
		if (view.live && e.name !== "AbortError") {
			render(h("h1", { tabindex: "-1" }, title), h("p", { class: "err" }, "Could not load this page."));
			showError(e);
		}
	}
}

async function start() {
	// The skip link moves the focus; following its href would change the route.
	$(".skip").addEventListener("click", (e) => {
		e.preventDefault();
		$("#main").focus();
	});
	$("#forget").addEventListener("click", () => {
		sessionStorage.removeItem(TOKEN_KEY);
		token = null;
		location.reload();
	});
	try {
		await loadWho();
	} catch (e) {
		showError(e);
	}
	addEventListener("hashchange", route);
	await route();
}

start();
