// Load one report page in headless Chromium (Debian's, no downloaded browser), record console
// errors and every request that is not to the file itself, run axe-core, print one JSON object.
// Usage: node check_page.js /abs/path/to/index.html
const path = require("path");
const { chromium } = require("playwright-core");

(async () => {
  const file = path.resolve(process.argv[2]);
  const url = "file://" + file;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage();
  const consoleErrors = [];
  const requests = [];
  page.on("console", (msg) => { if (msg.type() === "error") consoleErrors.push(msg.text()); });
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  page.on("request", (req) => {
    const u = req.url();
    if (u !== url && !u.startsWith("data:")) requests.push(u);
  });
  await page.goto(url, { waitUntil: "load" });
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const axe = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
                                       example: v.nodes[0] ? v.nodes[0].html.slice(0, 200) : "" }));
  });
  const title = await page.title();
  await browser.close();
  console.log(JSON.stringify({ title, consoleErrors, requests, violations: axe }));
})().catch((e) => { console.error(e); process.exit(1); });
