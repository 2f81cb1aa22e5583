/**
 * Test hosts on one machine: network namespaces joined to a hub namespace by
 * veth pairs, each pair its own /30 in 10.231.N.0 (addresses that exist only
 * inside the namespaces this helper makes, and the root namespace's end of
 * one pair, so the test process itself can reach the hub). Needs root and
 * iproute2; `destroy()` removes every namespace and link it made.
 */
import { execFileSync, spawnSync } from 'node:child_process';

/** Why test hosts cannot be made here (undefined when they can). */
export const NETNS_MISSING: string | undefined = (() => {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('ip', ['-V']).status !== 0) return 'ip (iproute2) not installed: apt-get install -y iproute2 (.ci/run installs it)';
  const probe = `otprobe${process.pid}`;
  const made = spawnSync('ip', ['netns', 'add', probe]);
  if (made.status !== 0) return `cannot create a network namespace here: ${made.stderr.toString().trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return undefined;
})();

/** Call first in a test: fails under ORDERTAIL_REQUIRE_TOOLS=1, else skips, when test hosts cannot be made. */
export function requireNetns(ctx: { skip: (note?: string) => void }): void {
  if (NETNS_MISSING && process.env.ORDERTAIL_REQUIRE_TOOLS === '1') throw new Error(NETNS_MISSING);
  if (NETNS_MISSING) ctx.skip(NETNS_MISSING);
}

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
};

export interface TestHost {
  readonly name: string;
  /** The namespace (undefined: the root namespace, where the test runs). */
  readonly netns: string | undefined;
  /** This host's address on its link to the hub. */
  readonly address: string;
  /** The hub's address as this host reaches it. */
  readonly hubAddress: string;
  /** Prefix for a command run on this host. */
  readonly via: string[];
}

export class TestHosts {
  private readonly namespaces: string[] = [];
  private readonly rootLinks: string[] = [];
  readonly hosts = new Map<string, TestHost>();
  /** The hub's namespace and the prefix to run a command there (a server every host reaches). */
  readonly hub: { netns: string; via: string[] };

  private constructor(private readonly tag: string) {
    this.hub = { netns: `${tag}hub`, via: ['ip', 'netns', 'exec', `${tag}hub`] };
  }

  /** A hub plus one namespace per name in `hosts`, and a link from the root namespace (host "test"). */
  static create(hosts: readonly string[]): TestHosts {
    const t = new TestHosts(`ot${process.pid % 100000}`);
    try {
      ip('netns', 'add', t.hub.netns);
      t.namespaces.push(t.hub.netns);
      ip('-n', t.hub.netns, 'link', 'set', 'lo', 'up');
      [...hosts, 'test'].forEach((name, i) => t.link(name, i + 1, name === 'test'));
    } catch (err) {
      t.destroy();
      throw err;
    }
    return t;
  }

  private link(name: string, subnet: number, root: boolean): void {
    const netns = root ? undefined : `${this.tag}${name}`;
    const hubEnd = `${this.tag}h${subnet}`;
    const hostEnd = `${this.tag}v${subnet}`;
    const hubAddress = `10.231.${subnet}.1`;
    const address = `10.231.${subnet}.2`;
    if (netns) {
      ip('netns', 'add', netns);
      this.namespaces.push(netns);
      ip('-n', netns, 'link', 'set', 'lo', 'up');
    }
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', hubEnd);
    if (root) this.rootLinks.push(hostEnd);
    ip('link', 'set', hubEnd, 'netns', this.hub.netns);
    ip('-n', this.hub.netns, 'addr', 'add', `${hubAddress}/30`, 'dev', hubEnd);
    ip('-n', this.hub.netns, 'link', 'set', hubEnd, 'up');
    if (netns) ip('link', 'set', hostEnd, 'netns', netns);
    const on = netns ? ['-n', netns] : [];
    ip(...on, 'addr', 'add', `${address}/30`, 'dev', hostEnd);
    ip(...on, 'link', 'set', hostEnd, 'up');
    this.hosts.set(name, { name, netns, address, hubAddress, via: netns ? ['ip', 'netns', 'exec', netns] : [] });
  }

  host(name: string): TestHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no test host ${name}`);
    return h;
  }

  /** Deleting a namespace deletes the veth ends in it, and with them their peers. */
  destroy(): void {
    for (const link of this.rootLinks) spawnSync('ip', ['link', 'del', link]);
    for (const ns of this.namespaces.reverse()) spawnSync('ip', ['netns', 'del', ns]);
    this.namespaces.length = 0;
  }
}
