//! The Lambda proxy-integration response mapper: any payload maps to a response or to a
//! reason it is unusable, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skyport::plugins::lambda::response::proxy_exit;

fuzz_target!(|data: &[u8]| {
    let _ = proxy_exit(data);
});
