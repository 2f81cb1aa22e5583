//! Cross-module tests: the SIMD fast path never disagrees with the scalar
//! scanner, and the key hash matches the shared vectors.
