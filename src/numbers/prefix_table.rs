//! Longest-prefix match over digit strings: the routing table of the carrier pool.
//!
//! A digit trie: one node per distinct prefix digit, ten child slots each. A lookup walks
//! the number's digits once and remembers the last node that holds a value, so it costs
//! O(digits) whatever the number of prefixes.

/// Why a prefix cannot go into a [`PrefixTable`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrefixError {
    /// A character that is not an ASCII digit.
    #[error("prefix `{0}` is not digits only")]
    NotDigits(String),
}

/// Maps digit prefixes to values; [`lookup`](Self::lookup) returns the value of the
/// longest prefix of a number.
///
/// The empty prefix is allowed and matches every number (a catch-all).
#[derive(Debug, Clone)]
pub struct PrefixTable<V> {
    /// `nodes[0]` is the root (the empty prefix).
    nodes: Vec<Node>,
    values: Vec<V>,
}

#[derive(Debug, Clone, Default)]
struct Node {
    /// Index of the child for each digit; 0 means none (the root is never a child).
    children: [u32; 10],
    /// Index into `values` of the value of this prefix.
    value: Option<u32>,
}

impl<V> Default for PrefixTable<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> PrefixTable<V> {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self {
            nodes: vec![Node::default()],
            values: Vec::new(),
        }
    }

    /// A table of `pairs`; a prefix given twice keeps its last value.
    ///
    /// # Errors
    /// [`PrefixError::NotDigits`] for the first prefix that is not digits only.
    pub fn build<P: AsRef<str>>(
        pairs: impl IntoIterator<Item = (P, V)>,
    ) -> Result<Self, PrefixError> {
        let mut table = Self::new();
        for (prefix, value) in pairs {
            // The old value of a repeated prefix is dropped on purpose: last one wins.
            let _previous = table.insert(prefix.as_ref(), value)?;
        }
        Ok(table)
    }

    /// Sets the value of `prefix`, returning the value it replaces.
    ///
    /// # Errors
    /// [`PrefixError::NotDigits`] when `prefix` is not digits only (the table is unchanged).
    pub fn insert(&mut self, prefix: &str, value: V) -> Result<Option<V>, PrefixError> {
        if !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PrefixError::NotDigits(prefix.to_owned()));
        }
        let mut node = 0;
        for digit in prefix.bytes().map(|b| usize::from(b - b'0')) {
            let child = self.nodes[node].children[digit];
            node = if child == 0 {
                let index = self.nodes.len();
                self.nodes.push(Node::default());
                self.nodes[node].children[digit] = to_u32(index);
                index
            } else {
                child as usize
            };
        }
        match self.nodes[node].value {
            Some(index) => Ok(Some(std::mem::replace(
                &mut self.values[index as usize],
                value,
            ))),
            None => {
                self.nodes[node].value = Some(to_u32(self.values.len()));
                self.values.push(value);
                Ok(None)
            }
        }
    }

    /// The value of the longest prefix of `number`, if any. The walk stops at the first
    /// character that is not a digit.
    #[must_use]
    pub fn lookup(&self, number: &str) -> Option<&V> {
        self.lookup_with_len(number).map(|(_, value)| value)
    }

    /// Like [`lookup`](Self::lookup), with the length of the prefix that matched.
    #[must_use]
    pub fn lookup_with_len(&self, number: &str) -> Option<(usize, &V)> {
        let mut node = &self.nodes[0];
        let mut best = node.value.map(|index| (0, index));
        for (position, byte) in number.bytes().enumerate() {
            if !byte.is_ascii_digit() {
                break;
            }
            let child = node.children[usize::from(byte - b'0')];
            if child == 0 {
                break;
            }
            node = &self.nodes[child as usize];
            if let Some(index) = node.value {
                best = Some((position + 1, index));
            }
        }
        best.map(|(len, index)| (len, &self.values[index as usize]))
    }

    /// How many prefixes hold a value.
    #[must_use]
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no prefix holds a value.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Node and value indexes fit in u32: a table of 4 billion prefixes is not a routing table
/// anyone can load from a configuration file.
fn to_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let table = PrefixTable::build([
            ("86", "china"),
            ("86138", "mobile"),
            ("861380", "special"),
            ("1", "nanp"),
        ])
        .unwrap();
        assert_eq!(table.lookup("8613800138000"), Some(&"special"));
        assert_eq!(table.lookup("8613812345678"), Some(&"mobile"));
        assert_eq!(table.lookup("8613012345678"), Some(&"china"));
        assert_eq!(table.lookup("12025550123"), Some(&"nanp"));
        assert_eq!(table.lookup("4420"), None);
        assert_eq!(table.lookup(""), None);
        assert_eq!(table.lookup_with_len("86138999"), Some((5, &"mobile")));
        // A non-digit ends the walk; what matched before it counts.
        assert_eq!(table.lookup("86138x0"), Some(&"mobile"));
        assert_eq!(table.len(), 4);
    }

    #[test]
    fn empty_prefix_is_a_catch_all_and_repeats_replace() {
        let mut table = PrefixTable::new();
        assert!(table.is_empty());
        assert_eq!(table.insert("", 0), Ok(None));
        assert_eq!(table.insert("44", 1), Ok(None));
        assert_eq!(table.insert("44", 2), Ok(Some(1)));
        assert_eq!(table.lookup("999"), Some(&0));
        assert_eq!(table.lookup("4471"), Some(&2));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn non_digit_prefix_is_refused() {
        let mut table = PrefixTable::new();
        assert_eq!(
            table.insert("+86", 1),
            Err(PrefixError::NotDigits("+86".to_owned()))
        );
        assert!(PrefixTable::build([("86", 1), ("8a", 2)]).is_err());
        assert!(table.is_empty());
        assert_eq!(table.lookup("86"), None);
    }

    /// The longest of `pairs` (last one winning among equals) that `number` starts with.
    fn naive(pairs: &[(String, u32)], number: &str) -> Option<(usize, u32)> {
        let digits: &str = number
            .find(|c: char| !c.is_ascii_digit())
            .map_or(number, |end| &number[..end]);
        let mut best: Option<(usize, u32)> = None;
        for (prefix, value) in pairs {
            if digits.starts_with(prefix.as_str())
                && best.is_none_or(|(len, _)| prefix.len() >= len)
            {
                best = Some((prefix.len(), *value));
            }
        }
        best
    }

    proptest! {
        #[test]
        fn matches_a_naive_scan(
            // Few distinct digits, so prefixes overlap and repeat.
            pairs in proptest::collection::vec(("[0-3]{0,5}", any::<u32>()), 0..40),
            numbers in proptest::collection::vec("[0-3]{0,8}x?[0-3]{0,2}", 1..20),
        ) {
            let table = PrefixTable::build(pairs.iter().map(|(p, v)| (p.as_str(), *v))).unwrap();
            for number in &numbers {
                let got = table.lookup_with_len(number).map(|(len, value)| (len, *value));
                prop_assert_eq!(got, naive(&pairs, number), "number {}", number);
            }
        }
    }
}
