// Browser scenario for the provider portal, run by crates/server/tests/browser_portal.rs
// against a real server on loopback. Exits non-zero on the first failed expectation.
//
// Env: BASE_URL, PASSWORD, NOTICE_ID, NOTICE_REF, NOTICE_URL (org A's sent notice),
// FOREIGN_NOTICE (org B's), SCREENSHOTS, CHROMIUM (browser binary).

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
const NOTICE = env("NOTICE_ID");
const REF = env("NOTICE_REF");
const URL_TEXT = env("NOTICE_URL");
const FOREIGN = env("FOREIGN_NOTICE");
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

let current = null;

try {
  const ctx = await browser.newContext({ locale: "en-GB" });
  const page = await ctx.newPage();
  current = page;
  page.setDefaultTimeout(15000);
  // Nothing the portal loads may come from anywhere but schoon.
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(BASE)) foreign.push(r.url());
  });

  step("the provider user logs in and opens the portal from the menu");
  await page.goto(`${BASE}/ui/login`);
  await page.getByLabel(/User name|Gebruikersnaam/).fill("pia");
  await page.getByLabel(/^(Password|Wachtwoord)$/).fill(PASSWORD);
  await Promise.all([page.waitForLoadState("load"), page.click("#login-submit")]);
  await Promise.all([
    page.waitForURL(/\/ui\/portal\/overview/),
    page.getByRole("link", { name: /Meldingen en hits|Notices and hits/ }).click(),
  ]);

  step("the notice, its URL (as text) and the counts are shown");
  const row = page.locator(`#portal-notice-${NOTICE}`);
  assert.ok((await row.textContent()).includes(REF));
  assert.ok((await row.textContent()).includes("wacht op uw reactie"));
  assert.ok((await page.textContent("#portal-cases")).includes(URL_TEXT));
  assert.equal(await page.locator("#portal-count-notices .count").textContent(), "1");
  // The case URL is never loaded as an image.
  assert.equal(await page.locator(`img[src*="hosted.example"]`).count(), 0);
  await shot(page, "portal");

  step("switching to English shows the deadline in English");
  await page.selectOption("#lang-switch", "en");
  await Promise.all([page.waitForURL(/\/ui\/portal\/overview/), page.click("#lang-save")]);
  assert.ok((await page.textContent("h1")).includes("Provider portal"));
  assert.match(await row.textContent(), /\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}, \d\d:\d\d UTC/);

  step("the provider acknowledges the notice with a statement, by keyboard-accessible form");
  await Promise.all([
    page.waitForURL(new RegExp(`/ui/portal/notices/${NOTICE}$`)),
    page.click(`#portal-notice-${NOTICE} a`),
  ]);
  assert.ok((await page.textContent("#portal-notice-urls")).includes(URL_TEXT));
  await page.getByLabel(/Acknowledge: we are acting/).check();
  await page.getByLabel("Statement").fill("Removed, ticket 4711.");
  await page.setInputFiles("#statement-file", {
    name: "ticket.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("ticket 4711: removed (synthetic test file)\n"),
  });
  await Promise.all([page.waitForURL(/done=1/), page.click("#respond-submit")]);
  assert.ok((await page.textContent(".flash")).includes("Your response was recorded"));
  assert.ok((await page.textContent("#portal-notice-status")).includes("acknowledged"));
  const responses = await page.textContent("#portal-responses");
  assert.ok(responses.includes("Removed, ticket 4711."));
  assert.ok(responses.includes("ticket.txt"));

  step("another organisation's notice is not found");
  const r = await page.goto(`${BASE}/ui/portal/notices/${FOREIGN}`);
  assert.equal(r.status(), 404);

  step("the provider creates an API key; its secret is shown once, after a redirect");
  await page.goto(`${BASE}/ui/portal/overview`);
  await Promise.all([
    page.waitForURL(/\/ui\/portal\/keys/),
    page.getByRole("link", { name: "API keys" }).click(),
  ]);
  const keyRows = () => page.locator("#portal-keys tbody tr").count();
  const before = await keyRows();
  await page.getByLabel("Label").fill("ticket system");
  await Promise.all([page.waitForURL(/\/ui\/portal\/keys\?done=created$/), page.click("#create-key")]);
  const token = (await page.textContent("#new-key-token")).trim();
  assert.match(token, /^[^.]+\.[^.]+$/);
  const keyId = token.split(".")[0];
  assert.equal((await page.textContent("#new-key-label")).trim(), "ticket system");
  assert.ok((await page.textContent("#portal-keys")).includes("ticket system"));
  assert.equal(await keyRows(), before + 1);
  // The sealed key's cookie was cleared by the page that showed it.
  assert.deepEqual((await ctx.cookies()).filter((c) => c.name === "schoon_key_flash"), []);
  await shot(page, "portal-keys");

  step("reloading the page shows no secret and creates no key");
  await page.reload({ waitUntil: "load" });
  assert.match(page.url(), /\/ui\/portal\/keys\?done=created$/);
  assert.equal(await page.locator("#new-key-token").count(), 0);
  assert.ok(!(await page.innerText("body")).includes(token));
  assert.equal(await keyRows(), before + 1);
  await page.goto(`${BASE}/ui/portal/keys`);
  assert.equal(await page.locator("#new-key-token").count(), 0);
  assert.ok((await page.textContent("#portal-keys")).includes(keyId));
  assert.equal(await keyRows(), before + 1);
  console.log(`KEY_ID=${keyId}`);

  await page.goto(`${BASE}/ui/portal/overview`);
  assert.ok((await page.locator(`#portal-notice-${NOTICE}`).textContent()).includes("acknowledged"));
  assert.deepEqual(foreign, []);
  await ctx.close();
  console.log("ok");
} catch (e) {
  console.error(e);
  if (current && !current.isClosed()) {
    console.error(`at ${current.url()}:\n${await current.innerText("body").catch(() => "")}`);
    await shot(current, "portal-failure").catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
