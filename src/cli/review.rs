//! `smppgate review list|release|refuse`: the review queue of `sensitive_action =
//! "hold"` (src/gateway/review.rs).
//!
//! With the gateway running the command goes through its control socket in the store
//! directory (a released message is sent at once, a refused one's receipt queued at
//! once); with it stopped, it works on the store (a released message is sent when the
//! gateway starts; refusing then needs `--config`, for the account's receipt settings).
//! Ids are our decimal message ids, as `review list` prints them.
//!
//! With `[cluster]` in the configuration, `list` reads JetStream (every node's held
//! messages); `release` and `refuse` need the node that holds the message's backlog (its
//! dispatcher sends a released message, its writer queues a refused one's receipt), so
//! they answer with the HTTP admin call that does it on a running node.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

use super::messages::{StoreArgs, cluster_of, locate, open_cluster, time};
use crate::clock::Clock;
use crate::gateway::review::{Action, HeldEntry, apply, scan_held, settle_refused};
use crate::policy::suppression_control::Client;
use crate::store::{FjallStore, Op, Store as _, now_millis};

/// Arguments of `smppgate review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ReviewCommand,
}

/// `smppgate review` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// The held messages, oldest first: id, account, destination, word, since.
    List(ListArgs),
    /// Send a held message.
    Release(IdArgs),
    /// End a held message: a `stat:REJECTD err:403` receipt when its client asked for one.
    Refuse(IdArgs),
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Only this account's.
    #[arg(long)]
    pub account: Option<String>,
}

/// Arguments of `release` and `refuse`.
#[derive(Debug, Args)]
pub struct IdArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The message id, as `review list` prints it.
    pub id: u64,
}

/// Runs `smppgate review`.
///
/// # Errors
/// No store, a store or gateway failure, a message that is not held.
pub fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ReviewCommand::List(args) => list(&args),
        ReviewCommand::Release(args) => decide(&args, Action::Release),
        ReviewCommand::Refuse(args) => decide(&args, Action::Refuse),
    }
}

fn line(entry: &HeldEntry) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        entry.id,
        entry.account,
        entry.destination,
        entry.word,
        time(entry.since)
    )
}

fn list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let (path, _) = locate(&args.store)?;
    println!("id\taccount\tdestination\tword\tsince");
    let account = args.account.as_deref();
    let count = if let Some(cluster) = cluster_of(&args.store)? {
        let store = open_cluster(&cluster)?;
        let mut count = 0;
        scan_held(&store, account, &mut |entry| {
            println!("{}", line(&entry));
            count += 1;
            true
        })?;
        count
    } else if let Some(mut client) = Client::connect(&path) {
        client.held(account, &mut |entry| println!("{}", line(&entry)))?
    } else {
        let store = open(&path)?;
        let mut count = 0;
        scan_held(&store, account, &mut |entry| {
            println!("{}", line(&entry));
            count += 1;
            true
        })?;
        count
    };
    eprintln!("{count} held");
    Ok(ExitCode::SUCCESS)
}

fn open(path: &std::path::Path) -> anyhow::Result<FjallStore> {
    if !path.is_dir() {
        bail!(
            "no store at {} (use --store DIR or --config FILE)",
            path.display()
        );
    }
    Ok(FjallStore::open(path, true)?)
}

fn decide(args: &IdArgs, action: Action) -> anyhow::Result<ExitCode> {
    if cluster_of(&args.store)?.is_some() {
        let verb = match action {
            Action::Release => "release",
            Action::Refuse => "refuse",
        };
        bail!(
            "with [cluster], `review {verb}` needs a running node: POST /v1/review/{}/{verb} \
             on a node's HTTP admin API (Authorization: Bearer <admin token>)",
            args.id
        );
    }
    let (path, config) = locate(&args.store)?;
    if let Some(mut client) = Client::connect(&path) {
        client.review(args.id, action)?;
        println!("message {} {}", args.id, action.done());
        return Ok(ExitCode::SUCCESS);
    }
    let store = open(&path)?;
    let mut record = store
        .get(args.id)?
        .with_context(|| format!("no message {} in the store", args.id))?;
    apply(&mut record, action, now_millis()).map_err(anyhow::Error::msg)?;
    let mut ops = Vec::new();
    if action == Action::Refuse {
        // What the gateway's receipt writer does when it settles a refused message.
        let config = config.context(
            "refusing with the gateway stopped needs --config (the account's receipt settings)",
        )?;
        let account = config
            .accounts
            .iter()
            .find(|a| a.system_id == record.account)
            .with_context(|| {
                format!(
                    "account `{}` is not in the configuration any more",
                    record.account
                )
            })?;
        if let Some(item) = settle_refused(&mut record, account, &Clock::system()) {
            ops.push(Op::OutboxPush(item));
        }
    }
    ops.insert(0, Op::Put(std::sync::Arc::new(record)));
    store.commit(&ops)?;
    println!(
        "message {} {} (the gateway is stopped: {})",
        args.id,
        action.done(),
        match action {
            Action::Release => "it is sent when the gateway starts",
            Action::Refuse => "its receipt goes out when the gateway starts",
        }
    );
    Ok(ExitCode::SUCCESS)
}
