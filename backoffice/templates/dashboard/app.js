// The reviewer dashboard of the bioimage.io collection backoffice.
// Plain JavaScript, no build step, no external resources. Every text that comes from
// an upload (names, descriptions, chat, log messages, reasons) is put into the page as
// text (textContent), never as HTML; only http(s) URLs become links or images.
"use strict";

(function () {
  const INDEX = "../collection.json";
  const DRAFTS = "../collection_draft.json";
  const COMPAT = "../compatibility.json";
  const DETAILS = "details/";
  const BATCH = 60; // cards rendered per step of the collection page
  const STATUS_ORDER = ["awaiting review", "testing", "unpacked", "unpacking", "staging", "changes requested", "accepted"];
  const cache = new Map();
  const main = document.getElementById("main");

  // ------------------------------------------------------------------ helpers
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "className") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "onclick") node.addEventListener("click", v);
      else if (k === "oninput") node.addEventListener("input", v);
      else if (k === "onchange") node.addEventListener("change", v);
      else if (["id", "title", "type", "value", "placeholder", "colSpan", "ariaLabel", "htmlFor"].includes(k)) node[k] = v;
      else node.setAttribute(k, String(v));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      const u = new URL(url, document.baseURI);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(url, text) {
    const href = safeUrl(url);
    const label = text === undefined ? url : text;
    if (!href) return el("span", {}, label);
    return el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, label);
  }

  function image(url, alt, className) {
    const src = safeUrl(url);
    if (!src) return el("div", { className: (className || "") + " no-image" }, "no cover");
    return el("img", { src, alt: alt || "", className, loading: "lazy", decoding: "async", referrerpolicy: "no-referrer" });
  }

  function age(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return "";
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 129600) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " d";
  }

  function when(iso) {
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? String(iso || "") : t.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function statusBadge(status) {
    const s = String(status || "unknown");
    return el("span", { className: "badge status-" + s.replace(/[^a-z]+/gi, "-").toLowerCase() }, s);
  }

  async function getJSON(url) {
    if (cache.has(url)) return cache.get(url);
    const promise = fetch(url, { cache: "no-cache" }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    cache.set(url, promise);
    return promise;
  }

  function section(title, ...content) {
    return el("section", { className: "detail-section" }, el("h3", {}, title), ...content);
  }

  function table(headers, rows, className) {
    return el("table", { className: className || "" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows));
  }

  function markReady(page) {
    document.body.dataset.ready = page;
    window.__dashboard = Object.assign(window.__dashboard || {}, { [page]: performance.now() });
  }

  // ------------------------------------------------------------------ details
  function yesNo(v) {
    return v === true ? "yes" : v === false ? "no" : "–";
  }

  function fig(v) {
    return typeof v === "number" ? (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? String(+v.toPrecision(4)) : v.toExponential(2)) : "–";
  }

  function outputsList(outputs) {
    // figures of each produced output that did not reproduce, with the kept .npy
    const off = (outputs || []).filter((o) => o.reproduces === false);
    if (!off.length) return null;
    return el("ul", { className: "outputs" }, off.map((o) => el("li", { className: "output-figures", dataset: { output: o.output } },
      el("code", {}, o.output), o.integer ? " (integer, exact match): exact-match fraction " + fig(o.exact_match_fraction) + ", " : ": ",
      "max abs error " + fig(o.max_abs_error) + ", max rel error " + fig(o.max_rel_error) + ", " + fig(o.mismatched_ppm) + " ppm mismatched",
      o.tolerance && !o.integer ? " (tolerance: relative " + fig(o.tolerance.relative) + ", absolute " + fig(o.tolerance.absolute) + ")" : "",
      " ", o.kept_url ? link(o.kept_url, "produced output (.npy)") : null)));
  }

  function hardwareList(t) {
    const entries = Object.entries(t.by_hardware || {});
    if (!entries.length) return t.hardware || "";
    return el("ul", { className: "hardware" }, entries.map(([hw, outcome]) => el("li", {}, hw + ": ", statusBadge(outcome))));
  }

  function testsSection(title, tests) {
    if (!tests || !tests.length) return section(title, el("p", { className: "muted" }, "none yet"));
    const verdicts = tests.some((t) => t.runs !== undefined && t.runs !== null);
    const head = verdicts ? ["", "status", "runs", "reproduces", "hardware", "reason"] : ["", "status", "reason"];
    return section(title, table(head, tests.map((t) =>
      el("tr", { className: "test-row", dataset: { status: t.status, weightFormat: t.weight_format || "" } },
        el("td", {}, t.weight_format || t.tool || t.name, " ", t.report_url ? link(t.report_url, "report") : null),
        el("td", {}, statusBadge(t.status)),
        verdicts ? el("td", { className: "runs" }, yesNo(t.runs)) : null,
        verdicts ? el("td", { className: "reproduces" }, yesNo(t.reproduces)) : null,
        verdicts ? el("td", {}, hardwareList(t)) : null,
        el("td", {}, t.reason ? el("pre", { className: "reason" }, t.reason) : "", outputsList(t.outputs))))));
  }

  function validationSection(v) {
    if (!v) return section("Static validation", el("p", { className: "muted" }, "not run yet"));
    const rows = [];
    for (const kind of ["errors", "warnings"]) {
      for (const issue of v[kind] || []) {
        rows.push(el("tr", { className: kind === "errors" ? "error" : "warning" },
          el("td", {}, kind === "errors" ? "error" : "warning"),
          el("td", {}, el("code", {}, issue.field || "(description)")),
          el("td", {}, issue.msg)));
      }
    }
    return section("Static validation", el("p", {}, statusBadge(v.status), " ", v.report_url ? link(v.report_url, "full report") : null),
      rows.length ? table(["", "field", "message"], rows) : el("p", { className: "muted" }, "no errors or warnings"));
  }

  function scanSection(scan) {
    if (!scan) return section("Weight safety scan", el("p", { className: "muted" }, "not run yet"));
    const rows = [];
    for (const f of scan.files || []) {
      const flagged = f.flagged || [];
      const what = flagged.map((g) => el("div", { className: "error" },
        g.level === "dangerous" ? "dangerous global " : "global ", el("code", {}, g.global),
        g.where ? [" in ", el("code", {}, g.where)] : null, g.level === "dangerous" ? null : ": not known to be harmless"));
      if (f.error) what.push(el("div", { className: "error" }, "could not be scanned: " + f.error));
      if (f.problem) what.push(el("div", { className: "warn" }, f.problem));
      rows.push(el("tr", { className: "scan-row", dataset: { file: f.file } },
        el("td", {}, el("code", {}, f.file), f.weight_format ? el("div", { className: "muted small" }, f.weight_format) : null),
        el("td", {}, f.kind), el("td", {}, what.length ? what : el("span", { className: "muted" },
          "only harmless globals (" + f.harmless + ")"))));
    }
    const formats = Object.entries(scan.formats || {}).map(([wf, note]) => el("li", {}, el("strong", {}, wf), ": ", note));
    return section("Weight safety scan",
      el("p", { className: "scan-status" }, statusBadge(scan.status), " ", scan.scanner, " · ", scan.checked + " files checked, ",
        (scan.files || []).length + " with pickles (never loaded)"),
      rows.length ? table(["file", "scanned as", "globals"], rows, "scan") : null,
      formats.length ? el("ul", { className: "formats" }, formats) : null);
  }

  function short(sha) { return sha ? String(sha).slice(0, 12) + "…" : "–"; }
  function size(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en") + " B"; }

  function changesSection(c) {
    if (!c) return null;
    const title = "Changes since version " + c.old;
    if (!c.fields) return section(title, el("p", { className: "muted" }, "not computed for this draft (staged before diffs were kept); run `backoffice diff`"));
    const mark = { added: "+", removed: "−", changed: "~" };
    const fieldRows = c.fields.map((f) => el("tr", { className: "field-change", dataset: { change: f.change, field: f.field } },
      el("td", {}, mark[f.change]), el("td", {}, el("code", {}, f.field)),
      el("td", { className: "old" }, f.old === null ? "" : f.old), el("td", { className: "new" }, f.new === null ? "" : f.new)));
    const fileRows = c.files.map((f) => el("tr", { className: "file-change", dataset: { change: f.change, file: f.name } },
      el("td", {}, mark[f.change]), el("td", {}, el("code", {}, f.name)),
      el("td", {}, size(f.old_size), " → ", size(f.new_size)),
      el("td", { title: (f.old_sha256 || "") + " → " + (f.new_sha256 || "") }, short(f.old_sha256), " → ", short(f.new_sha256))));
    const verdictRows = (c.verdicts || []).map((v) => el("tr", { className: "verdict-change" },
      el("td", {}, el("code", {}, v.report)), el("td", {}, statusBadge(v.old || "none")), el("td", {}, statusBadge(v.new || "none"))));
    return section(title,
      el("h4", {}, "Description (" + c.fields.length + " fields changed)"),
      fieldRows.length ? table(["", "field", "version " + c.old, "draft"], fieldRows, "changes") : el("p", { className: "muted" }, "no field changed"),
      el("h4", {}, "Files (" + c.files.length + " changed)"),
      fileRows.length ? table(["", "file", "size", "sha256"], fileRows, "changes") : el("p", { className: "muted" }, "no file changed"),
      el("h4", {}, "Verdicts"),
      verdictRows.length ? table(["report", "version " + c.old, "draft"], verdictRows) : el("p", { className: "muted" }, "no reports yet"),
      c.truncated ? el("p", { className: "muted" }, "long values are clipped; `backoffice diff` shows them whole") : null);
  }

  function logSection(log) {
    if (!log || !log.length) return section("Log", el("p", { className: "muted" }, "no entries"));
    return section("Log", table(["time", "subject", "step", "actor", "message", "CI run"], log.map((e) =>
      el("tr", { className: "log-row" },
        el("td", { className: "nowrap" }, when(e.time)), el("td", {}, e.subject), el("td", {}, e.step),
        el("td", {}, e.actor || ""), el("td", {}, e.message), el("td", {}, e.run_url ? link(e.run_url, "run") : "")))));
  }

  function chatSection(chat) {
    if (!chat || !chat.length) return section("Chat", el("p", { className: "muted" }, "no messages"));
    return section("Chat", el("ol", { className: "chat" }, chat.map((m) =>
      el("li", { className: "chat-message" }, el("div", { className: "chat-meta" }, m.author, " · ", when(m.time)),
        el("div", { className: "chat-text" }, m.text)))));
  }

  function draftDetail(d) {
    const draft = d.draft;
    if (!draft) return el("div", {}, el("p", {}, "This concept has no draft now."), logSection(d.log), chatSection(d.chat));
    const thumbs = draft.thumbnails || {};
    return el("div", { className: "detail" },
      el("div", { className: "detail-head" },
        (draft.covers || []).slice(0, 2).map((c) => image(thumbs[c] || c, "cover of " + draft.name, "detail-cover")),
        el("div", {},
          el("p", {}, draft.description),
          el("p", {}, "version ", el("strong", {}, draft.version || "?"), " · uploaded by ", draft.uploader || "?",
            " · staged ", when(draft.created)),
          el("p", {}, link(draft.rdf_source, "rdf.yaml"), draft.source ? [" · ", link(draft.source, "package")] : null),
          // publishing takes this digest of every file (publish --draft-sha256): a draft re-staged
          // or with any file changed since is refused
          el("p", {}, "draft sha256 (every file; publish with it) ",
            el("code", { className: "draft-sha256" }, draft.draft_sha256 || "? (run backoffice status)")),
          el("p", { className: "muted small" }, "rdf sha256 ", el("code", {}, draft.rdf_sha256 || "?")))),
      draft.warnings && draft.warnings.length
        ? section("Warnings", el("ul", { className: "warnings" }, draft.warnings.map((w) => el("li", {}, w)))) : null,
      validationSection(draft.validation),
      scanSection(draft.weight_scan),
      changesSection(draft.changes),
      testsSection("Tests per weight format", draft.tests),
      testsSection("Partner results", draft.partners),
      logSection(d.log),
      chatSection(d.chat));
  }

  function historyDetail(d) {
    const versions = (d.versions || []).map((v) => el("li", {}, "version ", el("strong", {}, versionLabel(v.version)), " ", statusBadge(v.status),
      " ", when(v.published), v.imported ? " · imported from the running collection" : v.published_by ? " by " + v.published_by : "",
      v.doi ? [" · DOI ", link("https://doi.org/" + v.doi, v.doi)] : null));
    const latest = (d.versions || [])[0] || {};
    return el("div", { className: "detail" }, section("Versions", el("ul", {}, versions)),
      testsSection("Tests of the latest version", latest.tests), latest.weight_scan ? scanSection(latest.weight_scan) : null,
      latest.partners ? testsSection("Partner results", latest.partners) : null,
      logSection(d.log), chatSection(d.chat));
  }

  async function loadDetail(id, render, into) {
    into.replaceChildren(el("p", { className: "muted" }, "Loading details…"));
    const d = await getJSON(DETAILS + encodeURIComponent(id) + ".json");
    into.replaceChildren(d ? render(d) : el("p", { className: "muted" }, "No details written for " + id + " yet."));
  }

  // ------------------------------------------------------------------ drafts page
  async function renderDrafts() {
    const data = await getJSON(DRAFTS);
    const drafts = ((data && data.collection) || []).slice();
    const rank = (s) => { const i = STATUS_ORDER.indexOf(s); return i < 0 ? STATUS_ORDER.length : i; };
    drafts.sort((a, b) => rank(a.status) - rank(b.status) || String(b.updated).localeCompare(String(a.updated)));
    const statuses = [...new Set(drafts.map((d) => d.status))].sort((a, b) => rank(a) - rank(b));
    const filter = el("select", { id: "status-filter", ariaLabel: "filter by status" },
      el("option", { value: "" }, "all statuses (" + drafts.length + ")"),
      statuses.map((s) => el("option", { value: s }, s + " (" + drafts.filter((d) => d.status === s).length + ")")));
    const tbody = el("tbody", {});
    for (const d of drafts) {
      const detailCell = el("td", { colSpan: 7 });
      const detailRow = el("tr", { className: "detail-row", hidden: "hidden" }, detailCell);
      const row = el("tr", { className: "draft-row", dataset: { status: d.status, id: d.id }, tabindex: "0" },
        el("td", { className: "emoji" }, d.id_emoji || ""),
        el("td", {}, el("div", { className: "name" }, d.name), el("div", { className: "muted small" }, d.id + (d.version ? " · " + d.version : ""))),
        el("td", {}, d.type), el("td", {}, d.uploader || ""), el("td", {}, statusBadge(d.status)),
        el("td", { className: "nowrap", title: when(d.created || d.updated) }, age(d.created || d.updated)),
        el("td", {}, statusBadge(d.test_summary ? d.test_summary.status : "untested")));
      const toggle = () => {
        detailRow.hidden = !detailRow.hidden;
        if (!detailRow.hidden && !detailCell.firstChild) loadDetail(d.id, draftDetail, detailCell);
      };
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", (ev) => { if (ev.key === "Enter") toggle(); });
      tbody.append(row, detailRow);
    }
    const apply = () => {
      for (const row of tbody.querySelectorAll("tr.draft-row")) {
        const show = !filter.value || row.dataset.status === filter.value;
        row.hidden = !show;
        if (!show) row.nextSibling.hidden = true;
      }
    };
    filter.addEventListener("change", apply);
    main.replaceChildren(
      el("div", { className: "toolbar" }, el("h2", {}, "Drafts"), filter),
      drafts.length
        ? el("table", { className: "drafts" },
          el("thead", {}, el("tr", {}, ["", "name", "type", "uploader", "status", "age", "tests"].map((h) => el("th", {}, h)))), tbody)
        : el("p", { className: "muted", id: "no-drafts" }, data ? "No drafts." : "collection_draft.json not found: run `backoffice generate-collection-json`."));
    markReady("drafts");
  }

  // ------------------------------------------------------------------ collection page
  function haystack(e) {
    return [e.id, e.name, e.description, e.type, (e.authors || []).join(" "), (e.tags || []).join(" ")].join(" ").toLowerCase();
  }

  function matches(e, terms) {
    for (const t of terms) {
      if (t.startsWith("tag:")) {
        const want = t.slice(4);
        if (!(e.tags || []).some((tag) => String(tag).toLowerCase().includes(want))) return false;
      } else {
        if (e._hay === undefined) e._hay = haystack(e); // built on the first search, not before the first render
        if (!e._hay.includes(t)) return false;
      }
    }
    return true;
  }

  // A concept's daily downloads (`<id>/downloads.json`, last 90 days) as a small inline SVG bar plot.
  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c);
    return node;
  }

  function downloadsPlot(series) {
    const days = (series && series.daily) || [];
    const w = 180, h = 36, bw = days.length ? w / days.length : w;
    const max = Math.max(1, ...days.map((d) => Number(d.downloads) || 0));
    const bars = days.map((d, i) => {
      const n = Number(d.downloads) || 0;
      const bh = n ? Math.max(1, (n / max) * (h - 2)) : 0;
      return svg("rect", { x: (i * bw).toFixed(2), y: (h - bh).toFixed(2), width: Math.max(bw - 0.4, 0.6).toFixed(2), height: bh.toFixed(2) },
        svg("title", {}, document.createTextNode(d.day + ": " + n)));
    });
    const first = days.length ? days[0].day : "", last = days.length ? days[days.length - 1].day : "";
    const plot = svg("svg", { class: "downloads-plot", viewBox: "0 0 " + w + " " + h, width: w, height: h, role: "img",
      "aria-label": "downloads per day, " + first + " to " + last }, svg("line", { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5 }), ...bars);
    const tools = Object.entries((series && series.tools) || {}).filter(([, n]) => n > 0).map(([t, n]) => t + " " + n).join(" · ");
    return el("div", { className: "downloads", title: "downloads per day, last 90 days (to " + last + ")" }, plot,
      el("div", { className: "muted small" }, "90 days to " + last + (tools ? " · " + tools : "")));
  }

  function downloadsLine(e) {
    if (typeof e.download_count !== "number") return null;
    const box = el("div", { className: "downloads-box" }, el("span", { className: "badge downloads-count" }, e.download_count + " downloads"));
    if (e.downloads_by_tool && Object.keys(e.downloads_by_tool).length && /^[a-z0-9-]+$/.test(e.id)) {
      getJSON("../" + encodeURIComponent(e.id) + "/downloads.json").then((series) => { if (series) box.append(downloadsPlot(series)); });
    }
    return box;
  }

  // A version as reviewers read it: `v1.0` for `1.0`; a label that is not a number (`v0`) as it is.
  function versionLabel(version) {
    return /^[0-9]/.test(String(version)) ? "v" + version : String(version);
  }

  function versionLine(v) {
    return el("li", { className: v.yanked ? "yanked" : null }, versionLabel(v.version), " · ", when(v.created).slice(0, 10),
      v.doi ? [" · ", link("https://doi.org/" + v.doi, "DOI " + v.doi)] : null, " · ", link(v.rdf_source, "rdf"),
      typeof v.download_count === "number" ? " · " + v.download_count + " downloads" : null,
      v.comment ? [" · ", el("span", { className: "comment" }, v.comment)] : null,
      v.yanked ? [" ", el("span", { className: "badge status-yanked", title: "yanked: never the latest; loadable by its exact id" }, "yanked"),
        " ", el("span", { className: "yank-reason" }, v.yanked)] : null);
  }

  function card(e, setQuery) {
    const covers = e.covers || [];
    const thumbs = e.thumbnails || {};
    const cover = covers.length ? thumbs[covers[0]] || covers[0] : null;
    const ts = e.test_summary || {};
    const score = typeof e.score === "number" ? e.score : null;
    const detail = el("div", { className: "card-detail", hidden: "hidden" });
    const historyBtn = el("button", { type: "button", className: "linkish" }, "history");
    historyBtn.addEventListener("click", () => {
      detail.hidden = !detail.hidden;
      historyBtn.closest("article").classList.toggle("expanded", !detail.hidden);
      if (!detail.hidden && !detail.firstChild) loadDetail(e.id, historyDetail, detail);
    });
    return el("article", { className: "card", dataset: { id: e.id } },
      image(cover, "cover of " + e.name, "card-cover"),
      el("div", { className: "card-body" },
        el("h3", {}, el("span", { className: "emoji" }, e.id_emoji || ""), " ", e.name),
        el("div", { className: "muted small" }, e.id, " · ", e.type, " · ", e.license || "no license"),
        el("p", { className: "description" }, e.description),
        el("div", { className: "badges" }, statusBadge(ts.status || "untested"),
          (ts.badges || []).map((b) => el("span", { className: "badge small status-" + String(b.status).replace(/[^a-z]+/gi, "-"),
            title: b.runs === undefined || b.runs === null ? null : "runs: " + yesNo(b.runs) + ", reproduces: " + yesNo(b.reproduces)
              + Object.entries(b.by_hardware || {}).map(([hw, o]) => "; " + hw + ": " + o).join("") }, b.label + ": " + b.status)),
          score !== null ? el("span", { className: "badge score" }, "score " + score.toFixed(2)) : null),
        el("div", { className: "tags" }, (e.tags || []).map((t) => el("button", { type: "button", className: "tag", onclick: () => setQuery("tag:" + t) }, t))),
        downloadsLine(e),
        el("ul", { className: "versions" }, (e.versions || []).map(versionLine)),
        el("div", {}, e.concept_doi ? ["concept DOI ", link("https://doi.org/" + e.concept_doi, e.concept_doi), " · "] : null, historyBtn),
        detail));
  }

  async function renderCollection() {
    const data = await getJSON(INDEX);
    const entries = (data && data.collection) || [];
    const search = el("input", { id: "search", type: "search", placeholder: "search names, ids, authors; tag:segmentation", ariaLabel: "search" });
    const count = el("span", { className: "muted", id: "count" });
    const grid = el("div", { className: "grid", id: "cards" });
    const sentinel = el("div", { className: "sentinel" });
    let shown = [];
    let next = 0;
    const more = () => {
      const end = Math.min(shown.length, next + BATCH);
      const frag = document.createDocumentFragment();
      for (; next < end; next++) frag.append(card(shown[next], setQuery));
      grid.append(frag);
    };
    const update = () => {
      const terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      shown = terms.length ? entries.filter((e) => matches(e, terms)) : entries;
      next = 0;
      grid.replaceChildren();
      count.textContent = shown.length + " of " + entries.length;
      more();
    };
    function setQuery(q) { search.value = q; update(); }
    let timer = null;
    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 120); });
    new IntersectionObserver((obs) => { if (obs.some((o) => o.isIntersecting) && next < shown.length) more(); }, { rootMargin: "800px" }).observe(sentinel);
    main.replaceChildren(el("div", { className: "toolbar" }, el("h2", {}, "Collection"), search, count),
      ...(entries.length ? [] : [el("p", { className: "muted" }, data ? "Nothing published yet." : "collection.json not found.")]), grid, sentinel);
    update();
    markReady("collection");
  }

  // ------------------------------------------------------------------ compatibility page
  function partnerRows(value) {
    // tolerant reading: {resource: {status, error}} | {resource: "passed"} | [{id|resource, status, error}]
    //                   | {passed: [ids], failed: [{id, error}|id]}
    const rows = [];
    const push = (id, v) => {
      if (v && typeof v === "object") rows.push({ id: v.id || v.resource || id, status: v.status || "unknown", reason: v.error || v.reason || "", score: v.score });
      else rows.push({ id, status: String(v), reason: "" });
    };
    if (Array.isArray(value)) value.forEach((v, i) => push(String(i), v));
    else if (value && typeof value === "object") {
      const lists = ["passed", "failed", "not-applicable"].filter((k) => Array.isArray(value[k]));
      if (lists.length) for (const k of lists) for (const v of value[k]) push(typeof v === "string" ? v : "", typeof v === "string" ? { status: k } : Object.assign({ status: k }, v));
      else for (const [id, v] of Object.entries(value.resources || value)) push(id, v);
    }
    return rows;
  }

  async function renderCompatibility() {
    const [compat, index] = await Promise.all([getJSON(COMPAT), getJSON(INDEX)]);
    const partners = (index && index.partners) || [];
    const parts = [el("div", { className: "toolbar" }, el("h2", {}, "Compatibility"))];
    const tools = compat && compat.tools && typeof compat.tools === "object" ? compat.tools : null;
    const partnerTools = tools ? Object.entries(tools).filter(([name, t]) => name !== "bioimageio.core" && ((t.works || []).length || (t.fails || []).length)) : [];
    if (!compat || (tools && !partnerTools.length)) {
      parts.push(el("p", { id: "no-compat" }, "No partner compatibility reports yet."));
      if (partners.length) parts.push(el("p", { className: "muted" }, "Partners: ", partners.map((p) => p.name || p.id).join(", ")));
    }
    if (!compat) {
      // nothing more to show
    } else if (tools) {
      // {name, tools: {<tool>: {name, partners: [...], works: [item], fails: [item], not_applicable}}}
      for (const [tool, t] of Object.entries(compat.tools)) {
        const items = [...(t.works || []).map((i) => Object.assign({ status: "passed" }, i)),
          ...(t.fails || []).map((i) => Object.assign({ status: "failed" }, i))];
        const who = (t.partners || []).map((p) => p.name || p.id).join(", ");
        parts.push(el("section", { className: "detail-section tool", dataset: { tool } },
          el("h3", {}, (t.name || tool) + " — " + (t.works || []).length + " work, " + (t.fails || []).length + " fail" +
            (t.not_applicable ? ", " + t.not_applicable + " not applicable" : "")),
          who ? el("p", { className: "muted" }, "partners: ", who) : null,
          items.length ? table(["resource", "version", "status", "tool version", "score", "reason"], items.map((i) =>
            el("tr", { className: "compat-row", dataset: { status: i.status } },
              el("td", {}, i.id), el("td", {}, i.version), el("td", {}, statusBadge(i.status)),
              el("td", {}, i.report ? link(i.report, i.tool_version || "report") : i.tool_version || ""),
              el("td", {}, typeof i.score === "number" ? i.score.toFixed(2) : ""),
              el("td", {}, i.reason ? el("pre", { className: "reason" }, String(i.reason)) : ""))))
            : el("p", { className: "muted" }, "no reports yet")));
      }
    } else {
      const byPartner = compat.partners && typeof compat.partners === "object" && !Array.isArray(compat.partners) ? compat.partners : compat;
      for (const [partner, value] of Object.entries(byPartner)) {
        if (partner === "generated" || partner === "format_version") continue;
        const rows = partnerRows(value);
        const ok = rows.filter((r) => r.status === "passed").length;
        parts.push(section(partner + " — " + ok + " of " + rows.length + " work",
          table(["resource", "status", "score", "reason"], rows.map((r) => el("tr", { dataset: { status: r.status } },
            el("td", {}, r.id), el("td", {}, statusBadge(r.status)), el("td", {}, typeof r.score === "number" ? r.score.toFixed(2) : ""),
            el("td", {}, r.reason ? el("pre", { className: "reason" }, String(r.reason)) : ""))))));
      }
    }
    main.replaceChildren(...parts);
    markReady("compatibility");
  }

  // ------------------------------------------------------------------ routing
  const pages = { drafts: renderDrafts, collection: renderCollection, compatibility: renderCompatibility };
  function route() {
    const page = pages[location.hash.slice(1)] ? location.hash.slice(1) : "drafts";
    for (const name of Object.keys(pages)) document.getElementById("nav-" + name).classList.toggle("active", name === page);
    delete document.body.dataset.ready;
    pages[page]().catch((err) => { main.replaceChildren(el("p", { className: "error" }, "Could not render: " + err)); });
  }
  window.addEventListener("hashchange", route);
  route();
})();
