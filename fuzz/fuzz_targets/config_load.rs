//! The declarative config loader: any text is parsed, validated and (when valid) compiled,
//! and never panics. Compiling does no I/O: target names are given no addresses here, so
//! the fuzzer sends no DNS queries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skyport::config::{compile, parse_text, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tree) = parse_text(text) else {
        return;
    };
    let Ok(model) = validate::validate(&tree) else {
        return;
    };
    let lasting = skyport::lasting::Lasting::default();
    let _ = compile::compile(model, String::new(), &Default::default(), &lasting);
});
