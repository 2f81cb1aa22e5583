/*
 * The canary parser's share of input files (a staged rollout of a parser):
 * a file is in the canary when a hash of its identity (device and inode, so
 * a rename keeps it where it was) falls below the share. Raising the share
 * keeps the files already in and adds others; every range of a file in the
 * canary is parsed by the canary parser, on the pool and in the live lane.
 */

/**
 * FNV-1a of `identity`, mixed (murmur3's finaliser) so that identities that
 * differ only in their last digits (files made one after another get
 * consecutive inodes) spread over [0, 1) instead of landing side by side.
 */
function position(identity: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < identity.length; i++) h = Math.imul(h ^ identity.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 0x1_0000_0000;
}

export function inCanary(identity: string, share: number): boolean {
  return share > 0 && position(identity) < share;
}
