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
  // the first screen is 1280 x 800 (docs/*_first_screen.png are taken at this size)
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
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
  // the text a reader sees before scrolling: every visible text node that starts above the fold
  const firstScreen = await page.evaluate(() => {
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent.replace(/\s+/g, " ").trim();
      if (!text || !n.parentElement.checkVisibility()) continue;  // e.g. inside closed <details>
      const range = document.createRange();
      range.selectNodeContents(n);
      const rect = range.getBoundingClientRect();
      if (rect.width > 0 && rect.height > 0 && rect.top < window.innerHeight) out.push(text);
    }
    return out.join(" ");
  });
  await browser.close();
  console.log(JSON.stringify({ title, consoleErrors, requests, violations: axe, firstScreen }));
})().catch((e) => { console.error(e); process.exit(1); });
