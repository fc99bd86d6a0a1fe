//! Blacklist load time and memory (issue #15 §1.2): writes COUNT random numbers in the
//! forms operators send (national `138…`, `+86 138 …`, `0086…`, foreign `+44 …`, with a
//! comment line now and then) to a temporary file, loads it with the default country
//! `86`, and looks each of a million numbers up.
//!
//! ```text
//! cargo run --release --example blacklist_load -- [COUNT]
//! ```
//!
//! COUNT defaults to 10 000 000. Prints one JSON line.

use std::io::{BufWriter, Write};
use std::time::Instant;

use smppgate::policy::blacklist::Blacklist;

const LOOKUPS: u64 = 1_000_000;

fn main() -> anyhow::Result<()> {
    let count: u64 = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 10_000_000,
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("blacklist.txt");
    let mut rng = fastrand::Rng::with_seed(15);
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    for n in 0..count {
        if n % 1000 == 0 {
            writeln!(out, "# batch {n}")?;
        }
        let mobile = 13_000_000_000 + rng.u64(..7_000_000_000);
        match rng.u8(..10) {
            0..=5 => writeln!(out, "{mobile}")?,
            6 | 7 => {
                let text = mobile.to_string();
                writeln!(out, "+86 {} {} {}", &text[..3], &text[3..7], &text[7..])?;
            }
            8 => writeln!(out, "0086{mobile}\r")?,
            _ => writeln!(out, "+44 7{:09}", rng.u64(..1_000_000_000))?,
        }
    }
    out.flush()?;
    drop(out);
    let file_bytes = std::fs::metadata(&path)?.len();

    let started = Instant::now();
    let (list, report) = Blacklist::load(&[path], "86")?;
    let load = started.elapsed();

    let queries: Vec<String> = (0..LOOKUPS)
        .map(|_| format!("86{}", 13_000_000_000 + rng.u64(..7_000_000_000)))
        .collect();
    let started = Instant::now();
    let found = queries.iter().filter(|q| list.contains(q)).count();
    let lookups = started.elapsed();

    println!(
        "{}",
        serde_json::json!({
            "written": count,
            "file_bytes": file_bytes,
            "load_seconds": load.as_secs_f64(),
            "lines": report.lines,
            "problems": report.problem_count(),
            "distinct": list.len(),
            "bytes_used": list.bytes_used(),
            "bytes_per_number": list.bytes_used() as f64 / list.len().max(1) as f64,
            "lookups": LOOKUPS,
            "found": found,
            "ns_per_lookup": lookups.as_nanos() as f64 / LOOKUPS as f64,
        })
    );
    Ok(())
}
