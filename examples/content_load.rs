//! Sensitive words (issue #15 §1.7): how long a big word list takes to load and how long one
//! `find` takes on an SMS-sized Chinese text.
//!
//! ```text
//! cargo run --release --example content_load -- [BIG_COUNT] [SMALL_COUNT]
//! ```
//!
//! 1. Writes BIG_COUNT (default 1 000 000) random words (80 % Chinese, 2 to 6 characters;
//!    20 % Latin, 4 to 10 letters) to a file in the temporary directory, times
//!    `SensitiveWords::load` on it and reads the process's resident memory before and after;
//!    then times building the bare `aho-corasick` automaton from the same lines, to split the
//!    load time between normalisation and building.
//! 2. Builds SMALL_COUNT (default 10 000) such words and times `find` on a 70-character Chinese
//!    text without a hit (and, for the cost of normalisation, with a single word), the same
//!    text with separators (a longer text to normalise), and a text
//!    whose last characters are a configured word.
//!
//! Prints plain lines; the figures depend on the machine and are never asserted anywhere.

use std::hint::black_box;
use std::time::{Duration, Instant};

use smppgate::policy::content::SensitiveWords;

/// 70 characters of everyday Chinese (a delivery notice), no word of the generated lists.
const TEXT: &str = "【顺丰速运】您好，您的快递已到达小区门口的快递柜，请凭取件码八六四二于今天晚上九点之前取走，逾期将退回寄件人，如有疑问请联系客服，谢谢配合。";

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn random_word(rng: &mut fastrand::Rng) -> String {
    if rng.u8(..5) == 0 {
        (0..rng.usize(4..=10)).map(|_| rng.lowercase()).collect()
    } else {
        (0..rng.usize(2..=6))
            .map(|_| char::from_u32(rng.u32(0x4E00..=0x9FA5)).unwrap_or('一'))
            .collect()
    }
}

fn per_call(words: &SensitiveWords, text: &str) -> Duration {
    // Warm up, then enough calls for a stable mean.
    for _ in 0..1_000 {
        black_box(words.find(black_box(text)));
    }
    let calls = 100_000u32;
    let started = Instant::now();
    for _ in 0..calls {
        black_box(words.find(black_box(text)));
    }
    started.elapsed() / calls
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let big: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let small: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let mut rng = fastrand::Rng::with_seed(15);

    let path = std::env::temp_dir().join(format!("smppgate-content-{}.txt", std::process::id()));
    let mut list = String::new();
    for _ in 0..big {
        list.push_str(&random_word(&mut rng));
        list.push('\n');
    }
    std::fs::write(&path, &list)?;
    drop(list);
    let rss_before = rss_kib();
    let started = Instant::now();
    let loaded = SensitiveWords::load(&path);
    let elapsed = started.elapsed();
    let rss_after = rss_kib();
    let (words, report) = loaded.map_err(std::io::Error::other)?;
    println!(
        "load {big} words: {:.2} s, {report:?}, RSS +{} MiB",
        elapsed.as_secs_f64(),
        rss_after.saturating_sub(rss_before) / 1024
    );
    drop(words);
    // The automaton alone, from the same words (already lower case and simplified), to split
    // the load time between normalisation and building.
    let raw = std::fs::read_to_string(&path)?;
    let started = Instant::now();
    let automaton = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(raw.lines())
        .map_err(std::io::Error::other)?;
    println!(
        "of which building the automaton: {:.2} s ({} MiB)",
        started.elapsed().as_secs_f64(),
        automaton.memory_usage() / (1024 * 1024)
    );
    drop((automaton, raw));
    std::fs::remove_file(&path)?;

    let words = SensitiveWords::new((0..small).map(|_| random_word(&mut rng)));
    let hit = format!("{}{}", &TEXT[..TEXT.len() - 12], "法轮");
    let words_with_hit = SensitiveWords::new(
        (0..small)
            .map(|_| random_word(&mut rng))
            .chain(["法轮".to_owned()]),
    );
    assert_eq!(words.find(TEXT), None, "the text must be harmless");
    assert!(words_with_hit.find(&hit).is_some(), "the hit must match");
    let one = SensitiveWords::new(["qqqqzzzz"]);
    println!(
        "1 word, {} chars: find {:.2} µs/call (mostly normalisation)",
        TEXT.chars().count(),
        per_call(&one, TEXT).as_secs_f64() * 1e6
    );
    let spaced: String = TEXT.chars().flat_map(|c| [c, '·']).collect();
    println!(
        "{small} words, {} chars: find {:.2} µs/call (no hit)",
        TEXT.chars().count(),
        per_call(&words, TEXT).as_secs_f64() * 1e6
    );
    println!(
        "{small} words, {} chars with a separator after each: find {:.2} µs/call (no hit)",
        spaced.chars().count(),
        per_call(&words, &spaced).as_secs_f64() * 1e6
    );
    println!(
        "{small} words, {} chars ending in a word: find {:.2} µs/call (hit)",
        hit.chars().count(),
        per_call(&words_with_hit, &hit).as_secs_f64() * 1e6
    );
    Ok(())
}
