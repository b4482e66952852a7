// End-to-end: `vigil run --serve` plays the sample video through perception, the event store
// and the summarizer (the bundled report model writes the reports) while headless Chromium
// shows the dashboard. The test sees events arrive live with their reports and snapshots and
// the annotated live view, asks a question and gets the spoken answer, saves a screenshot and
// checks it is not blank, then stops the run with SIGTERM and expects a clean exit with the
// run's outputs written.
//   node dashboard.test.mjs VIGIL_BINARY SOURCE_DIR WORK_DIR
// Without the sample video (data/vtest.avi) it falls back to `vigil serve --replay` of recorded
// events, so the dashboard is still tested.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

const [vigil, source, work] = process.argv.slice(2);
if (!vigil || !source || !work) {
  console.error("usage: dashboard.test.mjs VIGIL_BINARY SOURCE_DIR WORK_DIR");
  process.exit(2);
}
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const video = path.join(source, "data", "vtest.avi");
const withVideo = fs.existsSync(video);
const out = path.join(work, "out");
const config = path.join(source, "configs", "demo.yaml");
const args = withVideo
  ? ["run", "--serve", "--config", config, "--source", video, "--out", out, "--port", "0",
     "--parallel", "2", "-t", "1", "--realtime", "--max-seconds", "60", "--no-video", "-q"]
  : ["serve", "--config", config, "--out", out, "--port", "0", "--parallel", "2", "-t", "1",
     "--replay", path.join(source, "tests", "server", "e2e", "events.jsonl"), "--replay-interval", "0.5"];
console.log(`starting: ${vigil} ${args.join(" ")}`);

const server = spawn(vigil, args, { stdio: ["ignore", "inherit", "pipe"] });
let stderr = "";
const exited = new Promise((resolve) => server.on("exit", (code, signal) => resolve({ code, signal })));
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no URL from vigil:\n${stderr}`)), 120000);
  server.stderr.on("data", (chunk) => {
    stderr += chunk;
    process.stderr.write(chunk);
    const m = /vigil (?:run: serving|serve:) (http:\/\/[^\s]+)/.exec(stderr);
    if (m) { clearTimeout(timer); resolve(m[1]); }
  });
  server.on("exit", (code) => reject(new Error(`vigil exited (${code}):\n${stderr}`)));
});
console.log(`server at ${url}${withVideo ? " (vigil run --serve on the sample video)" : " (no sample video: replayed events)"}`);

let browser;
let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
};
try {
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction(() => document.getElementById("conn").textContent === "live", null, { timeout: 30000 });
  check(true, "event stream connected");

  // Events arrive live (the replay adds one every half second / at its video frame).
  await page.waitForFunction(() => document.querySelectorAll("#events li.event").length >= 3, null, { timeout: 90000 });
  check(true, "events appeared");
  // ... and reports written by the model replace "report pending".
  await page.waitForFunction(
    () => [...document.querySelectorAll("#events .report")].some((r) => r.textContent && !r.classList.contains("pending") && !r.classList.contains("writing")),
    null, { timeout: 120000 });
  const reports = await page.$$eval("#events .report", (rs) => rs.filter((r) => !r.classList.contains("pending")).length);
  check(reports >= 1, `reports shown (${reports})`);
  const zones = await page.$$eval("#zones td", (tds) => tds.map((t) => t.textContent));
  check(zones.includes("lawn") || zones.includes("plaza"), `zone counts (${zones.join(" ")})`);

  if (withVideo) {
    await page.waitForFunction(() => {
      const img = document.getElementById("live");
      return !img.hidden && img.naturalWidth > 0;
    }, null, { timeout: 30000 });
    check(true, "live view shows frames");
    await page.waitForFunction(
      () => [...document.querySelectorAll("#events img.thumb")].some((i) => i.complete && i.naturalWidth > 0),
      null, { timeout: 30000 });
    check(true, "snapshots load");
  }

  // A typed question: the answer (exact facts from the store) and its spoken form.
  await page.fill("#ask-text", "how many people entered the lawn in the last hour?");
  await page.click("#ask-send");
  await page.waitForFunction(() => document.getElementById("answer-text").textContent.length > 0, null, { timeout: 60000 });
  const answer = await page.textContent("#answer-text");
  check(/\d|no |none/i.test(answer), `answer: "${answer}"`);
  const audioSrc = await page.getAttribute("#answer-audio", "src");
  check(Boolean(audioSrc && audioSrc.startsWith("/api/audio/")), `spoken answer at ${audioSrc}`);
  const audioOk = await page.evaluate(async (src) => (await fetch(src)).headers.get("Content-Type"), audioSrc);
  check(audioOk === "audio/wav", "answer audio is a WAV");

  const status = await page.textContent("#status");
  check(status.includes("vigil-default-q8_0"), "model panel names the bundled model");

  const shot = path.join(work, "dashboard.png");
  await page.screenshot({ path: shot, fullPage: true });
  // Non-blank: the screenshot, decoded by the browser, has many distinct colours.
  const blank = await browser.newPage();
  const colours = await blank.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement("canvas");
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext("2d");
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4 * 7) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    return seen.size;
  }, fs.readFileSync(shot).toString("base64"));
  check(colours > 50, `screenshot ${shot} is not blank (${colours} colours)`);
  check(consoleErrors.length === 0, `no console errors${consoleErrors.length ? ": " + consoleErrors.join(" | ") : ""}`);
} catch (err) {
  check(false, err.stack || String(err));
} finally {
  if (browser) await browser.close();
  server.kill("SIGTERM");
  const timeout = new Promise((resolve) => setTimeout(() => resolve({ code: "timeout" }), 30000));
  const result = await Promise.race([exited, timeout]);
  if (result.code === "timeout") server.kill("SIGKILL");
  check(result.code === 0, `server exited cleanly on SIGTERM (${JSON.stringify(result)})`);
  if (withVideo) {
    // The run's own outputs, written on the way out.
    for (const f of ["events.jsonl", "report.html", "latency.json"]) {
      check(fs.existsSync(path.join(out, f)), `run output ${f} written`);
    }
  }
}
process.exit(failed ? 1 : 0);
