//! Where things are in the file: the line of a field path (`carrier[1].tps`) and the
//! field path at a byte offset, from a second, span-keeping parse of the document.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// Field paths and their spans in one document.
#[derive(Debug, Default)]
pub(super) struct Locator {
    entries: Vec<Entry>,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

#[derive(Debug)]
struct Entry {
    path: String,
    /// The key's span; none for an array element.
    key: Option<Range<usize>>,
    /// The value's span (for an `[[array]]` table: its header).
    value: Range<usize>,
}

impl Locator {
    /// Indexes `table`, parsed from `text`.
    pub(super) fn new(text: &str, table: &Spanned<DeTable<'_>>) -> Self {
        let mut locator = Self {
            entries: Vec::new(),
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(at, _)| at + 1))
                .collect(),
        };
        locator.walk_table("", table.get_ref());
        locator
    }

    /// A locator that knows no lines (a configuration built in code).
    pub(super) fn empty() -> Self {
        Self::default()
    }

    fn walk_table(&mut self, prefix: &str, table: &DeTable<'_>) {
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.get_ref().to_string()
            } else {
                format!("{prefix}.{}", key.get_ref())
            };
            self.entries.push(Entry {
                path: path.clone(),
                key: Some(key.span()),
                value: value.span(),
            });
            self.walk_value(&path, value.get_ref());
        }
    }

    fn walk_value(&mut self, path: &str, value: &DeValue<'_>) {
        match value {
            DeValue::Table(table) => self.walk_table(path, table),
            DeValue::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let path = format!("{path}[{index}]");
                    self.entries.push(Entry {
                        path: path.clone(),
                        key: None,
                        value: item.span(),
                    });
                    self.walk_value(&path, item.get_ref());
                }
            }
            _ => {}
        }
    }

    /// 1-based line of byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> Option<usize> {
        if self.line_starts.is_empty() {
            return None;
        }
        Some(self.line_starts.partition_point(|start| *start <= offset))
    }

    /// Whether `path` itself is written in the file.
    pub(super) fn is_written(&self, path: &str) -> bool {
        self.entries.iter().any(|entry| entry.path == path)
    }

    /// The line of `path`: its key's line, or for a field that is not written (a
    /// default), the line of the nearest enclosing thing that is.
    pub(super) fn line(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(entry) = self.entries.iter().find(|entry| entry.path == path) {
                let span = entry.key.as_ref().unwrap_or(&entry.value);
                return self.line_of(span.start);
            }
            path = parent(path)?;
        }
    }

    /// The path of the smallest key or value that holds the start of `span` (the deepest
    /// when two have the same span), or `None` outside every field.
    pub(super) fn path_at(&self, span: &Range<usize>) -> Option<&str> {
        let at = span.start;
        let holds = |outer: &Range<usize>| outer.start <= at && at < outer.end.max(outer.start + 1);
        self.entries
            .iter()
            .flat_map(|entry| {
                let key = entry.key.iter().filter(|key| holds(key));
                let value = std::iter::once(&entry.value).filter(|value| holds(value));
                key.chain(value).map(move |found| (found.len(), entry))
            })
            .min_by(|(a_len, a), (b_len, b)| {
                a_len
                    .cmp(b_len)
                    .then_with(|| b.path.len().cmp(&a.path.len()))
            })
            .map(|(_, entry)| entry.path.as_str())
    }
}

/// `carrier[1].retry` → `carrier[1]` → `carrier` → none.
fn parent(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"[server]
listen = "x"

[[carrier]]
name = "a"
retry = { max_attempts = 3 }

[[carrier]]
name = "b"
prefixes = [
  "1",
  "2",
]
[carrier.retry]
max_attempts = 0
"#;

    fn locator() -> Locator {
        Locator::new(TEXT, &DeTable::parse(TEXT).unwrap())
    }

    #[test]
    fn lines_of_paths() {
        let locator = locator();
        assert_eq!(locator.line("server.listen"), Some(2));
        assert_eq!(locator.line("carrier[0]"), Some(4));
        assert_eq!(locator.line("carrier[0].retry.max_attempts"), Some(6));
        assert_eq!(locator.line("carrier[1].name"), Some(9));
        assert_eq!(locator.line("carrier[1].prefixes[1]"), Some(12));
        assert_eq!(locator.line("carrier[1].retry.max_attempts"), Some(15));
        // Not written: the enclosing table.
        assert_eq!(locator.line("carrier[1].tps"), Some(8));
        assert_eq!(locator.line("carrier[0].retry.backoff"), Some(6));
        assert_eq!(locator.line("store.path"), None);
        assert_eq!(Locator::empty().line("server.listen"), None);
    }

    #[test]
    fn paths_at_offsets() {
        let locator = locator();
        let at = |needle: &str| {
            let start = TEXT.find(needle).unwrap();
            locator
                .path_at(&(start..start + needle.len()))
                .map(str::to_owned)
        };
        assert_eq!(at("listen").as_deref(), Some("server.listen"));
        assert_eq!(at("\"x\"").as_deref(), Some("server.listen"));
        assert_eq!(at("3 }").as_deref(), Some("carrier[0].retry.max_attempts"));
        assert_eq!(at("\"2\"").as_deref(), Some("carrier[1].prefixes[1]"));
        assert_eq!(
            at("max_attempts = 0").as_deref(),
            Some("carrier[1].retry.max_attempts")
        );
        // A table's header (where serde points for a missing field).
        assert_eq!(at("[server]").as_deref(), Some("server"));
        assert_eq!(at("[carrier.retry]").as_deref(), Some("carrier[1].retry"));
        // Between fields: nothing.
        assert_eq!(
            locator.path_at(&(TEXT.find("\n\n").unwrap() + 1..TEXT.find("\n\n").unwrap() + 1)),
            None
        );
    }
}
