import { isIP } from 'node:net';
import { hostname } from 'node:os';

/** Addresses that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** The name part of a Host header (`name`, `name:port`, `[v6]:port`), lower-cased. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon > 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/**
 * DNS rebinding: a web page makes the browser resolve its own name to this
 * server's address, then reads the answers as same-origin. The browser still
 * sends the page's name in `Host:`, so a server that answers only to names it
 * knows (and to bare IP addresses, which rebinding cannot produce) is out of
 * reach. Allowed names: localhost, this machine's hostname, the bound host,
 * and what the operator lists (metricsAllowedHosts).
 */
export function hostAllowList(boundHost: string, extra: readonly string[] = []): (header: string | undefined) => boolean {
  const names = new Set(['localhost', hostname().toLowerCase(), boundHost.toLowerCase(), ...extra.map((h) => h.toLowerCase())]);
  return (header) => {
    // HTTP/1.0 clients (some scrapers) send none; browsers always do.
    if (header === undefined) return true;
    const name = hostName(header);
    return isIP(name) !== 0 || names.has(name) || names.has(name.replace(/\.$/, ''));
  };
}
