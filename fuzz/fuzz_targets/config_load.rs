//! The declarative config loader: any text is parsed, validated and (when valid) compiled,
//! and never panics. Targets naming hosts are validated but not compiled (compiling
//! resolves them, and a fuzzer must not send DNS queries).
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
    if model
        .targets
        .iter()
        .all(|t| t.host.parse::<std::net::IpAddr>().is_ok())
    {
        let _ = compile::compile(model, String::new());
    }
});
