// Audits HTML pages in headless Chromium with axe-core; prints one JSON report.
// Usage: node tests/axe_check.mjs [--allow DIR] [--screenshots DIR] FILE.html...
//   (CHROMIUM overrides /usr/bin/chromium)
// Every page is opened offline: any request beyond the file itself (and data: URLs, which
// are part of it) is blocked and reported, because a brief's HTML twin must stand alone.
// --allow DIR lets pages load files inside DIR (a published site's pictures).
// --screenshots DIR saves a full-page picture of each page at each width, to look at
// (named FOLDER-PAGE-WIDTH.png).
// The report also lists the web fonts each page loaded: run with FONTCONFIG_FILE pointing
// at a configuration without Inter and Charis SIL to check the embedded ones are used.
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
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
const args = process.argv.slice(2);
let allowed = null;
let screenshots = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--allow") allowed = pathToFileURL(path.resolve(args[++i])).href + "/";
  else if (args[i] === "--screenshots") screenshots = path.resolve(args[++i]);
  else files.push(args[i]);
}
if (screenshots) mkdirSync(screenshots, { recursive: true });
const report = {};
try {
  for (const file of files) {
    const url = pathToFileURL(file).href;
    const entry = { requests: [], console: [], views: {} };
    for (const viewport of VIEWPORTS) {
      const page = await browser.newPage();
      await page.setViewport(viewport);
      await page.setRequestInterception(true);
      page.on("request", (request) => {
        const asked = request.url();
        if (asked === url || asked.startsWith("data:") || (allowed && asked.startsWith(allowed))) {
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
      await page.evaluate(() => document.fonts.ready);
      if (screenshots) {
        const folder = path.basename(path.dirname(path.resolve(file)));
        const name = `${folder}-${path.basename(file, ".html")}-${viewport.name}.png`;
        await page.screenshot({ path: path.join(screenshots, name), fullPage: true });
      }
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
          // Web fonts the page used (a face loads only when text needs it).
          fonts: [...document.fonts]
            .filter((face) => face.status === "loaded")
            .map((face) => `${face.family.replace(/"/g, "")} ${face.weight} ${face.style}`),
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
