//! Blacklists (issue #15 §1.2): numbers a message must never be sent to, looked up on the
//! hot path for every destination.
//!
//! A [`Blacklist`] is an immutable, sorted `Vec<u64>`: each number is packed into one
//! word (its digits as an integer in the low 50 bits, its digit count above them), so a
//! number costs 8 bytes, plus 1/8 byte for an index of every 64th key; a lookup is a
//! binary search of that index and then of one 64-key block: plain integers, no hashing,
//! no pointers, no per-number allocation. The digit count is part of the key because the
//! integer alone would make `86138`, `086138` and `0086138` the same number.
//!
//! [`Blacklist::load`] streams one-number-a-line files (any form
//! [`crate::numbers::normalise`] accepts, `#` comments, blank lines, CRLF), reports the
//! lines it could not read without refusing the rest, and sorts once at the end.
//! [`SharedBlacklist`] is what the gateway holds: a reload builds a whole new list beside
//! the old one and swaps a pointer, so lookups never wait for it and binds stay up.
//!
//! Measured (`cargo run --release --example blacklist_load`: 10 M random numbers in
//! mixed forms, a 140 MB file, on a busy 2-core development machine): loaded in 2.3 to
//! 2.8 s, 8.125 bytes a number (81 MB for 9.99 M distinct numbers, 135 MB peak resident
//! while sorting), about 0.5 to 0.6 µs a lookup of a random number (1.5 µs without the
//! index).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::numbers::{NumberError, normalise};

/// E.164 allows at most 15 digits; 10^15 - 1 < 2^50, so the digits fit below bit 50 and
/// the count (1 to 15, four bits) sits above them.
const MAX_DIGITS: usize = 15;
const LENGTH_SHIFT: u32 = 50;

/// How many unreadable lines a [`LoadReport`] keeps in full; the rest are only counted,
/// so a file of garbage cannot make the report as large as the file.
pub const MAX_PROBLEMS_KEPT: usize = 100;

/// Text longer than this (after removing the comment and surrounding spaces) cannot be a
/// phone number in any form; it is reported as too long, and only its start is kept.
const MAX_NUMBER_TEXT: usize = 64;

/// A compact, immutable set of E.164 numbers (digits, no `+`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blacklist {
    /// Sorted, without duplicates; see [`key`].
    keys: Vec<u64>,
    /// The first key of each block of [`BLOCK`] keys. A lookup searches this small array
    /// (1/64 of the keys: it stays in the CPU caches) and then one block of 512 bytes,
    /// instead of jumping across the whole list, where every step below the first few
    /// is a miss to main memory.
    index: Vec<u64>,
}

/// Keys per block of the index: 64 keys are 8 cache lines, and the index costs 1/8 byte
/// a number.
const BLOCK: usize = 64;

/// The one-word form of a digit string, or `None` when it is empty, longer than 15
/// digits or holds something else.
pub(crate) fn key(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return None;
    }
    let mut value = 0_u64;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
    }
    // At most 15, so the cast is exact.
    Some(((digits.len() as u64) << LENGTH_SHIFT) | value)
}

impl Blacklist {
    /// A list of already normalised E.164 numbers (1 to 15 ASCII digits each, the form
    /// [`Blacklist::contains`] takes); duplicates are fine. Meant for tests and for
    /// callers that normalised the numbers themselves; files go through
    /// [`Blacklist::load`].
    ///
    /// # Errors
    /// [`NumberError`] for the first entry that is not 1 to 15 digits.
    pub fn from_numbers<I, S>(numbers: I) -> Result<Self, NumberError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut keys = Vec::new();
        for number in numbers {
            let number = number.as_ref();
            match key(number.as_bytes()) {
                Some(k) => keys.push(k),
                None if number.is_empty() => return Err(NumberError::Empty),
                None if number.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(NumberError::Length(number.to_owned()));
                }
                None => return Err(NumberError::NotDigits(number.to_owned())),
            }
        }
        Ok(Self::from_keys(keys))
    }

    fn from_keys(mut keys: Vec<u64>) -> Self {
        keys.sort_unstable();
        keys.dedup();
        keys.shrink_to_fit();
        let index = keys.iter().step_by(BLOCK).copied().collect();
        Self { keys, index }
    }

    /// Whether `e164` is on the list. `e164` is the destination as the gateway already
    /// holds it: normalised by [`crate::numbers::normalise`], digits only, no `+`. No
    /// normalisation happens here (it would cost an allocation per lookup), so any other
    /// form (`+86…`, `0086…`, spaces) is simply not found.
    #[must_use]
    pub fn contains(&self, e164: &str) -> bool {
        let Some(k) = key(e164.as_bytes()) else {
            return false;
        };
        // The blocks whose first key is at most `k`; `k` can only be in the last of them.
        let Some(block) = self
            .index
            .partition_point(|&first| first <= k)
            .checked_sub(1)
        else {
            return false;
        };
        let start = block * BLOCK;
        let end = (start + BLOCK).min(self.keys.len());
        self.keys[start..end].binary_search(&k).is_ok()
    }

    /// How many distinct numbers are on the list.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Heap bytes the list holds: 8 per number and 8 per block of 64 in the index (the
    /// vectors are shrunk after loading).
    #[must_use]
    pub fn bytes_used(&self) -> usize {
        (self.keys.capacity() + self.index.capacity()) * size_of::<u64>()
    }

    /// Reads every file in `paths` (one number a line, in any form
    /// [`crate::numbers::normalise`] accepts with `default_country`; blank lines and `#`
    /// comments, whole-line or trailing, are skipped; CRLF and a UTF-8 byte-order mark
    /// are tolerated) into one list.
    ///
    /// A line that is not a number is reported in [`LoadReport::problems`] and the rest
    /// loads. Each line is read into one reused buffer; `normalise` makes one short
    /// string per number, which keeps this list and the gateway's own normalisation
    /// from ever disagreeing. The numbers are sorted and deduplicated once, at the end.
    ///
    /// # Errors
    /// [`BlacklistError::Read`] when a file is missing or cannot be read: nothing is
    /// loaded, so a reload that fails leaves the previous list in place.
    pub fn load(
        paths: &[PathBuf],
        default_country: &str,
    ) -> Result<(Self, LoadReport), BlacklistError> {
        let mut keys = Vec::new();
        let mut report = LoadReport::default();
        for path in paths {
            load_file(path, default_country, &mut keys, &mut report)?;
        }
        let list = Self::from_keys(keys);
        Ok((list, report))
    }
}

fn load_file(
    path: &Path,
    default_country: &str,
    keys: &mut Vec<u64>,
    report: &mut LoadReport,
) -> Result<(), BlacklistError> {
    let read_error = |source| BlacklistError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_error)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(128);
    let mut number = 0_u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(read_error)? == 0 {
            break;
        }
        number += 1;
        report.lines += 1;
        let mut text = line.as_slice();
        if number == 1 {
            text = text.strip_prefix("\u{feff}".as_bytes()).unwrap_or(text);
        }
        if let Some(comment) = text.iter().position(|&b| b == b'#') {
            text = &text[..comment];
        }
        // `trim_ascii` also removes the `\n` and a CRLF's `\r`.
        let text = text.trim_ascii();
        if text.is_empty() {
            continue;
        }
        match parse(text, default_country) {
            Ok(k) => {
                keys.push(k);
                report.numbers += 1;
            }
            Err(reason) => report.problem(LineProblem {
                file: path.to_owned(),
                line: number,
                text: shortened(text),
                reason,
            }),
        }
    }
    Ok(())
}

/// One line's number, normalised and packed.
fn parse(text: &[u8], default_country: &str) -> Result<u64, NumberError> {
    let Ok(text) = std::str::from_utf8(text) else {
        return Err(NumberError::NotDigits(shortened(text)));
    };
    if text.len() > MAX_NUMBER_TEXT {
        return Err(NumberError::Length(shortened(text.as_bytes())));
    }
    let e164 = normalise(text, default_country)?;
    // `normalise` answers 3 to 15 digits, so this always packs; checked all the same.
    key(e164.as_bytes()).ok_or(NumberError::Length(e164))
}

/// At most [`MAX_NUMBER_TEXT`] bytes of `text`, for a report.
fn shortened(text: &[u8]) -> String {
    let mut out = String::from_utf8_lossy(&text[..text.len().min(MAX_NUMBER_TEXT)]).into_owned();
    if text.len() > MAX_NUMBER_TEXT {
        out.push('…');
    }
    out
}

/// What [`Blacklist::load`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Lines read, in all files (comments and blank lines included).
    pub lines: u64,
    /// Lines that held a number (before duplicates are removed: compare with
    /// [`Blacklist::len`]).
    pub numbers: u64,
    /// The first [`MAX_PROBLEMS_KEPT`] lines that are not a number, in file order.
    pub problems: Vec<LineProblem>,
    /// Further such lines, only counted.
    pub problems_not_kept: u64,
}

impl LoadReport {
    /// All lines that were not a number, kept or not.
    #[must_use]
    pub fn problem_count(&self) -> u64 {
        self.problems.len() as u64 + self.problems_not_kept
    }

    fn problem(&mut self, problem: LineProblem) {
        if self.problems.len() < MAX_PROBLEMS_KEPT {
            self.problems.push(problem);
        } else {
            self.problems_not_kept += 1;
        }
    }
}

/// A line of a blacklist file that is not a phone number; it was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// The file.
    pub file: PathBuf,
    /// Its line number, from 1.
    pub line: u64,
    /// The line's text without its comment (at most 64 bytes of it).
    pub text: String,
    /// Why it is not a number.
    pub reason: NumberError,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: `{}`: {}",
            self.file.display(),
            self.line,
            self.text,
            self.reason
        )
    }
}

/// Why a blacklist could not be loaded at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlacklistError {
    /// A file is missing or could not be read.
    #[error("cannot read blacklist {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

/// The blacklist the gateway looks numbers up in, replaceable while it runs.
///
/// An [`ArcSwap`] rather than `RwLock<Arc<Blacklist>>`: with a lock, every lookup on
/// every intake task would write the lock's reader count (one contended cache line) and
/// could wait behind a writer; here a lookup is an atomic load, and a reload, which
/// builds its new list before touching this, only swaps a pointer. Lists still in use
/// by a lookup in flight are freed when it ends.
#[derive(Debug)]
pub struct SharedBlacklist {
    current: ArcSwap<Blacklist>,
}

impl SharedBlacklist {
    /// Starts with `list`.
    #[must_use]
    pub fn new(list: Blacklist) -> Self {
        Self {
            current: ArcSwap::from_pointee(list),
        }
    }

    /// [`Blacklist::load`] into a new shared list.
    ///
    /// # Errors
    /// As [`Blacklist::load`].
    pub fn load(
        paths: &[PathBuf],
        default_country: &str,
    ) -> Result<(Self, LoadReport), BlacklistError> {
        let (list, report) = Blacklist::load(paths, default_country)?;
        Ok((Self::new(list), report))
    }

    /// Loads `paths` again and, if every file could be read, puts the new list in place;
    /// otherwise the current list stays. Blocking file I/O: run it off the async
    /// workers (`spawn_blocking`).
    ///
    /// # Errors
    /// As [`Blacklist::load`]; the current list is then unchanged.
    pub fn reload(
        &self,
        paths: &[PathBuf],
        default_country: &str,
    ) -> Result<LoadReport, BlacklistError> {
        let (list, report) = Blacklist::load(paths, default_country)?;
        // The old list is dropped here or by the last lookup still holding it.
        drop(self.replace(list));
        Ok(report)
    }

    /// Puts `list` in place; answers the list it replaced.
    pub fn replace(&self, list: Blacklist) -> Arc<Blacklist> {
        self.current.swap(Arc::new(list))
    }

    /// The list in place now; it stays valid (and unchanged) for as long as it is held.
    #[must_use]
    pub fn current(&self) -> Arc<Blacklist> {
        self.current.load_full()
    }

    /// [`Blacklist::contains`] on the list in place now, without touching its
    /// reference count.
    #[must_use]
    pub fn contains(&self, e164: &str) -> bool {
        self.current.load().contains(e164)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    fn file_with(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_text(text: &str) -> (Blacklist, LoadReport) {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(&dir, "list.txt", text);
        Blacklist::load(&[path], "86").unwrap()
    }

    #[test]
    fn every_written_form_loads_as_the_same_number() {
        let (list, report) = load_text(
            "+86 138 0013 8000\n\
             008613800138001\n\
             0086 138-0013-8002\n\
             13800138003\n\
             138-0013-8004\n\
             (138) 0013.8005\n\
             8613800138006\n\
             +44 7911 123456\n\
             010 1234 5678\n",
        );
        assert_eq!(report.problem_count(), 0, "{:?}", report.problems);
        assert_eq!(report.numbers, 9);
        assert_eq!(list.len(), 9);
        for n in 0..=6 {
            assert!(list.contains(&format!("861380013800{n}")), "{n}");
        }
        assert!(list.contains("447911123456"));
        assert!(list.contains("861012345678"));
        // Lookups take the normalised form only.
        assert!(!list.contains("+8613800138000"));
        assert!(!list.contains("13800138000"));
        assert!(!list.contains("008613800138000"));
        assert!(!list.contains("861380013800"));
        assert!(!list.contains("8613800138009"));
    }

    #[test]
    fn comments_blank_lines_crlf_and_duplicates() {
        let (list, report) = load_text(
            "\u{feff}# carrier complaints, 2026-12\r\n\
             \r\n\
             13800138000 # asked twice\r\n\
             +86 138 0013 8000\r\n\
             \t  \n\
             13900139000#no space before the comment\n\
             # 13700137000 is commented out\n\
             13600136000",
        );
        assert_eq!(report.problem_count(), 0, "{:?}", report.problems);
        assert_eq!(report.lines, 8);
        assert_eq!(report.numbers, 4);
        assert_eq!(list.len(), 3);
        assert!(list.contains("8613800138000"));
        assert!(list.contains("8613900139000"));
        assert!(list.contains("8613600136000"));
        assert!(!list.contains("8613700137000"));
    }

    #[test]
    fn a_garbage_line_is_named_and_the_rest_loads() {
        let dir = tempfile::tempdir().unwrap();
        let first = file_with(&dir, "a.txt", "13800138000\n");
        let second = file_with(
            &dir,
            "b.txt",
            "13900139000\n# fine\n139abc # typo\n+1\n13900139001\n",
        );
        let (list, report) = Blacklist::load(&[first, second.clone()], "86").unwrap();
        assert_eq!(list.len(), 3);
        assert!(list.contains("8613800138000"));
        assert!(list.contains("8613900139000"));
        assert!(list.contains("8613900139001"));
        assert_eq!(
            report.problems,
            vec![
                LineProblem {
                    file: second.clone(),
                    line: 3,
                    text: "139abc".to_owned(),
                    reason: NumberError::NotDigits("139abc".to_owned()),
                },
                LineProblem {
                    file: second.clone(),
                    line: 4,
                    text: "+1".to_owned(),
                    reason: NumberError::Length("+1".to_owned()),
                },
            ]
        );
        assert_eq!(
            report.problems[0].to_string(),
            format!(
                "{}:3: `139abc`: `139abc` contains a character that is not a digit",
                second.display()
            )
        );
    }

    #[test]
    fn problems_are_bounded_and_long_or_binary_lines_shortened() {
        let mut text = String::new();
        for _ in 0..250 {
            text.push_str("not a number\n");
        }
        text.push_str(&"1".repeat(1000));
        text.push('\n');
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        let mut file = File::create(&path).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.write_all(b"\xff\xfe13800138000\n13800138000\n")
            .unwrap();
        drop(file);
        let (list, report) = Blacklist::load(&[path], "86").unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(report.problems.len(), MAX_PROBLEMS_KEPT);
        assert_eq!(report.problem_count(), 252);
        assert_eq!(report.problems_not_kept, 152);
        assert_eq!(report.problems[0].line, 1);
        assert_eq!(report.problems[99].line, 100);

        let (_, report) = load_text(&format!("{}\n\u{feff}\u{ff}\n", "1".repeat(1000)));
        let long = &report.problems[0];
        assert_eq!(long.text, format!("{}…", "1".repeat(64)));
        assert!(matches!(long.reason, NumberError::Length(_)));
        assert!(matches!(
            report.problems[1].reason,
            NumberError::NotDigits(_)
        ));
    }

    #[test]
    fn an_empty_file_is_an_empty_list() {
        let (list, report) = load_text("");
        assert!(list.is_empty());
        assert_eq!(list.bytes_used(), 0);
        assert_eq!(report, LoadReport::default());
        let (list, report) = load_text("# nothing yet\n\n");
        assert!(list.is_empty());
        assert_eq!(report.lines, 2);
        assert_eq!(Blacklist::load(&[], "86").unwrap().0.len(), 0);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let good = file_with(&dir, "good.txt", "13800138000\n");
        let missing = dir.path().join("missing.txt");
        let error = Blacklist::load(&[good, missing.clone()], "86").unwrap_err();
        let BlacklistError::Read { path, source } = &error;
        assert_eq!(path, &missing);
        assert_eq!(source.kind(), io::ErrorKind::NotFound);
        assert!(
            error.to_string().contains(&missing.display().to_string()),
            "{error}"
        );
        // A directory is not readable as a list either.
        let error = Blacklist::load(&[dir.path().to_owned()], "86").unwrap_err();
        let BlacklistError::Read { path, .. } = &error;
        assert_eq!(path, dir.path());
    }

    #[test]
    fn numbers_that_share_digits_never_collide() {
        let list = Blacklist::from_numbers(["86138", "8613800138000", "1"]).unwrap();
        assert!(list.contains("86138"));
        assert!(list.contains("8613800138000"));
        assert!(list.contains("1"));
        for absent in [
            "086138",
            "0086138",
            "00086138",
            "8613",
            "861380",
            "861380013800",
            "86138001380000",
            "01",
            "001",
            "000000000000001",
            "",
            "861380013800000",
            "8613800138000000",
            "+86138",
            "86 138",
        ] {
            assert!(!list.contains(absent), "{absent}");
        }
        let list = Blacklist::from_numbers(["0086138"]).unwrap();
        assert!(list.contains("0086138"));
        assert!(!list.contains("86138"));
        // The largest number E.164 allows packs without touching the length bits.
        let list = Blacklist::from_numbers(["999999999999999", "99999999999999"]).unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.contains("999999999999999"));
        assert!(!list.contains("9999999999999"));
    }

    #[test]
    fn lookups_find_every_number_across_many_blocks() {
        // Every seventh number of a range, so each block boundary has absent neighbours.
        let present = |n: u64| n % 7 == 0;
        let range = 8_613_800_000_000..8_613_800_010_000_u64;
        let list =
            Blacklist::from_numbers(range.clone().filter(|&n| present(n)).map(|n| n.to_string()))
                .unwrap();
        assert_eq!(list.len(), 1429);
        for n in range.start - 10..range.end + 10 {
            let expected = range.contains(&n) && present(n);
            assert_eq!(list.contains(&n.to_string()), expected, "{n}");
        }
        // Shorter and longer numbers sort before and after the whole range.
        assert!(!list.contains("1"));
        assert!(!list.contains("999999999999999"));
    }

    #[test]
    fn from_numbers_refuses_what_is_not_e164_digits() {
        assert_eq!(Blacklist::from_numbers([""]), Err(NumberError::Empty));
        assert_eq!(
            Blacklist::from_numbers(["1234567890123456"]),
            Err(NumberError::Length("1234567890123456".to_owned()))
        );
        assert_eq!(
            Blacklist::from_numbers(["+8613800138000"]),
            Err(NumberError::NotDigits("+8613800138000".to_owned()))
        );
        let list = Blacklist::from_numbers(["3", "1", "2", "1"]).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list.bytes_used(), (3 + 1) * 8);
    }

    #[test]
    fn a_reload_replaces_the_list_and_a_failed_one_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(&dir, "list.txt", "13800138000\n");
        let paths = [path.clone()];
        let (shared, _) = SharedBlacklist::load(&paths, "86").unwrap();
        assert!(shared.contains("8613800138000"));
        let before = shared.current();

        std::fs::write(&path, "13900139000\n").unwrap();
        let report = shared.reload(&paths, "86").unwrap();
        assert_eq!(report.numbers, 1);
        assert!(!shared.contains("8613800138000"));
        assert!(shared.contains("8613900139000"));
        // A lookup that took the old list before the reload still sees it whole.
        assert!(before.contains("8613800138000"));

        std::fs::remove_file(&path).unwrap();
        assert!(shared.reload(&paths, "86").is_err());
        assert!(shared.contains("8613900139000"));

        let old = shared.replace(Blacklist::default());
        assert!(old.contains("8613900139000"));
        assert!(shared.current().is_empty());
    }

    fn written_number() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9]{1,17}",
            "1[0-9]{10}",
            "\\+[0-9]{1,16}",
            "00[0-9]{1,16}",
            "0[0-9]{9,12}",
            "\\+?[0-9][0-9 .()-]{0,20}",
            "[0-9a-z+ ]{0,10}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn contains_agrees_with_a_set_of_normalised_numbers(
            written in prop::collection::vec(written_number(), 0..40),
            queries in prop::collection::vec("[0-9]{0,16}", 0..40),
        ) {
            let expected: HashSet<String> =
                written.iter().filter_map(|w| normalise(w, "86").ok()).collect();
            let (list, report) = load_text(&written.join("\n"));
            prop_assert_eq!(list.len(), expected.len());
            let not_numbers = written
                .iter()
                .filter(|w| !w.trim().is_empty() && normalise(w, "86").is_err())
                .count();
            prop_assert_eq!(report.problem_count(), not_numbers as u64);
            prop_assert_eq!(
                &Blacklist::from_numbers(&expected).unwrap(),
                &list
            );
            let lookups = queries
                .iter()
                .chain(&written)
                .cloned()
                .chain(expected.iter().cloned())
                .chain(expected.iter().map(|e| format!("00{e}")))
                .chain(expected.iter().map(|e| e[1..].to_owned()));
            for query in lookups {
                prop_assert_eq!(list.contains(&query), expected.contains(&query), "{}", query);
            }
        }
    }
}
