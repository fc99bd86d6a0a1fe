//! `smppgate api-key new --account NAME | --admin`: a new random key, printed once, and
//! the configuration line that holds its SHA-256 (the key itself is never stored).

use std::process::ExitCode;

use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use clap::{Args, Subcommand};

/// `smppgate api-key` arguments.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ApiKeyCommand,
}

/// `smppgate api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key: print it once, and the line to paste into the configuration.
    New(NewArgs),
}

/// `smppgate api-key new` arguments.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct NewArgs {
    /// A key for this account (its `api_keys`).
    #[arg(long)]
    pub account: Option<String>,
    /// The admin token (`[http] admin_token_hash`).
    #[arg(long)]
    pub admin: bool,
}

/// A new key: a prefix that says what it is, then 32 bytes from the OS's CSPRNG in hex.
#[must_use]
pub fn new_key(admin: bool) -> String {
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!(
        "{}{}",
        if admin { "sga_" } else { "sgk_" },
        hex::encode(bytes)
    )
}

/// Prints the key and the configuration line.
///
/// # Errors
/// None today (kept for the command's shape).
pub fn run(args: ApiKeyArgs) -> anyhow::Result<ExitCode> {
    let ApiKeyCommand::New(new) = args.command;
    let key = new_key(new.admin);
    let hash = crate::http::key_hash(&key);
    println!("key: {key}");
    println!("(shown once: only its hash goes into the configuration)");
    match new.account {
        Some(account) => {
            println!("add to the [[account]] with system_id = \"{account}\":");
            println!("api_keys = [\"{hash}\"]");
        }
        None => {
            println!("add to [http]:");
            println!("admin_token_hash = \"{hash}\"");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_hash_as_the_config_expects() {
        let a = new_key(false);
        let b = new_key(false);
        assert_ne!(a, b);
        assert!(a.starts_with("sgk_") && a.len() == 4 + 64);
        assert!(new_key(true).starts_with("sga_"));
        assert!(crate::config::parse_sha256(&crate::http::key_hash(&a)).is_some());
    }
}
