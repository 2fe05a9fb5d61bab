// Browser scenario for the administration pages, run by crates/server/tests/browser_admin.rs
// against a real server on loopback: the admin changes a policy (and sees it after a reload),
// sees a refused value next to its field, creates a hash list, uploads a small list file and
// reads the import summary, and opens system health. Exits non-zero on the first failure.
//
// Env: BASE_URL, PASSWORD, SCREENSHOTS, CHROMIUM (browser binary).

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
  const ctx = await browser.newContext({ locale: "en-GB", viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  current = page;
  page.setDefaultTimeout(15000);

  step("admin logs in and finds the administration pages in the menu");
  await page.goto(`${BASE}/ui/login`);
  await page.getByLabel(/User name|Gebruikersnaam/).fill("adam");
  await page.getByLabel(/^(Password|Wachtwoord)$/).fill(PASSWORD);
  await Promise.all([page.waitForLoadState("load"), page.click("#login-submit")]);
  for (const href of ["/ui/manage/policy", "/ui/manage/lists", "/ui/manage/health"]) {
    assert.equal(await page.locator(`nav a[href="${href}"]`).count(), 1, href);
  }

  step("the admin changes the hoster reminder interval; the saved value is shown after a reload");
  await page.click('nav a[href="/ui/manage/policy"]');
  // Every control has a label: fill it through its label, as a screen reader user would.
  const reminder = page.getByLabel(/Hours between hoster reminders|Uren tussen herinneringen aan de hoster/);
  assert.equal(await reminder.inputValue(), "24");
  await reminder.fill("36");
  await page.getByLabel(/Send notices only inside the window|Notices alleen binnen het venster/).check();
  await Promise.all([page.waitForURL(/saved=1/), page.click("#save-takedown")]);
  assert.ok(await page.isVisible(".flash"));
  await page.reload();
  assert.equal(await page.inputValue("#f-hoster_reminder_hours"), "36");
  assert.ok(await page.isChecked("#f-window_enabled"));

  step("a refused value is shown next to its field, the other values kept");
  await page.fill("#f-early_check_interval_minutes", "999");
  await Promise.all([page.waitForLoadState("load"), page.click("#save-takedown")]);
  const err = page.locator("#e-early_check_interval_minutes");
  assert.ok(await err.isVisible());
  assert.match(await err.textContent(), /early_check_interval_minutes/);
  assert.equal(await page.getAttribute("#f-early_check_interval_minutes", "aria-invalid"), "true");
  assert.equal(await page.inputValue("#f-hoster_reminder_hours"), "36");
  await page.goto(`${BASE}/ui/manage/policy`);
  assert.equal(await page.inputValue("#f-early_check_interval_minutes"), "15");
  await shot(page, "admin-policy");

  step("the admin creates a list and uploads a small list file");
  await page.goto(`${BASE}/ui/manage/lists`);
  await page.getByLabel(/^(Name|Naam)$/).fill("browser-known");
  await Promise.all([page.waitForURL(/\/ui\/manage\/lists\/\d+\?created=1/), page.click("#create-list")]);
  const a = "a".repeat(32), b = "b".repeat(32), c = "c".repeat(32);
  await page.setInputFiles("#upload-file", {
    name: "small-list.txt",
    mimeType: "text/plain",
    buffer: Buffer.from(`# three MD5 values and one repeat\n${a}\n${b}\n${c}\n${a}\n`),
  });
  await page.selectOption("#upload-type", "md5");
  await page.fill("#upload-source", "browser test");
  await Promise.all([page.waitForURL(/added=3/), page.click("#upload-submit")]);
  assert.equal((await page.textContent("#summary-added")).trim(), "3");
  assert.equal((await page.textContent("#summary-duplicates")).trim(), "1");
  assert.equal((await page.textContent("#active-count")).trim(), "3");
  assert.ok((await page.textContent("#entries-table")).includes(b));
  await shot(page, "admin-lists");
  await page.goto(`${BASE}/ui/manage/lists`);
  assert.match(await page.textContent("#lists-table"), /browser-known[\s\S]*3/);

  step("the admin opens system health");
  await page.click('nav a[href="/ui/manage/health"]');
  assert.match(await page.textContent("#db-status"), /reachable|bereikbaar/);
  assert.ok(await page.isVisible("#jobs-table"));
  assert.ok(await page.isVisible("#outbox-table"));
  await shot(page, "admin-health");
  await ctx.close();
  console.log("ok");
} catch (e) {
  console.error(e);
  if (current && !current.isClosed()) {
    console.error(`at ${current.url()}:\n${await current.innerText("body").catch(() => "")}`);
    await shot(current, "admin-failure").catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
