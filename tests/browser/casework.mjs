// Browser scenario for the analysts' casework pages, run by
// crates/server/tests/browser_casework.rs against a real server on loopback. Exits non-zero on
// the first failed expectation.
//
// Env: BASE_URL, PASSWORD, REPORT_ONE (awaiting classification, with evidence), CASE_NEEDS (a
// needs-contact case), SCREENSHOTS, CHROMIUM (browser binary).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const BASE = env("BASE_URL");
const PASSWORD = env("PASSWORD");
const ONE = env("REPORT_ONE");
const CASE = env("CASE_NEEDS");
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

const count = async (page, sel) => Number(await page.getAttribute(sel, "data-count"));

const ctx = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 } });
const page = await ctx.newPage();
page.setDefaultTimeout(15000);

try {
  step("analyst logs in; the takedown queues have counts next to the classification queues");
  await page.goto(`${BASE}/ui/login`);
  await page.getByLabel(/User name|Gebruikersnaam/).fill("anna");
  await page.getByLabel(/^(Password|Wachtwoord)$/).fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/ui\/queues/), page.click("#login-submit")]);
  assert.equal(await count(page, "#queue-needs-contact .count"), 1);
  assert.equal(await count(page, "#queue-police .count"), 1);
  assert.equal(await count(page, "#queue-monitoring .count"), 1);
  assert.equal(await count(page, "#queue-changed-hoster .count"), 0);
  assert.ok((await count(page, "#queue-to-classify .count")) >= 3);

  step("the needs-contact queue lists the case with its URL as text");
  await Promise.all([page.waitForURL(/queue=needs-contact/), page.click("#open-needs-contact")]);
  const row = page.locator(`#case-row-${CASE}`);
  assert.ok(await row.isVisible());
  assert.match(await row.innerText(), /Quiet Hosting/);
  assert.match(await row.locator(".url").innerText(), /^http:\/\/127\.0\.0\.1:\d+\/i\//);
  // URLs of reported material are never links.
  assert.equal(await row.locator(".url a").count(), 0);
  await shot(page, "casework-queue");

  step("the case page shows timeline and attribution history; a manual contact releases it");
  await Promise.all([page.waitForURL(new RegExp(`/ui/cases/${CASE}$`)), row.locator("a").first().click()]);
  assert.equal(await page.textContent("#case-state"), "needs_contact");
  assert.match(await page.innerText("#case-events"), /contact_missing/);
  assert.match(await page.innerText("#case-attributions"), /rdap \(NET-LOOP\)/);
  await page.fill("#hoster_email", "abuse@quiet-hosting.example");
  await Promise.all([page.waitForURL(/done=contacts/), page.click("#save-contacts")]);
  assert.equal(await page.textContent("#case-state"), "monitoring");
  assert.ok(await page.isVisible(".flash"));
  assert.match(await page.innerText("#case-events"), /contact_resolved/);
  assert.match(await page.innerText("#case-attributions"), /manual user:/);
  assert.equal(await page.isVisible("#contacts-form"), false);
  await shot(page, "case");

  step("the queue is empty now and monitoring has one more");
  await page.goto(`${BASE}/ui/cases?queue=needs-contact`);
  assert.equal(await count(page, "#tab-needs-contact .count"), 0);
  assert.equal(await count(page, "#tab-monitoring .count"), 2);

  step("classification screen: zoom exists only for the revealed item and ends with it");
  await page.goto(`${BASE}/ui/reports/${ONE}`);
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll(".item img")).every((i) => i.complete && i.naturalWidth > 0),
  );
  const first = page.locator(".item").first();
  assert.equal(await first.locator(".casework-zoom").isVisible(), false, "zoom before reveal");
  const before = await first.locator(".reveal").boundingBox();
  await first.locator(".reveal").click();
  await page.waitForSelector(".item.revealed");
  await first.locator(".casework-zoom").click();
  await page.waitForSelector(".item.casework-zoomed");
  const after = await first.locator(".reveal").boundingBox();
  assert.ok(after.width > before.width * 1.5 && after.height > before.height * 1.5, "not zoomed");
  assert.equal(await first.locator("img").evaluate((i) => getComputedStyle(i).filter), "none");
  // Still the vault image through schoon.
  assert.match(await first.locator("img").getAttribute("src"), /^\/ui\/items\/\d+\/evidence$/);
  await shot(page, "report-zoom");
  await page.mouse.move(1, 1);
  await page.waitForSelector(".item.revealed", { state: "detached" });
  assert.equal(await page.locator(".item.casework-zoomed").count(), 0);
  assert.match(await first.locator("img").evaluate((i) => getComputedStyle(i).filter), /blur\(/);

  step("a note on the report is saved and shown, with the report's timeline");
  await page.fill("#note", "Looks like the same uploader as last week.");
  await Promise.all([page.waitForURL(/done=note/), page.click("#add-note")]);
  assert.match(await page.innerText("#note-list"), /same uploader/);
  assert.match(await page.innerText("#report-timeline"), /report\.note/);
  assert.match(await page.innerText("#report-timeline"), /item\.reveal/);
  // Every item is blurred again after the reload.
  for (const f of await page.$$eval(".item img", (imgs) => imgs.map((i) => getComputedStyle(i).filter))) {
    assert.match(f, /blur\(/);
  }
  console.log("ok");
} catch (e) {
  console.error(e);
  if (!page.isClosed()) {
    console.error(`at ${page.url()}:\n${await page.innerText("body").catch(() => "")}`);
    await shot(page, "casework-failure").catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
