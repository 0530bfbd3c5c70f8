// /docs in a real browser (issue #16): headless Chromium (Debian's package, driven by puppeteer-core,
// which downloads no browser) opens Swagger UI, checks the operations are listed, authorises with an API
// key and executes one request through the page, reading the answer the page shows.
// Usage: node docs.mjs <base URL> <admin key> [chromium path]
import puppeteer from "puppeteer-core";

const [base, key, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const fail = (message) => {
  console.error(`FAILED: ${message}`);
  process.exit(1);
};

const browser = await puppeteer.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/docs/`, { waitUntil: "networkidle0" });
  await page.waitForSelector(".opblock");
  const operations = await page.$$eval(".opblock", (blocks) => blocks.length);
  const title = await page.$eval(".info .title", (e) => e.textContent);
  console.log(`Swagger UI lists ${operations} operations under "${title.trim()}"`);
  if (operations < 40) fail(`only ${operations} operations listed`);

  // Authorise with the key.
  await page.click(".auth-wrapper .authorize");
  await page.waitForSelector(".modal-ux input[type=text], .modal-ux input[type=password]");
  await page.type(".modal-ux input[type=text], .modal-ux input[type=password]", key);
  await page.click(".modal-ux .auth-btn-wrapper .authorize");
  await page.click(".modal-ux .btn-done");
  console.log("authorised with the API key");

  // Execute GET /api/v1/funds through the page.
  const block = await page.waitForSelector("#operations-funds-list_funds");
  await block.click(".opblock-summary");
  await page.waitForSelector("#operations-funds-list_funds .try-out__btn");
  await page.click("#operations-funds-list_funds .try-out__btn");
  await page.click("#operations-funds-list_funds .execute");
  await page.waitForSelector("#operations-funds-list_funds .live-responses-table .response-col_status");
  const status = await page.$eval(
    "#operations-funds-list_funds .live-responses-table .response .response-col_status",
    (e) => e.textContent.trim(),
  );
  const body = await page.$eval(
    "#operations-funds-list_funds .live-responses-table .response-col_description pre",
    (e) => e.textContent,
  );
  console.log(`GET /api/v1/funds from the page: ${status}; body ${body.replace(/\s+/g, " ").slice(0, 120)}`);
  if (status !== "200") fail(`the page's request answered ${status}`);
  if (!body.includes("Updog Demo Fund I")) fail("the answer shown does not hold the demo fund");
  if (errors.length) fail(`page errors: ${errors.join("; ")}`);
} finally {
  await browser.close();
}
