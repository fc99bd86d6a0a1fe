//! `smppgate suppress add|remove|check|list|import|export`: the opt-out suppression list.
//!
//! With the gateway stopped the command works on the store directly; with it running,
//! through the gateway's control socket in the store directory (changes are then in
//! force at once; docs/adr/0007-suppression-cli.md). With `[cluster]` in the
//! configuration it works on the shared list in JetStream, running nodes or not: every
//! running node follows that bucket (a change is in force on each within a second). Numbers are normalised as
//! destinations are (`--config` gives the default country for national forms).
//!
//! The CSV of `import` / `export`: `number,scope,since,source` with a header line; on
//! import only `number` is needed (the scope defaults to the command line's, since to
//! now, source to `import`). A line that cannot be read is named with its line number
//! and left out; the rest is imported.

use std::fs::File;
use std::io::{self, BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

use super::messages::{StoreArgs, locate, open_cluster, time};
use crate::policy::suppression_control::{Client, MAX_OPS};
use crate::store::{FjallStore, Op, ScopeKey, Store, Suppression, SuppressionSource, now_millis};

/// Arguments of `smppgate suppress`.
#[derive(Debug, Args)]
pub struct SuppressArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SuppressCommand,
}

/// `smppgate suppress` subcommands.
#[derive(Debug, Subcommand)]
pub enum SuppressCommand {
    /// Put numbers on the scope's list (source `cli`).
    Add(NumbersArgs),
    /// Take numbers off the scope's list.
    Remove(NumbersArgs),
    /// Whether numbers are on the scope's list, since when and why.
    Check(NumbersArgs),
    /// The list (of the scope, when one is named) as CSV on stdout.
    List(ListArgs),
    /// Add the numbers of a CSV file (`number[,scope[,since[,source]]]`).
    Import(FileArgs),
    /// Write the list (of the scope, when one is named) to a CSV file (`-`: stdout).
    Export(FileArgs),
}

/// Whose list.
#[derive(Debug, Clone, Args)]
pub struct ScopeArgs {
    /// The account whose messages the numbers stop getting.
    #[arg(long)]
    pub account: Option<String>,
    /// Only the account's messages from this sender id (source_addr).
    #[arg(long, requires = "account")]
    pub sender: Option<String>,
    /// Everyone's messages.
    #[arg(long, conflicts_with_all = ["account", "sender"])]
    pub global: bool,
}

impl ScopeArgs {
    /// The scope named, if any.
    #[must_use]
    pub fn scope(&self) -> Option<ScopeKey> {
        if self.global {
            return Some(ScopeKey::Global);
        }
        let account = self.account.clone()?;
        Some(match &self.sender {
            Some(sender) => ScopeKey::Sender {
                account,
                sender: sender.clone(),
            },
            None => ScopeKey::Account(account),
        })
    }

    fn required(&self) -> anyhow::Result<ScopeKey> {
        self.scope().context(
            "name the list: --account ACCOUNT (with --sender SENDER for one sender id) or --global",
        )
    }
}

/// Arguments of `add`, `remove`, `check`.
#[derive(Debug, Args)]
pub struct NumbersArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Whose list.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Phone numbers, in any form destinations may take.
    #[arg(required = true)]
    pub numbers: Vec<String>,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Whose list (all when none is named).
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// Arguments of `import` and `export`.
#[derive(Debug, Args)]
pub struct FileArgs {
    /// Which store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Whose list (import: for lines without a scope; export: only this one).
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The CSV file.
    pub file: PathBuf,
}

/// Where the list is: a running gateway, or the store itself (embedded, or JetStream's
/// shared list with `[cluster]`).
enum Target {
    Gateway(Client),
    Store(Box<dyn Store>),
}

impl Target {
    /// With `[cluster]` the shared list; else the gateway listening on the store's
    /// socket, or else the store opened for writing.
    fn open(args: &StoreArgs) -> anyhow::Result<(Self, String)> {
        let (path, config) = locate(args)?;
        let cluster = config.as_ref().and_then(|c| c.cluster.clone());
        let country = config
            .map(|c| c.numbers.default_country)
            .unwrap_or_default();
        if let Some(cluster) = cluster {
            return Ok((Self::Store(Box::new(open_cluster(&cluster)?)), country));
        }
        if let Some(client) = Client::connect(&path) {
            return Ok((Self::Gateway(client), country));
        }
        if !path.is_dir() {
            bail!(
                "no store at {} (use --store DIR or --config FILE)",
                path.display()
            );
        }
        Ok((
            Self::Store(Box::new(FjallStore::open(&path, true)?)),
            country,
        ))
    }

    fn apply(&mut self, ops: &[Op]) -> anyhow::Result<usize> {
        match self {
            Self::Gateway(client) => client.apply(ops),
            Self::Store(store) => {
                for chunk in ops.chunks(MAX_OPS) {
                    store.commit(chunk)?;
                }
                Ok(ops.len())
            }
        }
    }

    fn get(&mut self, scope: &ScopeKey, number: &str) -> anyhow::Result<Option<Suppression>> {
        match self {
            Self::Gateway(client) => client.get(scope, number),
            Self::Store(store) => Ok(store.suppression(scope, number)?),
        }
    }

    fn list(
        &mut self,
        scope: Option<&ScopeKey>,
        visit: &mut dyn FnMut(Suppression) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut failed = None;
        let mut each = |entry| match visit(entry) {
            Ok(()) => true,
            Err(error) => {
                failed = Some(error);
                false
            }
        };
        match self {
            Self::Gateway(client) => {
                client.list(scope, &mut |entry| {
                    each(entry);
                })?;
            }
            Self::Store(store) => store.suppressions(scope, &mut each)?,
        }
        failed.map_or(Ok(()), Err)
    }
}

/// Runs `smppgate suppress`.
///
/// # Errors
/// Bad arguments, no store, a store or gateway failure, an unreadable or unwritable file.
pub fn run(args: SuppressArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SuppressCommand::Add(args) => change(&args, true),
        SuppressCommand::Remove(args) => change(&args, false),
        SuppressCommand::Check(args) => check(&args),
        SuppressCommand::List(args) => {
            let (mut target, _) = Target::open(&args.store)?;
            export(
                &mut target,
                args.scope.scope().as_ref(),
                io::stdout().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        SuppressCommand::Import(args) => import(&args),
        SuppressCommand::Export(args) => {
            let (mut target, _) = Target::open(&args.store)?;
            let scope = args.scope.scope();
            let count = if args.file == Path::new("-") {
                export(&mut target, scope.as_ref(), io::stdout().lock())?
            } else {
                let file = File::create(&args.file)
                    .with_context(|| format!("creating {}", args.file.display()))?;
                export(&mut target, scope.as_ref(), file)?
            };
            eprintln!("{count} entries exported");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn normalise(number: &str, country: &str) -> anyhow::Result<String> {
    crate::numbers::normalise(number, country).with_context(|| format!("number `{number}`"))
}

fn change(args: &NumbersArgs, add: bool) -> anyhow::Result<ExitCode> {
    let scope = args.scope.required()?;
    let (mut target, country) = Target::open(&args.store)?;
    let now = now_millis();
    let ops = args
        .numbers
        .iter()
        .map(|n| {
            let number = normalise(n, &country)?;
            Ok(if add {
                Op::Suppress(Suppression {
                    scope: scope.clone(),
                    number,
                    since: now,
                    source: SuppressionSource::Cli,
                })
            } else {
                Op::Unsuppress {
                    scope: scope.clone(),
                    number,
                }
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let n = target.apply(&ops)?;
    let verb = if add { "added to" } else { "removed from" };
    eprintln!("{n} numbers {verb} the list of {scope}");
    Ok(ExitCode::SUCCESS)
}

/// One line per number; exit 0 when every one is on the list, 1 otherwise.
fn check(args: &NumbersArgs) -> anyhow::Result<ExitCode> {
    let scope = args.scope.required()?;
    let (mut target, country) = Target::open(&args.store)?;
    let mut all = true;
    for n in &args.numbers {
        let number = normalise(n, &country)?;
        match target.get(&scope, &number)? {
            Some(entry) => println!(
                "{number} suppressed for {scope} since {} ({})",
                time(entry.since),
                entry.source
            ),
            None => {
                all = false;
                println!("{number} not suppressed for {scope}");
            }
        }
    }
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The CSV header.
const HEADER: [&str; 4] = ["number", "scope", "since", "source"];

fn export(
    target: &mut Target,
    scope: Option<&ScopeKey>,
    out: impl io::Write,
) -> anyhow::Result<usize> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(HEADER)?;
    let mut count = 0;
    target.list(scope, &mut |entry| {
        writer.write_record([
            entry.number.as_str(),
            &entry.scope.to_string(),
            &entry.since.to_string(),
            &entry.source.to_string(),
        ])?;
        count += 1;
        Ok(())
    })?;
    writer.flush()?;
    Ok(count)
}

/// Lines refused by an import that are kept and printed in full; the rest are counted.
const PROBLEMS_SHOWN: usize = 100;

/// The longest import line read (a number, a scope, a time and a source fit many times
/// over); a longer one is refused and skipped without being held in memory.
const MAX_IMPORT_LINE: u64 = 4096;

/// Consumes the rest of the current line.
fn skip_line(input: &mut impl io::BufRead) -> io::Result<()> {
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if let Some(at) = chunk.iter().position(|&b| b == b'\n') {
            input.consume(at + 1);
            return Ok(());
        }
        let len = chunk.len();
        input.consume(len);
    }
}

fn import(args: &FileArgs) -> anyhow::Result<ExitCode> {
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let (mut target, country) = Target::open(&args.store)?;
    let default_scope = args.scope.scope();
    let report = import_from(
        file,
        &ImportDefaults {
            scope: default_scope.as_ref(),
            country: &country,
            now: now_millis(),
        },
        &mut |ops| target.apply(ops).map(|_| ()),
    )?;
    for problem in &report.problems {
        eprintln!("{}:{problem}", args.file.display());
    }
    if report.refused > report.problems.len() {
        eprintln!(
            "{}: {} more lines refused",
            args.file.display(),
            report.refused - report.problems.len()
        );
    }
    eprintln!(
        "{} numbers imported, {} lines refused",
        report.imported, report.refused
    );
    let _ = io::stderr().flush();
    Ok(if report.refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What an import line lacks is taken from here.
#[derive(Debug)]
pub struct ImportDefaults<'a> {
    /// The scope of lines without one (none: such lines are refused).
    pub scope: Option<&'a ScopeKey>,
    /// For national number forms.
    pub country: &'a str,
    /// `since` of lines without one.
    pub now: u64,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Entries applied.
    pub imported: usize,
    /// `LINE: why` of the first [`PROBLEMS_SHOWN`] lines refused.
    pub problems: Vec<String>,
    /// Lines refused, all told.
    pub refused: usize,
}

/// Reads CSV lines from `input` and hands `apply` the entries in chunks of at most
/// [`MAX_OPS`] (memory stays bounded whatever the file's size). A line that cannot be
/// read is reported by number and left out.
///
/// # Errors
/// `apply` fails (what it applied before stays applied).
pub fn import_from(
    input: impl io::Read,
    defaults: &ImportDefaults<'_>,
    apply: &mut dyn FnMut(&[Op]) -> anyhow::Result<()>,
) -> anyhow::Result<ImportReport> {
    let mut input = io::BufReader::new(input);
    let mut report = ImportReport::default();
    let mut ops = Vec::with_capacity(MAX_OPS.min(1024));
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = (&mut input)
            .take(MAX_IMPORT_LINE)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line += 1;
        let parsed = if buf.last() != Some(&b'\n') && n as u64 == MAX_IMPORT_LINE {
            skip_line(&mut input)?;
            Err(format!("longer than {MAX_IMPORT_LINE} bytes"))
        } else {
            match std::str::from_utf8(&buf) {
                Ok(text) => import_line(text.trim(), defaults),
                Err(_) => Err("not UTF-8".to_owned()),
            }
        };
        match parsed {
            Ok(Some(entry)) => ops.push(Op::Suppress(entry)),
            Ok(None) => {}
            Err(why) => {
                report.refused += 1;
                if report.problems.len() < PROBLEMS_SHOWN {
                    report.problems.push(format!("{line}: {why}"));
                }
            }
        }
        if ops.len() >= MAX_OPS {
            apply(&ops)?;
            report.imported += ops.len();
            ops.clear();
        }
    }
    if !ops.is_empty() {
        apply(&ops)?;
        report.imported += ops.len();
    }
    Ok(report)
}

/// One line (trimmed) as a CSV record: `None` for the header, blank and `#` lines.
fn import_line(text: &str, defaults: &ImportDefaults<'_>) -> Result<Option<Suppression>, String> {
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    if !reader.read_record(&mut record).map_err(|e| e.to_string())? {
        return Ok(None);
    }
    let field = |i: usize| record.get(i).filter(|f| !f.is_empty());
    let Some(number) = field(0) else {
        return Ok(None);
    };
    if number.eq_ignore_ascii_case(HEADER[0]) {
        return Ok(None);
    }
    if record.len() > HEADER.len() {
        return Err(format!(
            "{} fields (at most 4: number,scope,since,source)",
            record.len()
        ));
    }
    let number =
        crate::numbers::normalise(number, defaults.country).map_err(|e| format!("number: {e}"))?;
    let scope = match field(1) {
        Some(scope) => scope.parse::<ScopeKey>()?,
        None => defaults
            .scope
            .cloned()
            .ok_or("no scope on the line and none on the command line (--account or --global)")?,
    };
    let since = match field(2) {
        Some(since) => since
            .parse::<u64>()
            .map_err(|_| format!("since `{since}` is not milliseconds since 1970"))?,
        None => defaults.now,
    };
    let source = match field(3) {
        Some(source) => source.parse::<SuppressionSource>()?,
        None => SuppressionSource::Import,
    };
    Ok(Some(Suppression {
        scope,
        number,
        since,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_names_bad_lines_and_takes_the_rest() {
        let csv = "number,scope,since,source\n\
                   +86 138 0013 8000\n\
                   # a comment\n\
                   13800138001,account:other,5,cli\n\
                   not a number\n\
                   \n\
                   13800138002,nowhere:x\n\
                   13800138003,global,yesterday\n\
                   13800138004,global,7,mo:cmcc:TD\n\
                   1,2,3,4,5\n\
                   \"13800138005\",\"sender:shop/10690001\"\n";
        let shop = ScopeKey::Account("shop".into());
        let mut applied = Vec::new();
        let report = import_from(
            csv.as_bytes(),
            &ImportDefaults {
                scope: Some(&shop),
                country: "86",
                now: 99,
            },
            &mut |ops| {
                applied.extend_from_slice(ops);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(report.imported, 4);
        let lines: Vec<&str> = report
            .problems
            .iter()
            .map(|p| p.split(':').next().unwrap())
            .collect();
        assert_eq!(lines, ["5", "7", "8", "10"], "{:?}", report.problems);
        let entries: Vec<(String, String, u64, String)> = applied
            .iter()
            .map(|op| match op {
                Op::Suppress(e) => (
                    e.number.clone(),
                    e.scope.to_string(),
                    e.since,
                    e.source.to_string(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            entries,
            [
                (
                    "8613800138000".into(),
                    "account:shop".into(),
                    99,
                    "import".into()
                ),
                (
                    "8613800138001".into(),
                    "account:other".into(),
                    5,
                    "cli".into()
                ),
                (
                    "8613800138004".into(),
                    "global".into(),
                    7,
                    "mo:cmcc:TD".into()
                ),
                (
                    "8613800138005".into(),
                    "sender:shop/10690001".into(),
                    99,
                    "import".into()
                ),
            ]
        );
        // No scope anywhere: the line is refused, not guessed.
        let report = import_from(
            "13800138000\n".as_bytes(),
            &ImportDefaults {
                scope: None,
                country: "86",
                now: 1,
            },
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(report.imported, 0);
        assert_eq!(report.problems.len(), 1);
        // A line too long to be one is refused without being read whole; the last line
        // without a newline is still named by its own number.
        let input = format!("13800138000\n{}\n\nnot a number", "9".repeat(10_000));
        let report = import_from(
            input.as_bytes(),
            &ImportDefaults {
                scope: Some(&shop),
                country: "86",
                now: 1,
            },
            &mut |_| Ok(()),
        )
        .unwrap();
        assert_eq!(report.imported, 1);
        assert_eq!(report.refused, 2);
        assert!(
            report.problems[0].starts_with("2: longer than"),
            "{:?}",
            report.problems
        );
        assert!(
            report.problems[1].starts_with("4: "),
            "{:?}",
            report.problems
        );
    }
}
