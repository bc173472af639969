// The browser suite's driver (examples/web/browser_test.sh runs it with Node): opens the page in
// headless Chromium (Debian's, through playwright-core), waits (bounded) until the page has made
// its calls, saves a screenshot and prints the page's results as JSON lines for the test to check.
//   node driver.js CHROMIUM URL SCREENSHOT [SPKI_HASH]
// SPKI_HASH: the server certificate's public key hash, the one certificate Chromium accepts
// without a trusted CA (--ignore-certificate-errors-spki-list): the test CA is not in its store.
const { chromium } = require("playwright-core");

async function main() {
  const [executable, url, screenshot, spki] = process.argv.slice(2);
  const args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"];
  if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  const browser = await chromium.launch({ executablePath: executable, headless: true, args,
                                          timeout: 60000 });
  try {
    const page = await browser.newPage();
    page.on("console", (m) => console.error(`console.${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => console.error(`pageerror: ${e.message}`));
    await page.goto(url, { timeout: 30000 });
    await page.waitForSelector("body[data-done='1']", { timeout: 60000 });
    const suite = await page.evaluate(() => window.suite);
    await page.screenshot({ path: screenshot, fullPage: true });
    console.log(JSON.stringify({ protocol: suite.protocol }));
    for (const row of suite.rows) console.log(JSON.stringify(row));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`driver: ${e.stack || e}`);
  process.exit(1);
});
