/**
 * Headless Chromium (Debian's `chromium`, or CHROMIUM_PATH) for the status
 * page's tests, driven by playwright-core; .ci/run installs it.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run here (undefined when they can). */
export const CHROMIUM_MISSING: string | undefined = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (Debian package chromium: apt-get install -y chromium)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Call first in a test: fails under ORDERTAIL_REQUIRE_TOOLS=1, else skips, when there is no browser. */
export function requireChromium(ctx: { skip: (note?: string) => void }, browser: Browser | undefined): asserts browser is Browser {
  if (!browser && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(`no Chromium at ${CHROMIUM}`);
  if (!browser) ctx.skip(CHROMIUM_MISSING ?? `Chromium at ${CHROMIUM} did not start`);
}
