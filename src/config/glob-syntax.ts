/** Characters that make an input pattern a glob (picomatch syntax, escapes included); without them it is a path. */
export const GLOB_SYNTAX = /[*?[\]{}()!\\]/;
