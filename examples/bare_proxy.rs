//! The floor under Skyport in the load benches: the least a Pingora 0.9 HTTP/1 proxy can do
//! (one fixed upstream, no routing, no plugins, no headers added, no log, no metrics) with
//! the same server settings and allocator as Skyport's bench runs. `benches/load/profile.sh`
//! (`BARE=1`) measures it next to Skyport and nginx, so the note on a gap can say how much of
//! it is Pingora's and how much is ours.
//!
//!   cargo run --release --example bare_proxy -- LISTEN UPSTREAM   (e.g. 127.0.0.1:6188 127.0.0.1:8080)

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Bare {
    upstream: std::net::SocketAddr,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    // Pingora's default adds a (disabled) compression module that still runs per request.
    fn init_downstream_modules(&self, _modules: &mut pingora::modules::http::HttpModules) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(Ok(upstream))) = (args.next(), args.next().map(|a| a.parse())) else {
        eprintln!("usage: bare_proxy LISTEN UPSTREAM");
        std::process::exit(2);
    };
    let conf = ServerConf {
        threads: 1,
        work_stealing: false,
        // Stopped by the bench right after its load: no grace period to wait out.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    // As Skyport: nothing reads how long reads waited (Pingora patch 46).
    pingora::protocols::l4::stream::set_read_pending_timing(false);
    let mut proxy = http_proxy_service(&server.configuration, Bare { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
