// Browser scenario for the schoon web UI, run by crates/server/tests/browser.rs against a real
// server on loopback. Exits non-zero on the first failed expectation.
//
// Env: BASE_URL, SITE_ORIGIN (the reported site: no image may come from it), PASSWORD,
// REPORT_ONE, REPORT_TWO (tenant A), REPORT_FOREIGN, FOREIGN_ITEM (tenant B), SCREENSHOTS,
// CHROMIUM (browser binary).

import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`missing env ${k}`);
  return v;
};
const BASE = env("BASE_URL");
const SITE = env("SITE_ORIGIN");
const PASSWORD = env("PASSWORD");
const ONE = env("REPORT_ONE");
const TWO = env("REPORT_TWO");
const FOREIGN = env("REPORT_FOREIGN");
const FOREIGN_ITEM = env("FOREIGN_ITEM");
const SHOTS = env("SCREENSHOTS");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});

// RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) over RFC 4226 HOTP, written here so the
// test does not trust the server's own implementation.
function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.replace(/[\s=]/g, "").toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(secretB32, unixMs = Date.now()) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixMs / 1000 / 30)));
  const h = crypto.createHmac("sha1", base32Decode(secretB32)).update(counter).digest();
  const o = h[h.length - 1] & 0x0f;
  const bin = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(bin % 1_000_000).padStart(6, "0");
}

// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 are the 6-digit code).
assert.equal(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59_000), "287082");
assert.equal(totp("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1_111_111_109_000), "081804");

function step(name) {
  console.log(`- ${name}`);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

let current = null;

async function newPage() {
  const ctx = await browser.newContext({ locale: "en-GB" });
  const page = await ctx.newPage();
  current = page;
  page.setDefaultTimeout(15000);
  return { ctx, page };
}

async function login(page, user, password = PASSWORD) {
  await page.goto(`${BASE}/ui/login`);
  await page.getByLabel(/User name|Gebruikersnaam/).fill(user);
  await page.getByLabel(/^(Password|Wachtwoord)$/).fill(password);
  await Promise.all([page.waitForLoadState("load"), page.click("#login-submit")]);
}

async function logout(page) {
  await Promise.all([page.waitForURL(/\/ui\/login/), page.click("#logout")]);
}

async function filters(page) {
  return page.$$eval(".item img", (imgs) => imgs.map((i) => getComputedStyle(i).filter));
}

async function itemStates(page) {
  return page.$$eval(".item", (lis) => lis.map((li) => li.dataset.state));
}

try {
  // --- login: wrong password shows an error; five failures lock the account -------------
  {
    const { ctx, page } = await newPage();
    step("wrong password shows an error");
    await login(page, "anna", "wrong password!");
    assert.match(await page.textContent("#login-error"), /Onjuiste|Wrong/);
    assert.ok(page.url().endsWith("/ui/login"));
    await shot(page, "login-error");

    step("five failures lock the account, then even the right password is refused");
    for (let i = 1; i <= 5; i++) {
      await login(page, "lucy", `wrong ${i} password`);
    }
    assert.match(await page.textContent("#login-error"), /geblokkeerd|locked/);
    await login(page, "lucy");
    assert.match(await page.textContent("#login-error"), /geblokkeerd|locked/);
    assert.ok(page.url().endsWith("/ui/login"), "locked user must stay on the login page");
    await ctx.close();
  }

  // --- analyst: queue, blurred grid, reveal, bulk classification --------------------------
  const { ctx: annaCtx, page } = await newPage();
  step("analyst logs in and sees the queue counts");
  await login(page, "anna");
  await page.waitForURL(/\/ui\/queues/);
  const toClassify = Number(await page.getAttribute("#queue-to-classify .count", "data-count"));
  assert.ok(toClassify >= 6, `to classify: ${toClassify}`);
  assert.equal(await page.getAttribute("#queue-to-verify .count", "data-count"), "0");
  assert.ok(await page.isVisible(`#queue-to-classify a[href="/ui/reports/${ONE}"]`));
  await shot(page, "queues");

  step("classification screen: every image is blurred, greyscale and served by schoon");
  await page.click(`#queue-to-classify a[href="/ui/reports/${ONE}"]`);
  await page.waitForURL(new RegExp(`/ui/reports/${ONE}`));
  await page.waitForFunction(() =>
    Array.from(document.querySelectorAll(".item img")).every((i) => i.complete && i.naturalWidth > 0),
  );
  const srcs = await page.$$eval("img", (imgs) => imgs.map((i) => i.src));
  assert.equal(srcs.length, 3);
  for (const src of srcs) {
    const u = new URL(src);
    assert.equal(u.origin, new URL(BASE).origin, `image not served by schoon: ${src}`);
    assert.match(u.pathname, /^\/ui\/items\/\d+\/evidence$/);
    assert.ok(!src.startsWith(SITE), `hot-linked: ${src}`);
  }
  for (const f of await filters(page)) {
    assert.match(f, /blur\(/, `not blurred: ${f}`);
    assert.match(f, /grayscale\(1\)/, `not greyscale: ${f}`);
  }
  await shot(page, "report-blurred");

  step("click reveals one item (audited, counted) and it re-blurs when the pointer leaves");
  assert.equal(await page.textContent("#exposure-count"), "0");
  const first = page.locator(".item").first();
  await first.locator(".reveal").click();
  await page.waitForSelector(".item.revealed");
  assert.equal(await first.locator("img").evaluate((i) => getComputedStyle(i).filter), "none");
  const others = (await filters(page)).slice(1);
  for (const f of others) assert.match(f, /blur\(/, "only one item may be revealed");
  assert.equal(await page.textContent("#exposure-count"), "1");
  await shot(page, "report-revealed");
  await page.mouse.move(1, 1);
  await page.waitForSelector(".item.revealed", { state: "detached" });
  assert.match((await filters(page))[0], /blur\(/);

  step("bulk classification: select all three, Baseline");
  for (const box of await page.$$(".item input[type=checkbox]")) await box.check();
  await Promise.all([
    page.waitForURL(/done=1/),
    page.click("#classify-form button[value=baseline]"),
  ]);
  assert.deepEqual(await itemStates(page), Array(3).fill("awaiting_verification"));
  assert.equal(await page.isVisible("#classify-form"), false);

  step("keyboard only: Tab to an item, Enter reveals, 3 classifies it");
  await page.goto(`${BASE}/ui/reports/${TWO}`);
  const tabTo = async (pred) => {
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(pred)) return;
    }
    throw new Error("focus never reached the target");
  };
  await tabTo(() => document.activeElement?.classList.contains("reveal"));
  await page.keyboard.press("Enter");
  await page.waitForSelector(".item.revealed");
  assert.equal(await page.textContent("#exposure-count"), "2");
  await Promise.all([page.waitForNavigation(), page.keyboard.press("3")]);
  let states = await itemStates(page);
  assert.equal(states.filter((s) => s === "awaiting_classification").length, 2, `states ${states}`);

  step("keyboard only: Space selects the two remaining items, 4 ignores both");
  for (let n = 0; n < 2; n++) {
    await tabTo(
      () =>
        document.activeElement?.classList.contains("reveal") &&
        document.activeElement.closest(".item").dataset.form === "classify-form" &&
        !document.activeElement.closest(".item").classList.contains("selected"),
    );
    await page.keyboard.press(" ");
  }
  assert.equal(await page.locator(".item.selected").count(), 2);
  // Selecting must not reveal anything.
  assert.equal(await page.locator(".item.revealed").count(), 0);
  await Promise.all([page.waitForNavigation(), page.keyboard.press("4")]);
  states = await itemStates(page);
  assert.equal(states.filter((s) => s === "awaiting_classification").length, 0, `states ${states}`);
  await shot(page, "report-keyboard-done");

  step("an analyst is not an admin");
  const resp = await page.goto(`${BASE}/ui/admin/users`);
  assert.equal(resp.status(), 403);
  await page.goto(`${BASE}/ui/queues`);
  await logout(page);
  await annaCtx.close();

  // --- verifier confirms (4-eyes) --------------------------------------------------------
  {
    const { ctx, page } = await newPage();
    step("verifier sees the items to verify and agrees");
    await login(page, "vera");
    await page.waitForURL(/\/ui\/queues/);
    assert.equal(await page.getAttribute("#queue-to-verify .count", "data-count"), "3");
    await page.click(`#queue-to-verify a[href="/ui/reports/${ONE}"]`);
    await page.waitForURL(new RegExp(`/ui/reports/${ONE}`));
    for (const f of await filters(page)) assert.match(f, /blur\(/);
    for (const box of await page.$$("#items input[type=checkbox]")) await box.check();
    await shot(page, "verify");
    await Promise.all([page.waitForURL(/done=1/), page.click("#verify-form button[value=yes]")]);
    // Agreed: past both analyst states (notice_pending, or further if [takedown] picked it up).
    for (const st of await itemStates(page)) {
      assert.ok(!st.startsWith("awaiting_"), `state after agreement: ${st}`);
    }

    step("a report of another tenant is not found, nor its evidence");
    let r = await page.goto(`${BASE}/ui/reports/${FOREIGN}`);
    assert.equal(r.status(), 404);
    r = await page.goto(`${BASE}/ui/items/${FOREIGN_ITEM}/evidence`);
    assert.equal(r.status(), 404);

    step("language switch (Dutch → English) sticks to the user");
    await page.goto(`${BASE}/ui/queues`);
    assert.equal(await page.textContent("h1"), "Werkvoorraad");
    await page.selectOption("#lang-switch", "en");
    await Promise.all([page.waitForURL(/\/ui\/queues/), page.click("#lang-save")]);
    assert.equal(await page.textContent("h1"), "Work queues");
    assert.equal(await page.getAttribute("html", "lang"), "en");
    await ctx.close();
  }

  // --- the other tenant's analyst cannot reach tenant A's data ----------------------------
  {
    const { ctx, page } = await newPage();
    step("tenant B's analyst gets 404 for tenant A's report and items");
    await login(page, "bert");
    await page.waitForURL(/\/ui\/queues/);
    assert.ok(!(await page.isVisible(`a[href="/ui/reports/${ONE}"]`)));
    const r = await page.goto(`${BASE}/ui/reports/${ONE}`);
    assert.equal(r.status(), 404);
    await ctx.close();
  }

  // --- admin creates a user ---------------------------------------------------------------
  {
    const { ctx, page } = await newPage();
    step("admin creates a user on the users page");
    await login(page, "adam");
    await page.goto(`${BASE}/ui/admin/users`);
    await page.getByLabel(/^(User name|Gebruikersnaam)$/).fill("nina");
    await page.getByLabel(/Display name|Weergavenaam/).fill("Nina");
    await page.selectOption("#new-role", "verifier");
    await page.getByLabel(/password|wachtwoord/i).fill("another long password");
    await Promise.all([page.waitForURL(/created=1/), page.click("#create-user")]);
    assert.ok((await page.textContent("table")).includes("nina"));
    await shot(page, "users");
    await ctx.close();
    const { ctx: c2, page: p2 } = await newPage();
    await login(p2, "nina", "another long password");
    await p2.waitForURL(/\/ui\/queues/);

    step("nina enables TOTP on the account page with a code computed here");
    await p2.goto(`${BASE}/ui/account`);
    const secret = await p2.inputValue("#secret");
    assert.match(secret, /^[A-Z2-7]{32}$/);
    await p2.fill("#setup-code", "000000" === totp(secret) ? "111111" : "000000");
    await Promise.all([p2.waitForLoadState("load"), p2.click('form[action="/ui/account/totp"] button')]);
    assert.match(await p2.textContent(".flash"), /niet geldig|not valid/, "a wrong code must not enable TOTP");
    // The page shows a fresh secret after every load: use the one shown now.
    const secret2 = await p2.inputValue("#secret");
    await p2.fill("#setup-code", totp(secret2));
    await Promise.all([p2.waitForLoadState("load"), p2.click('form[action="/ui/account/totp"] button')]);
    assert.doesNotMatch(await p2.textContent(".flash"), /niet geldig|not valid/);
    await shot(p2, "totp-enabled");
    await logout(p2);

    step("login now asks for the second factor; a wrong code is refused, the right one works");
    await login(p2, "nina", "another long password");
    await p2.waitForURL(/\/ui\/login\/totp/);
    const good = totp(secret2);
    await p2.fill("#code", good === "123456" ? "654321" : "123456");
    await Promise.all([p2.waitForLoadState("load"), p2.click('form[action="/ui/login/totp"] button')]);
    assert.ok(await p2.isVisible("#totp-error"), "wrong code must be refused");
    await p2.fill("#code", totp(secret2));
    await Promise.all([p2.waitForURL(/\/ui\/queues/), p2.click('form[action="/ui/login/totp"] button')]);
    await c2.close();
  }
  console.log("ok");
} catch (e) {
  console.error(e);
  if (current && !current.isClosed()) {
    console.error(`at ${current.url()}:\n${await current.innerText("body").catch(() => "")}`);
    await shot(current, "failure").catch(() => {});
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
