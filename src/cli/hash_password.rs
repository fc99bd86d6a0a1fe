//! `smppgate hash-password`: the Argon2id hash to put in an account's `password_hash`.

use std::io::BufRead as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

/// `smppgate hash-password` arguments.
#[derive(Debug, Args)]
pub struct HashPasswordArgs {
    /// The password; read from the first line of stdin when absent (keeps it out of the
    /// shell history).
    pub password: Option<String>,
}

/// Prints the hash.
///
/// # Errors
/// Stdin unreadable or empty.
pub fn run(args: HashPasswordArgs) -> anyhow::Result<ExitCode> {
    let password = match args.password {
        Some(password) => password,
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from stdin")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    anyhow::ensure!(
        !password.is_empty(),
        "empty password: give one as an argument or on stdin"
    );
    let hash = crate::gateway::accounts::hash_password(&password).map_err(anyhow::Error::msg)?;
    println!("{hash}");
    Ok(ExitCode::SUCCESS)
}
