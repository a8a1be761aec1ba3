// Audits HTML briefs in headless Chromium with axe-core; prints one JSON report.
// Usage: node tests/axe_check.mjs FILE.html...   (CHROMIUM overrides /usr/bin/chromium)
// Every page is opened offline: any request beyond the file itself is blocked and
// reported, because a brief's HTML twin must stand alone.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
// Desktop and phone: the twin must read well (and pass) at both widths.
const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 900 },
  { name: "phone", width: 375, height: 812, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-extensions", "--disable-dev-shm-usage",
  ],
});
const report = {};
try {
  for (const file of process.argv.slice(2)) {
    const url = pathToFileURL(file).href;
    const entry = { requests: [], console: [], views: {} };
    for (const viewport of VIEWPORTS) {
      const page = await browser.newPage();
      await page.setViewport(viewport);
      await page.setRequestInterception(true);
      page.on("request", (request) => {
        if (request.url() === url) {
          request.continue();
        } else {
          entry.requests.push(request.url());
          request.abort();
        }
      });
      page.on("console", (message) => {
        if (message.type() === "error") entry.console.push(message.text());
      });
      await page.goto(url, { waitUntil: "load" });
      await page.addScriptTag({ content: axeSource });
      const result = await page.evaluate(async () => {
        const axeResult = await window.axe.run(document, { resultTypes: ["violations"] });
        return {
          violations: axeResult.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
          })),
          passes: axeResult.passes.length,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          title: document.title,
          lang: document.documentElement.lang,
        };
      });
      entry.views[viewport.name] = result;
      await page.close();
    }
    report[file] = entry;
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report, null, 2) + "\n");
