// Browser scenario for the regulator officer's pages, run by
// crates/server/tests/browser_regulator.rs against a real server on loopback with one escalated
// takedown case and one overdue hit. Exits non-zero on the first failed expectation.
//
// Env: BASE_URL, USERNAME and PASSWORD (the officer), CASE_ESC and CASE_URL (the escalated
// case and its item URL), HIT_ESC and HIT_URL (the overdue hit and its content URL), REFERENCE
// (the order reference to give), SCREENSHOTS (output directory), CHROMIUM (browser binary).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const BASE = env("BASE_URL");
const USERNAME = env("USERNAME");
const PASSWORD = env("PASSWORD");
const CASE_ESC = env("CASE_ESC");
const CASE_URL = env("CASE_URL");
const HIT_ESC = env("HIT_ESC");
const HIT_URL = env("HIT_URL");
const REFERENCE = env("REFERENCE");
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

/**
 * Every visible form control has an accessible name: aria-label, aria-labelledby, a <label>,
 * its text (buttons) or value (input buttons), or a title. Gives the number checked.
 */
async function assertNamedControls(page) {
  const { checked, unnamed } = await page.$$eval("input, select, textarea, button", (els) => {
    const text = (s) => (s || "").replace(/\s+/g, " ").trim();
    const named = (el) =>
      text(el.getAttribute("aria-label")) ||
      (el.getAttribute("aria-labelledby") || "")
        .split(/\s+/)
        .some((id) => id && text(document.getElementById(id)?.textContent)) ||
      Array.from(el.labels || []).some((l) => text(l.textContent)) ||
      (el.tagName === "BUTTON" && text(el.textContent)) ||
      (el.tagName === "INPUT" && ["submit", "button", "reset"].includes(el.type) && text(el.value)) ||
      text(el.getAttribute("title"));
    const controls = els.filter((el) => el.type !== "hidden");
    return {
      checked: controls.length,
      unnamed: controls.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 160)),
    };
  });
  assert.deepEqual(unnamed, [], `${page.url()}: controls without an accessible name`);
  assert.ok(checked > 0, `${page.url()}: no controls checked`);
  return checked;
}

/** The reported URL is on the page as text, never as a link or an image. */
async function assertUrlAsTextOnly(page, url) {
  assert.ok((await page.textContent("body")).includes(url), `${url} not shown`);
  const host = new URL(url).host;
  assert.equal(await page.locator(`a[href*="${host}"]`).count(), 0, `a link to ${host}`);
  assert.equal(await page.locator(`[src*="${host}"]`).count(), 0, `a source from ${host}`);
  assert.equal(await page.locator("img").count(), 0, "an image on an officer page");
}

/** Tabs through the page until `selector` has the focus (keyboard reachability). */
async function tabTo(page, selector) {
  for (let i = 0; i < 100; i++) {
    await page.keyboard.press("Tab");
    if (await page.locator(selector).evaluate((el) => el === document.activeElement)) return;
  }
  assert.fail(`${selector} is not reachable with Tab`);
}

let current = null;

try {
  const ctx = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  current = page;

  step("the officer logs in and lands on the regulator queue");
  await page.goto(`${BASE}/ui/login`);
  await page.getByLabel(/User name|Gebruikersnaam/).fill(USERNAME);
  await page.getByLabel(/^(Password|Wachtwoord)$/).fill(PASSWORD);
  await Promise.all([page.waitForURL(/\/ui\/regulator\/queue$/), page.click("#login-submit")]);

  step("the queue shows the escalated case and the overdue hit, their URLs as text only");
  const caseRow = page.locator(`#esc-case-${CASE_ESC}`);
  assert.ok(await caseRow.isVisible());
  assert.equal((await caseRow.locator(".url").innerText()).trim(), CASE_URL);
  assert.match(await caseRow.innerText(), /Slow Hosting/);
  assert.equal(await page.getAttribute("#count-cases", "data-count"), "1");
  const hitRow = page.locator(`#esc-hit-${HIT_ESC}`);
  assert.ok(await hitRow.isVisible());
  assert.equal((await hitRow.locator(".url").first().innerText()).trim(), HIT_URL);
  assert.match(await hitRow.innerText(), /Silent Host/);
  assert.equal(await page.getAttribute("#count-hits", "data-count"), "1");
  await assertUrlAsTextOnly(page, CASE_URL);
  await assertUrlAsTextOnly(page, HIT_URL);
  console.log(`  queue: ${await assertNamedControls(page)} controls named`);
  await shot(page, "regulator-queue");

  step("the officer picks the case up with the keyboard");
  await tabTo(page, `#pick-up-case-${CASE_ESC}`);
  await Promise.all([page.waitForURL(/\/ui\/regulator\/queue\?done=picked$/), page.keyboard.press("Enter")]);
  assert.ok(await page.isVisible(".flash"));
  assert.equal(await page.getAttribute("#count-cases", "data-count"), "0");
  assert.equal(await page.getAttribute("#count-hits", "data-count"), "1", "the hit stays open");
  const picked = page.locator(`#picked-case-${CASE_ESC}`);
  assert.ok(await picked.isVisible());
  assert.equal((await picked.locator(".url").innerText()).trim(), CASE_URL);
  await assertUrlAsTextOnly(page, CASE_URL);
  await assertNamedControls(page);

  step("the order form: items from the case, the hoster prefilled, every field labelled");
  await Promise.all([
    page.waitForURL(new RegExp(`/ui/regulator/escalations/case/${CASE_ESC}/order$`)),
    page.click(`#open-order-case-${CASE_ESC}`),
  ]);
  const formUrl = page.url();
  assert.equal(await page.inputValue("#provider_name"), "Slow Hosting");
  assert.equal(await page.inputValue("#provider_email"), "abuse@slow.example");
  assert.match(await page.innerText("#order-items"), new RegExp(CASE_URL.replace(/[.?/]/g, "\\$&")));
  await assertUrlAsTextOnly(page, CASE_URL);
  console.log(`  order form: ${await assertNamedControls(page)} controls named`);
  // Filled through the labels, as a screen reader user would.
  const legal = page.getByLabel(/Legal basis|Wettelijke grondslag/i);
  assert.equal(await legal.getAttribute("id"), "legal_basis");
  await page.fill("#reference", REFERENCE);
  await page.selectOption("#deadline_hours", "12");

  step("an empty legal basis: the browser stops it first");
  await legal.fill("");
  await page.click("#save-draft");
  assert.equal(await legal.evaluate((el) => el.validity.valueMissing), true);
  assert.equal(page.url(), formUrl, "submitted despite the empty required field");

  step("a blank legal basis past the browser: the server's error, next to and linked to the field");
  await legal.fill("   ");
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && r.url() === formUrl),
    page.click("#save-draft"),
  ]);
  assert.equal(refused.status(), 422);
  await page.waitForLoadState("load");
  const err = page.locator("#legal_basis-error");
  assert.ok(await err.isVisible(), "per-field error shown");
  assert.ok((await err.innerText()).trim().length > 0, "error has text");
  assert.equal(await page.getAttribute("#legal_basis", "aria-invalid"), "true");
  const described = (await page.getAttribute("#legal_basis", "aria-describedby")) || "";
  assert.ok(described.split(/\s+/).includes("legal_basis-error"), `aria-describedby="${described}"`);
  assert.equal(await page.locator('label[for="legal_basis"]').count(), 1, "label for the field");
  // A summary is announced; only that field is in error; what was typed is kept.
  assert.equal(await page.getAttribute("#form-error", "role"), "alert");
  assert.equal(await page.locator(".error[id$='-error']:not(#form-error)").count(), 1);
  assert.equal(await page.inputValue("#reference"), REFERENCE);
  assert.equal(await page.inputValue("#deadline_hours"), "12");
  assert.equal(await page.inputValue("#provider_name"), "Slow Hosting");
  await assertNamedControls(page);
  await shot(page, "regulator-order-form");

  step("with the legal basis the draft is saved");
  await page.getByLabel(/Legal basis|Wettelijke grondslag/i).fill("art. 3 test act");
  await Promise.all([
    page.waitForURL(/\/ui\/regulator\/orders\/\d+\?done=created$/),
    page.click("#save-draft"),
  ]);
  assert.ok(await page.isVisible(".flash"));
  assert.equal((await page.textContent("#order-state")).trim(), "draft");
  assert.match(await page.textContent("h1"), new RegExp(REFERENCE));
  assert.match(await page.innerText("#order-document"), /art\. 3 test act/);
  assert.match(await page.innerText("#order-document"), /12 h/);
  await assertUrlAsTextOnly(page, CASE_URL);
  await assertNamedControls(page);

  step("the officer issues the order: signed, digest and signature shown");
  await Promise.all([page.waitForURL(/\?done=issued$/), page.click("#issue")]);
  assert.match((await page.textContent("#order-state")).trim(), /^(issued|delivered)/);
  assert.match((await page.textContent("#order-sha256")).trim(), /^[0-9a-f]{64}$/);
  assert.match((await page.textContent("#order-signature-hex")).trim(), /^[0-9a-f]{64,}$/);
  assert.equal(await page.locator("#issue").count(), 0, "no second issue");

  step("the officer publishes it");
  const unpublished = (await page.textContent("#order-published")).trim();
  await Promise.all([page.waitForURL(/\?done=published$/), page.click("#publish")]);
  assert.equal(await page.locator("#publish").count(), 0);
  assert.ok(await page.isVisible("#unpublish"));
  assert.notEqual((await page.textContent("#order-published")).trim(), unpublished);
  await assertUrlAsTextOnly(page, CASE_URL);
  console.log(`  order page: ${await assertNamedControls(page)} controls named`);
  await shot(page, "regulator-order");

  step("the public register shows the order's reference, not the material");
  const resp = await page.goto(`${BASE}/register`);
  assert.equal(resp.status(), 200);
  const cells = await page.getByRole("table").locator("tbody td").allTextContents();
  assert.ok(cells.map((c) => c.trim()).includes(REFERENCE), `register: ${cells}`);
  assert.ok(!(await page.content()).includes(CASE_URL), "the register shows the reported URL");

  await ctx.close();
  console.log("ok");
} catch (e) {
  console.error(e);
  if (current && !current.isClosed()) {
    console.error(`at ${current.url()}:\n${await current.innerText("body").catch(() => "")}`);
    await shot(current, "regulator-failure").catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
