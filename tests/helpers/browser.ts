import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium (installed by the test scripts where missing), headless, with nothing that
 * reaches beyond loopback: no background networking, component updates, sync or QUIC.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
