//! Sensitive words (issue #15 §1.7): does a message text contain one of a configured list of
//! forbidden words or phrases, even when the sender has dressed it up?
//!
//! Both the words and the text go through the same normalisation (`normalise`), one source
//! character (with its combining marks) at a time:
//!
//! 1. NFKC: full-width `Ｆａ` becomes `Fa`, `①` becomes `1`, compatibility ideographs become
//!    the unified ones, `e` + U+0301 becomes `é`.
//! 2. Lower case (`str::to_lowercase`, not full Unicode case folding; they differ only for a
//!    handful of letters such as `ß`).
//! 3. Traditional → simplified Chinese, character by character, from the tables of `zhconv`
//!    (MediaWiki's and OpenCC's). Phrase-level conversion is deliberately not used: it changes
//!    lengths and would lose the way back to the original text, and both sides are converted
//!    alike, so a character-level table is enough to make `法輪` meet `法轮`. The table merges
//!    a few distinct traditional characters into one simplified one (`髮`, `發` → `发`), which can
//!    only add matches, never hide one.
//! 4. Separators are dropped: whitespace, controls, ASCII and CJK punctuation, symbols, emoji,
//!    zero-width characters, variation selectors and diacritics left over after NFKC (see
//!    `is_separator`). So `法@@轮`, `法 轮`, `法.轮` and `Ｆａ＿ＬＵＮ` all read as `法轮` /
//!    `falun`. Letters and digits are never dropped: `法x轮` does not match `法轮`.
//!
//! Each kept character remembers the byte span of the source character it came from, so a
//! [`Match`] points at the original text, separators between the word's characters included.
//! Matching is plain substring search (no word boundaries): `falun` matches inside `xfaluny`,
//! which is what a Chinese text without spaces needs anyway.
//!
//! # Why `aho-corasick`
//!
//! `aho-corasick` (BurntSushi's, already in the tree through `regex`) gives leftmost-longest
//! semantics out of the box and picks a DFA for short lists, a contiguous NFA for long ones.
//! `examples/content_load.rs` (release, a shared 2-core Xeon) measured: 1 M random words load
//! in about 10 s, of which about 7.5 s is building the automaton (92 MiB); `find` on a
//! 70-character Chinese text against 10 000 words takes about 2.7 µs, most of it normalisation.
//! `daachorse` (which `zhconv` uses inside) is built for large CJK dictionaries and might load
//! faster and smaller, but it refuses duplicate patterns and is one more matcher to know; we
//! did not need it at these figures. Reloading a large list belongs off the message path.
//!
//! The engine (`src/policy/engine.rs`) applies it (`sensitive_words`); `sensitive_action =
//! "hold"` keeps a matching message in the review queue (`src/gateway/review.rs`).

use std::collections::HashSet;
use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// A compiled list of sensitive words.
pub struct SensitiveWords {
    /// `None` when no word survived normalisation: nothing can match.
    automaton: Option<AhoCorasick>,
    /// The configured word for each pattern id of the automaton (the first one configured, when
    /// several normalise to the same text).
    words: Vec<String>,
}

/// Where a sensitive word was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The word as configured (not normalised).
    pub word: String,
    /// Byte offset into the original text of the first character of the match.
    pub start: usize,
    /// Byte offset into the original text just past the last character of the match, so that
    /// `&text[start..end]` is the matched span, separators between its characters included.
    pub end: usize,
}

/// What [`SensitiveWords::load`] made of a word list file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WordListReport {
    /// Lines holding an entry (not blank, not only a comment).
    pub entries: usize,
    /// Distinct words after normalisation: what the matcher holds.
    pub words: usize,
    /// Entries whose normalised form was already there (`法輪` after `法轮`, `FaLun` after
    /// `falun`); harmless.
    pub duplicates: usize,
    /// Entries made only of separators (`@@@`), which would match nothing and are skipped.
    pub empty: usize,
}

/// Why a word list could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The file could not be read (missing, unreadable).
    #[error("sensitive word list {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A line is not UTF-8.
    #[error("sensitive word list {}, line {line}: not UTF-8", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    /// The list is beyond what the automaton can address (billions of states).
    #[error("sensitive word list too large for the matcher ({words} words): {source}")]
    TooLarge {
        words: usize,
        source: aho_corasick::BuildError,
    },
}

impl SensitiveWords {
    /// Compiles `words`, each normalised like the texts it will be matched against; words that
    /// normalise to nothing are skipped, duplicates are fine.
    ///
    /// # Panics
    ///
    /// When the automaton would exceed `aho-corasick`'s limits (billions of states); a list
    /// read from a file should go through [`SensitiveWords::load`], which reports that instead.
    #[must_use]
    pub fn new(words: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        match Self::build(words) {
            Ok((matcher, _)) => matcher,
            Err(error) => panic!("{error}"),
        }
    }

    /// Reads a word list: one word or phrase per line, UTF-8, blank lines and `#` comments
    /// ignored (a `#` anywhere starts a comment: it is a separator, so it could not be part of
    /// a word anyway), CRLF tolerated, duplicates fine. An empty file gives a matcher that
    /// matches nothing.
    pub fn load(path: impl AsRef<Path>) -> Result<(Self, WordListReport), ContentError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ContentError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut lines = Vec::new();
        for (index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
            let line = std::str::from_utf8(line).map_err(|_| ContentError::NotUtf8 {
                path: path.to_owned(),
                line: index + 1,
            })?;
            let entry = line.split('#').next().unwrap_or_default().trim();
            let entry = entry.trim_start_matches('\u{FEFF}').trim();
            if !entry.is_empty() {
                lines.push(entry);
            }
        }
        Self::build(lines)
    }

    fn build(
        words: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<(Self, WordListReport), ContentError> {
        let mut report = WordListReport::default();
        let mut patterns = Vec::new();
        let mut configured = Vec::new();
        let mut seen = HashSet::new();
        for word in words {
            let word = word.as_ref();
            report.entries += 1;
            let normalised = normalise(word).text;
            if normalised.is_empty() {
                report.empty += 1;
            } else if seen.contains(&normalised) {
                report.duplicates += 1;
            } else {
                seen.insert(normalised.clone());
                patterns.push(normalised);
                configured.push(word.to_owned());
            }
        }
        drop(seen);
        report.words = patterns.len();
        let automaton = if patterns.is_empty() {
            None
        } else {
            let automaton = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .map_err(|source| ContentError::TooLarge {
                    words: patterns.len(),
                    source,
                })?;
            Some(automaton)
        };
        let matcher = Self {
            automaton,
            words: configured,
        };
        Ok((matcher, report))
    }

    /// The leftmost sensitive word in `text` (the longest, when several start there), with its
    /// span in `text`.
    #[must_use]
    pub fn find(&self, text: &str) -> Option<Match> {
        let automaton = self.automaton.as_ref()?;
        let normalised = normalise(text);
        let found = automaton.find(&normalised.text)?;
        // A match is never empty (no pattern is) and lies on character boundaries of the
        // normalised text, so both indexes are in range.
        let start = normalised.origin[found.start()].start;
        let end = normalised.origin[found.end() - 1].end;
        Some(Match {
            word: self.words[found.pattern().as_usize()].clone(),
            start,
            end,
        })
    }

    /// How many distinct words (after normalisation) the matcher holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether the matcher holds no word (and so matches nothing).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

impl fmt::Debug for SensitiveWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensitiveWords")
            .field("words", &self.words.len())
            .finish_non_exhaustive()
    }
}

/// A normalised text and, for each of its bytes, the span of the source character it came from.
struct Normalised {
    text: String,
    origin: Vec<Range<usize>>,
}

/// Normalises `text` as described in the module documentation.
fn normalise(text: &str) -> Normalised {
    let mut out = Normalised {
        text: String::with_capacity(text.len()),
        origin: Vec::with_capacity(text.len()),
    };
    let mut chars = text.char_indices().peekable();
    let mut cluster = String::new();
    while let Some((start, first)) = chars.next() {
        if chars
            .peek()
            .is_none_or(|&(_, next)| !is_combining_mark(next))
        {
            // A character alone, the common case: no buffer, and shortcuts for the scripts an
            // SMS is mostly written in.
            let source = start..start + first.len_utf8();
            if first.is_ascii() {
                // NFKC already, and nothing to simplify.
                let lower = first.to_ascii_lowercase();
                if !is_separator(lower) {
                    push(&mut out, lower, source);
                }
            } else if ('\u{4E00}'..='\u{9FFF}').contains(&first) {
                // CJK unified ideographs: NFKC already, caseless, never separators.
                push(&mut out, simplified(first), source);
            } else if is_nfkc_quick(std::iter::once(first)) == IsNormalized::Yes {
                push_folded(&mut out, first, source);
            } else {
                for c in std::iter::once(first).nfkc() {
                    push_folded(&mut out, c, source.clone());
                }
            }
            continue;
        }
        // One base character and the combining marks after it: NFKC composes across them.
        cluster.clear();
        cluster.push(first);
        let mut end = start + first.len_utf8();
        while let Some(&(at, mark)) = chars.peek() {
            if !is_combining_mark(mark) {
                break;
            }
            cluster.push(mark);
            end = at + mark.len_utf8();
            chars.next();
        }
        if is_nfkc_quick(cluster.chars()) == IsNormalized::Yes {
            for c in cluster.chars() {
                push_folded(&mut out, c, start..end);
            }
        } else {
            for c in cluster.nfkc() {
                push_folded(&mut out, c, start..end);
            }
        }
    }
    out
}

/// Lower-cases and simplifies one NFKC character and keeps what is not a separator.
fn push_folded(out: &mut Normalised, c: char, source: Range<usize>) {
    for lower in c.to_lowercase() {
        let simple = simplified(lower);
        if !is_separator(simple) {
            push(out, simple, source.clone());
        }
    }
}

fn push(out: &mut Normalised, c: char, source: Range<usize>) {
    out.text.push(c);
    for _ in 0..c.len_utf8() {
        out.origin.push(source.clone());
    }
}

/// Traditional → simplified, one character to one character.
struct Simplifier {
    /// For each character of `DENSE` (CJK radicals to the end of the BMP's unified ideographs,
    /// where nearly every pair lies), its simplified form: one index instead of a search.
    dense: Vec<char>,
    /// The pairs outside `DENSE` (CJK extensions in the supplementary planes), sorted.
    sparse: Vec<(char, char)>,
}

const DENSE: RangeInclusive<char> = '\u{2E80}'..='\u{9FFF}';

static SIMPLIFIER: LazyLock<Simplifier> = LazyLock::new(|| {
    let mut dense: Vec<char> = DENSE.collect();
    let mut sparse = Vec::new();
    let pairs = zhconv::tables::expand_table(zhconv::tables::ZH_HANS_TABLE)
        .filter_map(|(from, to)| Some((single_char(&from)?, single_char(&to)?)));
    for (from, to) in pairs {
        if DENSE.contains(&from) {
            dense[dense_index(from)] = to;
        } else {
            sparse.push((from, to));
        }
    }
    sparse.sort_unstable();
    sparse.dedup_by_key(|&mut (from, _)| from);
    Simplifier { dense, sparse }
});

fn dense_index(c: char) -> usize {
    (u32::from(c) - u32::from(*DENSE.start())) as usize
}

fn single_char(text: &str) -> Option<char> {
    let mut chars = text.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// The simplified form of a traditional Chinese character; any other character unchanged.
fn simplified(c: char) -> char {
    let simplifier = &*SIMPLIFIER;
    if DENSE.contains(&c) {
        simplifier.dense[dense_index(c)]
    } else if c < *DENSE.start() {
        c
    } else {
        match simplifier
            .sparse
            .binary_search_by_key(&c, |&(from, _)| from)
        {
            Ok(index) => simplifier.sparse[index].1,
            Err(_) => c,
        }
    }
}

/// Characters that a sender may slip between the characters of a word without changing what
/// it says. Applied after NFKC, so full-width forms arrive here as their ASCII selves.
fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() || c.is_ascii_whitespace() || c.is_ascii_control();
    }
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            // Diacritics that did not compose with the character before them (stacked "Zalgo"
            // marks). Not every combining mark: Indic and Thai vowel signs are letters' parts.
            '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}'
            // Latin-1 punctuation and symbols that survive NFKC: ¡ § « · » ¿, soft hyphen, × ÷.
            | '\u{00A1}'..='\u{00BF}' | '\u{00D7}' | '\u{00F7}'
            // General punctuation: zero-width space, (non-)joiners, dashes, quotes, bullets.
            | '\u{2000}'..='\u{206F}'
            // Arrows, mathematical operators, technical, box drawing, shapes, symbols, dingbats.
            | '\u{2190}'..='\u{2BFF}'
            // CJK symbols and punctuation (、。「」【】〜), katakana middle dot ・.
            | '\u{3000}'..='\u{303F}' | '\u{30FB}'
            // Variation selectors, vertical forms, CJK compatibility and small form variants.
            | '\u{FE00}'..='\u{FE1F}' | '\u{FE30}'..='\u{FE6F}'
            // Zero-width no-break space (byte order mark).
            | '\u{FEFF}'
            // Mahjong, cards, emoji and pictographs; tag characters.
            | '\u{1F000}'..='\u{1FAFF}' | '\u{E0000}'..='\u{E007F}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(words: &[&str]) -> SensitiveWords {
        SensitiveWords::new(words)
    }

    fn span<'t>(text: &'t str, found: &Match) -> &'t str {
        &text[found.start..found.end]
    }

    #[test]
    fn plain_word_matches_with_its_span() {
        let words = matcher(&["法轮"]);
        let text = "今天法轮大法好";
        let found = words.find(text).expect("a match");
        assert_eq!(found.word, "法轮");
        assert_eq!(span(text, &found), "法轮");
        assert_eq!(found.start, "今天".len());
    }

    #[test]
    fn full_width_letters_match() {
        let words = matcher(&["falun"]);
        let text = "Ｆａ＿ＬＵＮ gong";
        let found = words.find(text).expect("a match");
        assert_eq!(found.word, "falun");
        assert_eq!(span(text, &found), "Ｆａ＿ＬＵＮ");
    }

    #[test]
    fn inserted_separators_are_skipped() {
        let words = matcher(&["法轮"]);
        for text in [
            "法@@轮",
            "法 轮",
            "法.轮",
            "法#轮",
            "法*_-.,|~轮",
            "法·轮",
            "法\u{200B}轮",
            "法\u{200C}\u{200D}\u{FEFF}轮",
            "法、。「」轮",
            "法　轮",
            "法！轮",
            "法😀轮",
            "法★轮",
        ] {
            let found = words
                .find(text)
                .unwrap_or_else(|| panic!("{text:?} must match"));
            assert_eq!(span(text, &found), text, "{text:?}");
        }
    }

    #[test]
    fn separators_inside_a_configured_word_are_ignored_too() {
        let words = matcher(&["fa lun"]);
        let found = words.find("xx falun yy").expect("a match");
        assert_eq!(found.word, "fa lun");
    }

    #[test]
    fn case_does_not_matter() {
        let words = matcher(&["FaLun"]);
        assert!(words.find("FALUN").is_some());
        assert!(words.find("falun").is_some());
        assert!(words.find("fAlUn").is_some());
    }

    #[test]
    fn traditional_characters_match_simplified_words_and_back() {
        let simplified = matcher(&["法轮"]);
        let text = "看法輪功";
        let found = simplified.find(text).expect("a match");
        assert_eq!(span(text, &found), "法輪");

        let traditional = matcher(&["法輪"]);
        assert_eq!(traditional.find("法轮").expect("a match").word, "法輪");
    }

    #[test]
    fn combining_marks_compose_before_matching() {
        let words = matcher(&["caf\u{E9}"]);
        let text = "un cafe\u{301} noir";
        let found = words.find(text).expect("a match");
        assert_eq!(span(text, &found), "cafe\u{301}");
        // A stray mark on a CJK character is dropped like a separator.
        assert!(matcher(&["法轮"]).find("法\u{301}轮").is_some());
    }

    #[test]
    fn order_matters() {
        let words = matcher(&["轮法"]);
        assert_eq!(words.find("法轮"), None);
        assert_eq!(matcher(&["falun"]).find("lunfa"), None);
    }

    #[test]
    fn letters_and_digits_between_characters_do_not_match() {
        let words = matcher(&["法轮", "falun"]);
        assert_eq!(words.find("法x轮"), None);
        assert_eq!(words.find("法的轮"), None);
        assert_eq!(words.find("法1轮"), None);
        assert_eq!(words.find("faxlun"), None);
        assert_eq!(words.find("fa lu x n"), None);
    }

    #[test]
    fn empty_list_matches_nothing() {
        let none: [&str; 0] = [];
        let words = SensitiveWords::new(none);
        assert!(words.is_empty());
        assert_eq!(words.find("法轮 falun"), None);
        assert_eq!(words.find(""), None);
    }

    #[test]
    fn words_of_separators_only_are_skipped() {
        let words = matcher(&["", "@@", "  ", "\u{200B}"]);
        assert!(words.is_empty());
        assert_eq!(words.find("@@ abc"), None);
    }

    #[test]
    fn leftmost_then_longest_wins_and_names_the_configured_word() {
        let words = matcher(&["法轮", "法轮功", "大法"]);
        let found = words.find("法轮功大法").expect("a match");
        assert_eq!(found.word, "法轮功");
        let found = words.find("说大法轮").expect("a match");
        assert_eq!(found.word, "大法");
    }

    #[test]
    fn duplicates_keep_the_first_configured_spelling() {
        let words = matcher(&["法轮", "法輪", "法 轮"]);
        assert_eq!(words.len(), 1);
        assert_eq!(words.find("法輪").expect("a match").word, "法轮");
    }

    #[test]
    fn span_covers_the_original_text_around_multibyte_separators() {
        let words = matcher(&["falun"]);
        let text = "前言 ｆ\u{200B}ａ·ｌ　ｕ－ｎ 后记";
        let found = words.find(text).expect("a match");
        assert_eq!(span(text, &found), "ｆ\u{200B}ａ·ｌ　ｕ－ｎ");
    }

    #[test]
    fn simplification_table() {
        assert_eq!(simplified('輪'), '轮');
        assert_eq!(simplified('發'), '发');
        assert_eq!(simplified('髮'), '发');
        assert_eq!(simplified('轮'), '轮');
        assert_eq!(simplified('a'), 'a');
        // Nothing below the dense range converts, or `simplified` would miss it.
        let below = zhconv::tables::expand_table(zhconv::tables::ZH_HANS_TABLE)
            .filter_map(|(from, to)| Some((single_char(&from)?, single_char(&to)?)))
            .filter(|(from, to)| from < DENSE.start() && from != to)
            .collect::<Vec<_>>();
        assert_eq!(below, []);
    }

    #[test]
    fn separator_predicate() {
        for c in [
            ' ', '@', '#', '*', '_', '-', '.', ',', '|', '~', '·', '\u{200B}', '\u{FEFF}', '。',
            '、',
        ] {
            assert!(is_separator(c), "{c:?}");
        }
        for c in ['a', 'z', '0', '法', 'é', 'ж'] {
            assert!(!is_separator(c), "{c:?}");
        }
    }

    mod load {
        use super::*;
        use std::io::Write;

        fn file(content: &[u8]) -> tempfile::NamedTempFile {
            let mut file = tempfile::NamedTempFile::new().expect("temp file");
            file.write_all(content).expect("write");
            file
        }

        #[test]
        fn comments_blank_lines_crlf_and_duplicates() {
            let list = file(
                "# forbidden words\r\n\r\n法轮\r\nfalun # the latin spelling\r\n法輪\r\n   \n@@@\n  大法  \n".as_bytes(),
            );
            let (words, report) = SensitiveWords::load(list.path()).expect("loads");
            assert_eq!(
                report,
                WordListReport {
                    entries: 5,
                    words: 3,
                    duplicates: 1,
                    empty: 1,
                }
            );
            assert_eq!(words.find("FALUN").expect("a match").word, "falun");
            assert_eq!(words.find("说大 法").expect("a match").word, "大法");
            assert_eq!(words.find("法輪").expect("a match").word, "法轮");
            assert_eq!(words.find("forbidden words"), None);
        }

        #[test]
        fn empty_file_matches_nothing() {
            let list = file(b"");
            let (words, report) = SensitiveWords::load(list.path()).expect("loads");
            assert_eq!(report, WordListReport::default());
            assert_eq!(words.find("法轮 falun"), None);
        }

        #[test]
        fn missing_file_names_the_file() {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("no-such-words.txt");
            let error = SensitiveWords::load(&path).expect_err("missing");
            assert!(matches!(&error, ContentError::Read { path: p, .. } if *p == path));
            assert!(error.to_string().contains("no-such-words.txt"), "{error}");
        }

        #[test]
        fn a_line_that_is_not_utf8_is_reported_with_its_number() {
            let list = file(b"ok\n\xFF\xFE bad\n");
            let error = SensitiveWords::load(list.path()).expect_err("not UTF-8");
            assert!(
                matches!(error, ContentError::NotUtf8 { line: 2, .. }),
                "{error}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Characters words are made of; none of them appears in `OTHER`.
        const WORD_CHARS: &[char] = &[
            '法', '轮', '功', '台', '独', '藏', '天', '安', '门', '輪', '門', 'a', 'b', 'c', 'd',
            'e', 'f', 'g', 'h',
        ];
        /// Characters of harmless text: letters, digits and Chinese characters no word uses.
        const OTHER: &[char] = &[
            '的', '一', '是', '在', '不', '了', '有', '和', '人', '这', '中', '大', '为', '上',
            '个', '我', '以', '要', '他', '时', '来', '用', '们', 'i', 'j', 'k', 'x', 'y', 'z',
            '0', '7', 'Ｘ',
        ];
        const SEPARATORS: &[&str] = &[
            " ", "@", "#", "*", "_", "-", ".", ",", "·", "|", "~", "\u{200B}", "\u{FEFF}", "。",
            "、", "　", "＠", "\t", "😀",
        ];

        fn word() -> impl Strategy<Value = String> {
            prop::collection::vec(prop::sample::select(WORD_CHARS), 2..6)
                .prop_map(|chars| chars.into_iter().collect())
        }

        fn harmless() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof![
                    prop::sample::select(OTHER).prop_map(String::from),
                    prop::sample::select(SEPARATORS).prop_map(String::from),
                ],
                0..40,
            )
            .prop_map(|parts| parts.concat())
        }

        proptest! {
            #[test]
            fn separators_between_a_words_characters_still_match(
                words in prop::collection::vec(word(), 1..5),
                pick in any::<prop::sample::Index>(),
                gaps in prop::collection::vec(
                    prop::collection::vec(prop::sample::select(SEPARATORS), 0..3), 6),
                before in harmless(),
                after in harmless(),
            ) {
                let matcher = SensitiveWords::new(&words);
                let word = pick.get(&words);
                let mut disguised = String::new();
                for (index, c) in word.chars().enumerate() {
                    if index > 0 {
                        disguised.push_str(&gaps[index].concat());
                    }
                    disguised.push(c);
                }
                let text = format!("{before}{disguised}{after}");
                let found = matcher.find(&text);
                prop_assert!(found.is_some(), "{text:?} should match {word:?}");
                let found = found.unwrap();
                // The harmless parts share no character with any word, so the match lies
                // within the disguised word.
                prop_assert!(found.start >= before.len());
                prop_assert!(found.end <= before.len() + disguised.len());
            }

            #[test]
            fn text_without_any_words_characters_never_matches(
                words in prop::collection::vec(word(), 0..8),
                text in harmless(),
            ) {
                let matcher = SensitiveWords::new(&words);
                prop_assert_eq!(matcher.find(&text), None);
            }
        }
    }
}
