/** Defined (true) by scripts/bundle.mjs in the CLI bundle only. */
declare const ORDERTAIL_BUNDLE: boolean | undefined;

/**
 * This code runs from the CLI bundle (dist/bundle/), not from the compiled
 * modules the library entry loads (dist/src/): where files sit, and how
 * bundled packages are required, differ between the two.
 */
export const IN_CLI_BUNDLE: boolean = typeof ORDERTAIL_BUNDLE !== 'undefined' && ORDERTAIL_BUNDLE;
