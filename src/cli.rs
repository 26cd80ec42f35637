//! The command line: `start` (with Pingora's -d/-u/-t), `config init|check`, `version`.

use clap::{Parser, Subcommand};
use pingora::prelude::Opt;
use std::path::PathBuf;

/// Skyport: an API gateway that speaks Kong's declarative config.
#[derive(Debug, Parser)]
#[command(name = "skyport", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the gateway in the foreground (-d: as a daemon; -u: take over from a running
    /// process; -t: check the settings and config, then exit). -c names skyport.conf.
    Start {
        /// Pingora's flags; `-c` is the node settings file (skyport.conf).
        #[command(flatten)]
        opt: Opt,
    },
    /// Work with declarative config files (kong.yml).
    Config {
        /// The action.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Reload the running gateway's declarative config (SIGHUP via its pid file), as `kong reload`.
    Reload {
        /// The node settings file (for pid_file).
        #[arg(short, long)]
        conf: Option<String>,
    },
    /// Stop the running gateway gracefully (SIGTERM via its pid file), as `kong stop`.
    Stop {
        /// The node settings file (for pid_file).
        #[arg(short, long)]
        conf: Option<String>,
    },
    /// Print the version.
    Version,
}

/// `skyport config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Write an annotated starter kong.yml (refuses to overwrite).
    Init {
        /// Where to write it.
        #[arg(default_value = "kong.yml")]
        file: PathBuf,
    },
    /// Validate a kong.yml and list every problem with its path.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}
