//! How `smppgate suppress` reaches a running gateway (docs/adr/0007-suppression-cli.md):
//! a Unix socket, `control.sock`, in the store directory (the gateway creates it, mode
//! 0600, and removes a stale one at start; it holds the store's lock, so no second
//! gateway owns the same socket). One JSON request per line, answered by JSON lines:
//!
//! - `{"apply": [op, …]}` → `{"ok": n}` once the ops are in force *and* committed;
//! - `{"get": {"scope": …, "number": …}}` → `{"entry": entry | null}`;
//! - `{"list": {"scope": … | null}}` → one `{"entry": …}` per entry, then `{"end": n}`.
//!
//! Errors are `{"error": "…"}`. Entries travel in the CSV's text forms
//! ([`ScopeKey`]'s and [`SuppressionSource`]'s `Display`). Bounds: a request line is at
//! most [`MAX_LINE`] bytes and an `apply` at most [`MAX_OPS`] ops (the CLI sends an
//! import in chunks); the gateway serves a few connections at a time.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::store::{Millis, Op, ScopeKey, Suppression, SuppressionSource};

/// The socket's file name in the store directory.
pub const SOCKET: &str = "control.sock";
/// Longest request line.
pub const MAX_LINE: usize = 4 << 20;
/// Most ops in one `apply`.
pub const MAX_OPS: usize = 10_000;

/// The socket of the store in `dir`.
#[must_use]
pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

/// One entry in its text form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    /// `account:NAME`, `sender:NAME/SENDER` or `global`.
    pub scope: String,
    /// E.164 digits.
    pub number: String,
    /// Wall ms.
    pub since: Millis,
    /// `mo:CARRIER:KEYWORD`, `import` or `cli`.
    pub source: String,
}

impl From<&Suppression> for WireEntry {
    fn from(entry: &Suppression) -> Self {
        Self {
            scope: entry.scope.to_string(),
            number: entry.number.clone(),
            since: entry.since,
            source: entry.source.to_string(),
        }
    }
}

impl TryFrom<&WireEntry> for Suppression {
    type Error = String;

    fn try_from(entry: &WireEntry) -> Result<Self, Self::Error> {
        Ok(Self {
            scope: entry.scope.parse()?,
            number: entry.number.clone(),
            since: entry.since,
            source: entry.source.parse::<SuppressionSource>()?,
        })
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireOp {
    /// Put on the list.
    Add(WireEntry),
    /// Take off the list.
    Remove {
        /// Scope text.
        scope: String,
        /// E.164 digits.
        number: String,
    },
}

impl WireOp {
    /// The store op.
    ///
    /// # Errors
    /// A scope or source that does not parse.
    pub fn to_op(&self) -> Result<Op, String> {
        Ok(match self {
            Self::Add(entry) => Op::Suppress(entry.try_into()?),
            Self::Remove { scope, number } => Op::Unsuppress {
                scope: scope.parse()?,
                number: number.clone(),
            },
        })
    }

    /// The wire form of a store op (`None` for ops that are not suppression changes).
    #[must_use]
    pub fn of(op: &Op) -> Option<Self> {
        match op {
            Op::Suppress(entry) => Some(Self::Add(entry.into())),
            Op::Unsuppress { scope, number } => Some(Self::Remove {
                scope: scope.to_string(),
                number: number.clone(),
            }),
            _ => None,
        }
    }
}

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// Changes, in force and committed before the answer.
    Apply(Vec<WireOp>),
    /// One entry.
    Get {
        /// Scope text.
        scope: String,
        /// E.164 digits.
        number: String,
    },
    /// Every entry (of one scope).
    List {
        /// Scope text, or all.
        scope: Option<String>,
    },
    /// The held messages (of one account): one `held` line each, then `end`
    /// (`smppgate review list`).
    Held {
        /// The account, or all.
        account: Option<String>,
    },
    /// Release or refuse a held message (`smppgate review release|refuse`): `ok` once
    /// committed.
    Review {
        /// Our message id.
        id: u64,
        /// What to do.
        action: crate::gateway::review::Action,
    },
}

/// An answer line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    /// `apply` done: how many ops.
    Ok(usize),
    /// An entry (`get`: maybe none; `list`: one per line).
    Entry(Option<WireEntry>),
    /// End of a `list`: how many entries.
    End(usize),
    /// A held message (`held`: one per line).
    Held(crate::gateway::review::HeldEntry),
    /// The request failed.
    Error(String),
}

/// A connection to a running gateway's control socket (blocking: for the CLI).
#[derive(Debug)]
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the gateway whose store is `dir`; `None` when no gateway listens
    /// there (no socket, or a stale one).
    #[must_use]
    pub fn connect(dir: &Path) -> Option<Self> {
        let stream = UnixStream::connect(socket_path(dir)).ok()?;
        // A gateway that stops answering must not hang the operator's shell.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        let writer = stream.try_clone().ok()?;
        Some(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn send(&mut self, request: &Request) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        self.writer.write_all(&line)?;
        Ok(())
    }

    fn reply(&mut self) -> anyhow::Result<Reply> {
        let mut line = String::new();
        let read = (&mut self.reader)
            .take(MAX_LINE as u64)
            .read_line(&mut line)?;
        if read == 0 {
            anyhow::bail!("the gateway closed the control connection");
        }
        match serde_json::from_str(&line)? {
            Reply::Error(error) => anyhow::bail!("the gateway refused: {error}"),
            reply => Ok(reply),
        }
    }

    /// Applies `ops` (suppression changes only) in chunks of [`MAX_OPS`]; returns how
    /// many were applied.
    ///
    /// # Errors
    /// The connection fails or the gateway refuses (what was applied before stays).
    pub fn apply(&mut self, ops: &[Op]) -> anyhow::Result<usize> {
        let mut done = 0;
        for chunk in ops.chunks(MAX_OPS) {
            self.send(&Request::Apply(
                chunk.iter().filter_map(WireOp::of).collect(),
            ))?;
            match self.reply()? {
                Reply::Ok(n) => done += n,
                other => anyhow::bail!("unexpected answer {other:?}"),
            }
        }
        Ok(done)
    }

    /// The entry of (`scope`, `number`).
    ///
    /// # Errors
    /// The connection fails or the gateway refuses.
    pub fn get(&mut self, scope: &ScopeKey, number: &str) -> anyhow::Result<Option<Suppression>> {
        self.send(&Request::Get {
            scope: scope.to_string(),
            number: number.to_owned(),
        })?;
        match self.reply()? {
            Reply::Entry(entry) => entry
                .as_ref()
                .map(|e| Suppression::try_from(e).map_err(anyhow::Error::msg))
                .transpose(),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }

    /// Calls `visit` with every held message (of `account`); returns how many.
    ///
    /// # Errors
    /// The connection fails or the gateway refuses.
    pub fn held(
        &mut self,
        account: Option<&str>,
        visit: &mut dyn FnMut(crate::gateway::review::HeldEntry),
    ) -> anyhow::Result<usize> {
        self.send(&Request::Held {
            account: account.map(ToOwned::to_owned),
        })?;
        loop {
            match self.reply()? {
                Reply::Held(entry) => visit(entry),
                Reply::End(n) => return Ok(n),
                other => anyhow::bail!("unexpected answer {other:?}"),
            }
        }
    }

    /// Releases or refuses held message `id`.
    ///
    /// # Errors
    /// The connection fails, or the gateway refuses (not held, store failure).
    pub fn review(
        &mut self,
        id: u64,
        action: crate::gateway::review::Action,
    ) -> anyhow::Result<()> {
        self.send(&Request::Review { id, action })?;
        match self.reply()? {
            Reply::Ok(_) => Ok(()),
            other => anyhow::bail!("unexpected answer {other:?}"),
        }
    }

    /// Calls `visit` with every entry (of `scope`).
    ///
    /// # Errors
    /// The connection fails or the gateway refuses.
    pub fn list(
        &mut self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression),
    ) -> anyhow::Result<usize> {
        self.send(&Request::List {
            scope: scope.map(ToString::to_string),
        })?;
        loop {
            match self.reply()? {
                Reply::Entry(Some(entry)) => {
                    visit(Suppression::try_from(&entry).map_err(anyhow::Error::msg)?);
                }
                Reply::End(n) => return Ok(n),
                other => anyhow::bail!("unexpected answer {other:?}"),
            }
        }
    }
}
