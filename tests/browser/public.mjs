// Browser scenario for the public pages (hosting monitor and register of removal orders), run
// by crates/server/tests/browser_public.rs against a real server on loopback with seeded
// cases and one published order. Exits non-zero on the first failed expectation.
//
// Env: BASE_URL, FAST_ORG, SLOW_ORG (hosting organisations seeded), ORDER_REFERENCE (the
// published order), SECRETS (JSON array of every URL and digest seeded: none may appear on a
// public page), SCREENSHOTS (output directory), CHROMIUM (browser binary).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const BASE = env("BASE_URL");
const FAST = env("FAST_ORG");
const SLOW = env("SLOW_ORG");
const REFERENCE = env("ORDER_REFERENCE");
const SECRETS = JSON.parse(env("SECRETS"));
const SHOTS = env("SCREENSHOTS");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});

function step(name) {
  console.log(`- ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** No reported URL or digest in the page's markup, nor any request to another origin. */
async function assertNothingReported(page, requests) {
  const html = await page.content();
  for (const s of SECRETS) {
    assert.ok(!html.includes(s), `${page.url()} shows reported material: ${s}`);
  }
  assert.ok(!html.includes("reported.example"), `${page.url()} names a reported site`);
  for (const r of requests) {
    assert.equal(new URL(r).origin, new URL(BASE).origin, `request to another origin: ${r}`);
  }
}

let current = null;

try {
  const ctx = await browser.newContext({ locale: "en-GB" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  current = page;
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));

  // --- ranking ----------------------------------------------------------------------------
  step("ranking page: table with both organisations, export links, methodology");
  const resp = await page.goto(`${BASE}/monitor?min=1`);
  assert.equal(resp.status(), 200);
  assert.match(await page.title(), /monitor/i);
  const table = page.getByRole("table").first();
  await table.waitFor({ state: "visible" });
  const rows = table.locator("tbody tr");
  assert.ok((await rows.count()) >= 2, `ranking rows: ${await rows.count()}`);
  const names = await table.locator("tbody th[scope=row]").allTextContents();
  assert.ok(names.some((n) => n.includes(FAST)), `ranking: ${names}`);
  assert.ok(names.some((n) => n.includes(SLOW)), `ranking: ${names}`);
  // The never-removed host ranks worst (first); the rank column is numeric for both.
  assert.ok(names[0].includes(SLOW), `worst first: ${names}`);
  const csv = page.locator('a[href^="/monitor.csv"]');
  const json = page.locator('a[href^="/monitor.json"]');
  assert.ok(await csv.isVisible(), "CSV export link visible");
  assert.ok(await json.isVisible(), "JSON export link visible");
  assert.ok(await page.locator("#method").count(), "methodology section");
  await assertNothingReported(page, requests);
  await shot(page, "monitor");

  step("the export links serve CSV and JSON with the method version");
  const csvResp = await page.request.get(new URL(await csv.getAttribute("href"), BASE).href);
  assert.equal(csvResp.status(), 200);
  assert.match(csvResp.headers()["content-type"], /text\/csv/);
  const csvText = await csvResp.text();
  assert.ok(csvText.includes(FAST), "CSV names the organisation");
  const jsonResp = await page.request.get(new URL(await json.getAttribute("href"), BASE).href);
  assert.equal(jsonResp.status(), 200);
  const report = await jsonResp.json();
  assert.ok(report.method_version, `method version in JSON: ${Object.keys(report)}`);
  for (const s of SECRETS) {
    assert.ok(!csvText.includes(s) && !JSON.stringify(report).includes(s), `export leaks ${s}`);
  }

  // --- one organisation -------------------------------------------------------------------
  step("organisation page from the ranking link: figures and two SVG charts with titles");
  await Promise.all([
    page.waitForURL(/\/monitor\/org\//),
    page.getByRole("link", { name: FAST, exact: true }).click(),
  ]);
  assert.match(await page.textContent("h1"), new RegExp(FAST.replace(/[.]/g, "\\.")));
  const charts = page.locator('svg[role="img"]');
  assert.equal(await charts.count(), 2, "histogram and trend");
  for (let i = 0; i < 2; i++) {
    const chart = charts.nth(i);
    assert.ok(await chart.isVisible(), `chart ${i} visible`);
    const title = (await chart.locator(":scope > title").textContent()) || "";
    assert.ok(title.trim().length > 0, `chart ${i} has a title`);
    const labelled = await chart.getAttribute("aria-labelledby");
    assert.ok(labelled && labelled.includes("-title"), `chart ${i} is labelled by its title`);
  }
  const box = await charts.first().boundingBox();
  assert.ok(box && box.width > 100 && box.height > 50, `chart size ${JSON.stringify(box)}`);
  assert.ok(await page.getByRole("heading", { name: /Right of reply/ }).isVisible());
  await assertNothingReported(page, requests);
  await shot(page, "monitor-org");

  // --- register ---------------------------------------------------------------------------
  step("register: the published order with its penalty, the reply, JSON and CSV links");
  await page.goto(`${BASE}/register`);
  const reg = page.getByRole("table");
  await reg.waitFor({ state: "visible" });
  const regRows = reg.locator("tbody tr");
  assert.equal(await regRows.count(), 1, "one published order");
  const cells = await regRows.first().locator("td").allTextContents();
  assert.equal(cells[0], REFERENCE);
  assert.equal(cells[1], SLOW);
  assert.equal(cells[6], "penalty_running", `state: ${cells}`);
  assert.equal(cells[7], "periodic", `penalty: ${cells}`);
  assert.match(cells[8], /^€ \d+\.\d\d$/, `amount: ${cells}`);
  assert.ok(await page.locator('a[href="register.json"]').isVisible());
  assert.ok(await page.locator('a[href="register.csv"]').isVisible());
  assert.ok((await page.textContent("body")).includes("We have appealed."));
  await assertNothingReported(page, requests);
  await shot(page, "register");

  const regJson = await page.request.get(`${BASE}/register.json`);
  const regData = await regJson.json();
  assert.equal(regData.orders.length, 1);
  assert.equal(regData.orders[0].reference, REFERENCE);
  for (const s of SECRETS) {
    assert.ok(!JSON.stringify(regData).includes(s), `register.json leaks ${s}`);
  }
  await ctx.close();
  console.log("ok");
} catch (e) {
  console.error(e);
  if (current && !current.isClosed()) {
    console.error(`at ${current.url()}:\n${await current.innerText("body").catch(() => "")}`);
    await shot(current, "public-failure").catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
