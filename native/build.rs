fn main() {
    // Only the Node addon needs the napi link setup; `cargo test`/`cargo bench`
    // build the core with `--no-default-features`.
    if std::env::var_os("CARGO_FEATURE_NODE").is_some() {
        napi_build::setup();
    }
}
