import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium (apt-get install -y chromium; .ci/run installs it), or HEXFLEET_CHROMIUM. */
export const CHROMIUM = process.env.HEXFLEET_CHROMIUM ?? '/usr/bin/chromium';
/** Flags that work on these machines (../shared/platform-facts.md): no sandbox (root in CI), no GPU, no background traffic. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches headless Chromium through playwright-core (`npx playwright install`
 * cannot download browsers here); fails at once, saying how to get it, when
 * there is none. The caller closes the browser.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium; .ci/run does) or point HEXFLEET_CHROMIUM at one`);
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
