//! Empty: this crate exists for its benches (see Cargo.toml).
