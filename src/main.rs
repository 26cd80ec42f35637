//! The `skyport` binary: parse the command line and dispatch.

use clap::Parser;
use skyport::cli::{Cli, Command, ConfigAction};
use skyport::config;
use skyport::settings::NodeSettings;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the proxy allocates and frees many small buffers per
/// request, and the profile showed glibc's allocator near the top (see benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The annotated starter config `config init` writes.
const STARTER: &str = include_str!("../conf/kong.yml");

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("skyport {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Config {
            action: ConfigAction::Init { file },
        } => {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&file);
            match created {
                Ok(mut f) => match std::io::Write::write_all(&mut f, STARTER.as_bytes()) {
                    Ok(()) => {
                        println!("wrote {}", file.display());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("cannot write {}: {e}", file.display());
                        ExitCode::FAILURE
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    eprintln!("{} already exists; not overwriting it", file.display());
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("cannot create {}: {e}", file.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config {
            action: ConfigAction::Check { file },
        } => match config::read_file(&file).and_then(|text| config::check(&text)) {
            Ok(_) => {
                println!("parse successful");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("Failed parsing {}:", file.display());
                for line in e.lines() {
                    eprintln!("{line}");
                }
                ExitCode::FAILURE
            }
        },
        Command::Start { opt } => start(opt),
        Command::Reload { conf } => signal(conf, nix::sys::signal::Signal::SIGHUP),
        Command::Stop { conf } => signal(conf, nix::sys::signal::Signal::SIGTERM),
    }
}

fn start(opt: pingora::prelude::Opt) -> ExitCode {
    let settings = match NodeSettings::load(
        opt.conf.as_deref().map(std::path::Path::new),
        std::env::vars(),
    ) {
        Ok(s) => s,
        Err(errors) => {
            eprintln!("invalid node settings:");
            for e in errors {
                eprintln!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    skyport::telemetry::init(&settings.log_level);
    for warning in settings.warnings() {
        log::warn!("{warning}");
    }
    let lasting = std::sync::Arc::new(skyport::lasting::Lasting::new(
        settings.rate_limit_store_size,
    ));
    let snapshot = match skyport::server::initial_snapshot(&settings, &lasting) {
        Ok(s) => s,
        Err(e) => {
            let path = settings
                .declarative_config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            eprintln!("error parsing declarative config file {path}:");
            for line in e.lines() {
                eprintln!("{line}");
            }
            return ExitCode::FAILURE;
        }
    };
    if opt.test {
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    match skyport::server::run(opt, settings, lasting, snapshot) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skyport: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `sig` to the process named by the node's pid file.
fn signal(conf: Option<String>, sig: nix::sys::signal::Signal) -> ExitCode {
    let settings =
        match NodeSettings::load(conf.as_deref().map(std::path::Path::new), std::env::vars()) {
            Ok(s) => s,
            Err(errors) => {
                eprintln!("invalid node settings:\n{}", errors.join("\n"));
                return ExitCode::FAILURE;
            }
        };
    let pid = match std::fs::read_to_string(&settings.pid_file).map(|t| t.trim().parse::<i32>()) {
        Ok(Ok(pid)) if pid > 0 => pid,
        _ => {
            eprintln!(
                "no running skyport: cannot read a pid from {}",
                settings.pid_file
            );
            return ExitCode::FAILURE;
        }
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) => {
            println!("sent {sig} to skyport (pid {pid})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot signal pid {pid} from {}: {e}", settings.pid_file);
            ExitCode::FAILURE
        }
    }
}
