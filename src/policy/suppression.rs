//! Opt-out suppression (issue #15 rule 3): the numbers that must not get a scope's
//! messages any more, held in memory for the hot path and kept durable in the store.
//!
//! - [`Suppressions`] is the in-memory set the policy asks for every message it guards:
//!   [`Suppressions::contains`] is two hash lookups, no store read, no allocation. The
//!   set is a `dashmap::DashSet` (sharded `RwLock`s: readers on 8 binds share a shard's
//!   read lock and never queue behind each other; a writer blocks one shard for a hash
//!   insert). Scopes are interned to a `u32` in a small table behind an `ArcSwap`
//!   (readers load a pointer; a new scope copies the table, which happens once per
//!   account or sender id ever seen).
//! - One entry costs 16 bytes of key (scope id, number packed into a `u64` as the
//!   blacklist packs it) plus the hash table's control byte and slack: 19 to 39 bytes
//!   depending on how full the tables are since they last doubled, whatever the number's
//!   form (measured: 36 bytes an entry at 1 M entries, just past a doubling). The set holds exactly what the
//!   store's `suppressions` partition holds (loaded at start by [`Suppressions::load`],
//!   changed only together with an [`Op::Suppress`] / [`Op::Unsuppress`]), so memory is
//!   bounded by what is on disk; when, how and by which keyword stay on disk only.
//! - [`OptOutReplies`] turns an MO into a list change: its whole text, folded by
//!   [`fold_reply`] (case, width, surrounding spaces and punctuation), is one of the
//!   account's opt-out or opt-in keywords. The receipt writer calls it for every routed
//!   MO: the set changes at once (before the batch's commit: an opt-out is in force
//!   before the carrier's deliver_sm is even answered), and the op goes into the same
//!   group commit as the MO itself. Were that commit to fail, the carrier is answered
//!   with an error and sends the MO again; in the meantime memory holds more
//!   suppressions than disk (an opt-out) or fewer (an opt-in, restored by the restart):
//!   both err on the side of sending less.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use dashmap::DashSet;

use super::blacklist::key as pack;
pub use crate::config::OptOutScope;
use crate::store::{Millis, Op, Store, StoreError};
pub use crate::store::{ScopeKey, Suppression, SuppressionSource};

/// The scope a lookup names, borrowed (no allocation per message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// The account's messages.
    Account(&'a str),
    /// The account's messages from this sender id (source_addr as written).
    Sender {
        /// The account.
        account: &'a str,
        /// The sender id.
        sender: &'a str,
    },
    /// Everyone's.
    Global,
}

impl ScopeKey {
    /// The borrowed form, for [`Suppressions::contains`].
    #[must_use]
    pub fn as_scope(&self) -> Scope<'_> {
        match self {
            Self::Account(account) => Scope::Account(account),
            Self::Sender { account, sender } => Scope::Sender { account, sender },
            Self::Global => Scope::Global,
        }
    }
}

impl Scope<'_> {
    /// The owned form, as stored.
    #[must_use]
    pub fn to_key(self) -> ScopeKey {
        match self {
            Self::Account(account) => ScopeKey::Account(account.to_owned()),
            Self::Sender { account, sender } => ScopeKey::Sender {
                account: account.to_owned(),
                sender: sender.to_owned(),
            },
            Self::Global => ScopeKey::Global,
        }
    }
}

/// Scope → its id in the set (global is 0).
#[derive(Debug, Default, Clone)]
struct ScopeIds {
    accounts: HashMap<String, u32>,
    senders: HashMap<String, HashMap<String, u32>>,
    last: u32,
}

impl ScopeIds {
    fn get(&self, scope: Scope<'_>) -> Option<u32> {
        match scope {
            Scope::Account(account) => self.accounts.get(account).copied(),
            Scope::Sender { account, sender } => self.senders.get(account)?.get(sender).copied(),
            Scope::Global => Some(0),
        }
    }
}

/// The in-memory suppression set (see the module documentation).
#[derive(Debug, Default)]
pub struct Suppressions {
    scopes: ArcSwap<ScopeIds>,
    /// Serialises adding a scope (copy, insert, swap), so no two adds lose one another.
    adding: Mutex<()>,
    set: DashSet<(u32, u64)>,
}

impl Suppressions {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The set as the store holds it (at start, before any message is checked).
    ///
    /// # Errors
    /// The store cannot be read. An entry whose number is not 1 to 15 digits (only a
    /// damaged or hand-made store holds one) is logged and left out.
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        let set = Self::new();
        store.suppressions(None, &mut |entry| {
            if !set.insert(&entry.scope, &entry.number) && pack(entry.number.as_bytes()).is_none()
            {
                tracing::warn!(scope = %entry.scope, number = %entry.number, "stored suppression is not an E.164 number: ignored");
            }
            true
        })?;
        #[allow(clippy::cast_precision_loss)] // entry counts far below 2^52
        metrics::gauge!("smppgate_suppressions").set(set.len() as f64);
        Ok(set)
    }

    /// Whether `e164` (normalised digits, no `+`: the destination as the gateway holds
    /// it) must not get `scope`'s messages. Any other form is simply not found.
    #[must_use]
    pub fn contains(&self, scope: Scope<'_>, e164: &str) -> bool {
        let Some(number) = pack(e164.as_bytes()) else {
            return false;
        };
        let Some(id) = self.scopes.load().get(scope) else {
            return false;
        };
        self.set.contains(&(id, number))
    }

    /// [`Suppressions::contains`] for a policy's `opt_out_scope`: `account` and `sender`
    /// (the message's source_addr as written) name the scope it selects.
    #[must_use]
    pub fn is_suppressed(
        &self,
        scope: OptOutScope,
        account: &str,
        sender: &str,
        e164: &str,
    ) -> bool {
        let scope = match scope {
            OptOutScope::Account => Scope::Account(account),
            OptOutScope::Sender => Scope::Sender { account, sender },
            OptOutScope::Global => Scope::Global,
        };
        self.contains(scope, e164)
    }

    /// Adds (`scope`, `e164`); whether it was new. Not E.164 digits: nothing, `false`.
    pub fn insert(&self, scope: &ScopeKey, e164: &str) -> bool {
        let Some(number) = pack(e164.as_bytes()) else {
            return false;
        };
        self.set.insert((self.scope_id(scope), number))
    }

    /// Removes (`scope`, `e164`); whether it was there.
    pub fn remove(&self, scope: &ScopeKey, e164: &str) -> bool {
        let Some(number) = pack(e164.as_bytes()) else {
            return false;
        };
        let Some(id) = self.scopes.load().get(scope.as_scope()) else {
            return false;
        };
        self.set.remove(&(id, number)).is_some()
    }

    /// Brings the set in step with a store op (other ops: nothing), counted in
    /// `smppgate_suppression_changes_total{change, source}` (source `mo`, `import`,
    /// `cli`; removals have none) and `smppgate_suppressions` (entries in force).
    pub fn apply(&self, op: &Op) {
        let (change, source) = match op {
            Op::Suppress(entry) => {
                self.insert(&entry.scope, &entry.number);
                let source = match entry.source {
                    SuppressionSource::Mo { .. } => "mo",
                    SuppressionSource::Import => "import",
                    SuppressionSource::Cli => "cli",
                };
                ("add", source)
            }
            Op::Unsuppress { scope, number } => {
                self.remove(scope, number);
                ("remove", "")
            }
            _ => return,
        };
        metrics::counter!("smppgate_suppression_changes_total", "change" => change, "source" => source)
            .increment(1);
        #[allow(clippy::cast_precision_loss)] // entry counts far below 2^52
        metrics::gauge!("smppgate_suppressions").set(self.len() as f64);
    }

    /// How many (scope, number) entries.
    #[must_use]
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    fn scope_id(&self, scope: &ScopeKey) -> u32 {
        if let Some(id) = self.scopes.load().get(scope.as_scope()) {
            return id;
        }
        let _adding = self.adding.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.scopes.load_full();
        if let Some(id) = current.get(scope.as_scope()) {
            return id;
        }
        let mut next = ScopeIds::clone(&current);
        next.last += 1;
        let id = next.last;
        match scope {
            ScopeKey::Account(account) => {
                next.accounts.insert(account.clone(), id);
            }
            ScopeKey::Sender { account, sender } => {
                next.senders
                    .entry(account.clone())
                    .or_default()
                    .insert(sender.clone(), id);
            }
            ScopeKey::Global => return 0,
        }
        self.scopes.store(Arc::new(next));
        id
    }
}

impl super::engine::SuppressionList for Suppressions {
    fn is_suppressed(&self, scope: OptOutScope, account: &str, sender: &str, e164: &str) -> bool {
        Suppressions::is_suppressed(self, scope, account, sender, e164)
    }
}

/// Folds an MO text for keyword matching: full-width ASCII to ASCII, upper case, and the
/// spaces and punctuation around it (ASCII and Chinese) removed. `" td。"`, `"ｔｄ"` and
/// `"TD!"` all fold to `"TD"`.
#[must_use]
pub fn fold_reply(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| match c {
            // Full-width ASCII (U+FF01..U+FF5E) to ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect::<String>()
        .to_uppercase();
    folded
        .trim_matches(|c: char| {
            c.is_whitespace()
                || c.is_ascii_punctuation()
                || "，。！？、；：“”‘’（）【】".contains(c)
        })
        .to_owned()
}

/// One account's reply rules.
#[derive(Debug, Clone, Default)]
pub struct ReplyRules {
    /// Folded opt-out keywords.
    opt_out: Vec<String>,
    /// Folded opt-in keywords.
    opt_in: Vec<String>,
    scope: OptOutScope,
}

impl ReplyRules {
    /// Rules from the keywords as configured (folded here).
    #[must_use]
    pub fn new<S: AsRef<str>>(opt_out: &[S], opt_in: &[S], scope: OptOutScope) -> Self {
        let fold = |words: &[S]| {
            words
                .iter()
                .map(|w| fold_reply(w.as_ref()))
                .filter(|w| !w.is_empty())
                .collect()
        };
        Self {
            opt_out: fold(opt_out),
            opt_in: fold(opt_in),
            scope,
        }
    }
}

/// Each account's reply rules from the configuration: the keywords and scope of the
/// `[[policy]]` it names. Accounts without a policy have none (their MO replies are only
/// counted, as before).
#[must_use]
pub fn reply_rules(config: &crate::config::Config) -> HashMap<String, ReplyRules> {
    config
        .accounts
        .iter()
        .filter_map(|account| {
            let name = account.policy.as_deref()?;
            let policy = config.policies.iter().find(|p| p.name == name)?;
            let rules = ReplyRules::new(
                &policy.opt_out_keywords,
                &policy.opt_in_keywords,
                policy.opt_out_scope,
            );
            Some((account.system_id.clone(), rules))
        })
        .collect()
}

/// An MO as [`OptOutReplies::on_mo`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct MoReply<'a> {
    /// The account the MO was routed to.
    pub account: &'a str,
    /// The carrier it came from.
    pub carrier: &'a str,
    /// Who sent it (source_addr as received).
    pub source: &'a str,
    /// The number it was sent to (destination_addr as received: the sender id).
    pub destination: &'a str,
    /// Its text, decoded.
    pub text: &'a str,
    /// Now, wall ms.
    pub now: Millis,
}

/// Per account, which MO replies change the suppression list, and the list they change.
#[derive(Debug, Default)]
pub struct OptOutReplies {
    rules: HashMap<String, ReplyRules>,
    default_country: String,
    suppressions: Arc<Suppressions>,
}

impl OptOutReplies {
    /// Replies of the accounts in `rules` change `suppressions`; numbers are normalised
    /// with `default_country` (as destinations are).
    #[must_use]
    pub fn new(
        rules: HashMap<String, ReplyRules>,
        default_country: &str,
        suppressions: Arc<Suppressions>,
    ) -> Self {
        Self {
            rules,
            default_country: default_country.to_owned(),
            suppressions,
        }
    }

    /// The set replies change.
    #[must_use]
    pub fn suppressions(&self) -> &Arc<Suppressions> {
        &self.suppressions
    }

    /// An opt-out reply adds its sender to the account's scope, an opt-in one removes
    /// it: the set changes now, and the returned op is for the store (in the same commit
    /// as the MO). Anything else, or an account without rules: `None`.
    #[must_use]
    pub fn on_mo(&self, mo: &MoReply<'_>) -> Option<Op> {
        let rules = self.rules.get(mo.account)?;
        let folded = fold_reply(mo.text);
        let opt_out = rules.opt_out.contains(&folded);
        if !opt_out && !rules.opt_in.contains(&folded) {
            return None;
        }
        let Ok(number) = crate::numbers::normalise(mo.source, &self.default_country) else {
            tracing::warn!(
                account = mo.account,
                source = mo.source,
                "opt-out reply from a number that is not E.164: list unchanged"
            );
            return None;
        };
        let scope = match rules.scope {
            OptOutScope::Account => ScopeKey::Account(mo.account.to_owned()),
            OptOutScope::Sender => ScopeKey::Sender {
                account: mo.account.to_owned(),
                sender: mo.destination.to_owned(),
            },
            OptOutScope::Global => ScopeKey::Global,
        };
        tracing::info!(account = mo.account, %scope, %number, keyword = %folded, opt_out, "suppression list changed by MO");
        let op = if opt_out {
            Op::Suppress(Suppression {
                scope,
                number,
                since: mo.now,
                source: SuppressionSource::Mo {
                    carrier: mo.carrier.to_owned(),
                    keyword: folded,
                },
            })
        } else {
            Op::Unsuppress { scope, number }
        };
        self.suppressions.apply(&op);
        Some(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    const NUMBER: &str = "8613800138000";

    #[test]
    fn scopes_are_kept_apart() {
        let set = Suppressions::new();
        let shop = ScopeKey::Account("shop".into());
        let sender = ScopeKey::Sender {
            account: "shop".into(),
            sender: "10690001".into(),
        };
        assert!(set.insert(&shop, NUMBER));
        assert!(!set.insert(&shop, NUMBER), "already there");
        assert!(set.contains(Scope::Account("shop"), NUMBER));
        assert!(!set.contains(Scope::Account("shop2"), NUMBER));
        assert!(!set.contains(sender.as_scope(), NUMBER));
        assert!(!set.contains(Scope::Global, NUMBER));
        assert!(!set.contains(Scope::Account("shop"), "8613800138001"));
        assert!(set.is_suppressed(OptOutScope::Account, "shop", "any", NUMBER));
        assert!(!set.is_suppressed(OptOutScope::Sender, "shop", "10690001", NUMBER));
        // Other forms of the number are not normalised here.
        assert!(!set.contains(Scope::Account("shop"), "+8613800138000"));
        assert!(set.insert(&sender, NUMBER));
        assert!(set.insert(&ScopeKey::Global, "447700900123"));
        assert!(set.contains(
            Scope::Sender {
                account: "shop",
                sender: "10690001"
            },
            NUMBER
        ));
        assert!(set.contains(Scope::Global, "447700900123"));
        assert!(set.is_suppressed(OptOutScope::Sender, "shop", "10690001", NUMBER));
        assert!(!set.is_suppressed(OptOutScope::Sender, "shop", "10690002", NUMBER));
        assert!(set.is_suppressed(OptOutScope::Global, "x", "y", "447700900123"));
        assert_eq!(set.len(), 3);
        assert!(set.remove(&shop, NUMBER));
        assert!(!set.remove(&shop, NUMBER));
        assert!(!set.remove(&ScopeKey::Account("nobody".into()), NUMBER));
        assert!(!set.contains(Scope::Account("shop"), NUMBER));
        assert!(set.contains(sender.as_scope(), NUMBER));
        // Not digits: never stored, never found.
        assert!(!set.insert(&shop, "12ab"));
        assert!(!set.insert(&shop, "1234567890123456"));
        assert!(!set.contains(Scope::Account("shop"), ""));
        assert_eq!(Scope::Account("a").to_key(), ScopeKey::Account("a".into()));
    }

    #[test]
    fn load_reads_what_the_store_holds() {
        let store = MemoryStore::new();
        let entry = |scope, number: &str| {
            Op::Suppress(Suppression {
                scope,
                number: number.to_owned(),
                since: 1,
                source: SuppressionSource::Import,
            })
        };
        store
            .commit(&[
                entry(ScopeKey::Account("shop".into()), NUMBER),
                entry(ScopeKey::Global, "447700900123"),
                entry(ScopeKey::Global, "not a number"),
            ])
            .unwrap();
        let set = Suppressions::load(&store).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains(Scope::Account("shop"), NUMBER));
        assert!(set.contains(Scope::Global, "447700900123"));
    }

    #[test]
    fn replies_fold_case_width_and_punctuation() {
        for (text, folded) in [
            (" td。", "TD"),
            ("ｔｄ", "TD"),
            ("Stop!", "STOP"),
            ("【退订】", "退订"),
            ("\u{3000}Ｔ\u{3000}", "T"),
            ("TD please", "TD PLEASE"),
        ] {
            assert_eq!(fold_reply(text), folded, "{text}");
        }
    }

    fn replies(scope: OptOutScope) -> OptOutReplies {
        let rules = ReplyRules::new(
            &crate::config::default_opt_out_keywords(),
            &["订阅".to_owned(), "start".to_owned()],
            scope,
        );
        OptOutReplies::new(
            HashMap::from([("shop".to_owned(), rules)]),
            "86",
            Arc::new(Suppressions::new()),
        )
    }

    fn mo<'a>(account: &'a str, text: &'a str) -> MoReply<'a> {
        MoReply {
            account,
            carrier: "cmcc",
            source: "13800138000",
            destination: "10690001",
            text,
            now: 42,
        }
    }

    #[test]
    fn an_opt_out_reply_suppresses_and_an_opt_in_reply_undoes_it() {
        let replies = replies(OptOutScope::Account);
        let set = Arc::clone(replies.suppressions());
        // Not a keyword as a whole text, or an account without rules: nothing.
        assert!(replies.on_mo(&mo("shop", "TD please")).is_none());
        assert!(replies.on_mo(&mo("other", "退订")).is_none());
        let op = replies.on_mo(&mo("shop", " 退订！")).unwrap();
        assert_eq!(
            op,
            Op::Suppress(Suppression {
                scope: ScopeKey::Account("shop".into()),
                number: NUMBER.into(),
                since: 42,
                source: SuppressionSource::Mo {
                    carrier: "cmcc".into(),
                    keyword: "退订".into()
                },
            })
        );
        // In force as soon as on_mo returns, in the national form's E.164 digits.
        assert!(set.contains(Scope::Account("shop"), NUMBER));
        let op = replies.on_mo(&mo("shop", "Start")).unwrap();
        assert_eq!(
            op,
            Op::Unsuppress {
                scope: ScopeKey::Account("shop".into()),
                number: NUMBER.into()
            }
        );
        assert!(!set.contains(Scope::Account("shop"), NUMBER));
    }

    #[test]
    fn the_configured_scope_decides_whose_messages_stop() {
        let sender = replies(OptOutScope::Sender);
        sender.on_mo(&mo("shop", "T")).unwrap();
        let set = sender.suppressions();
        assert!(set.contains(
            Scope::Sender {
                account: "shop",
                sender: "10690001"
            },
            NUMBER
        ));
        assert!(!set.contains(Scope::Account("shop"), NUMBER));
        let global = replies(OptOutScope::Global);
        global.on_mo(&mo("shop", "stop")).unwrap();
        assert!(global.suppressions().contains(Scope::Global, NUMBER));
    }

    /// Lookups from 8 threads while another adds and removes: every thread sees the
    /// numbers that were never touched, and none that were never added.
    #[test]
    fn concurrent_lookups_and_changes() {
        let set = Arc::new(Suppressions::new());
        for n in 0..1000u64 {
            set.insert(
                &ScopeKey::Account("a".into()),
                &(8_613_800_000_000 + n).to_string(),
            );
        }
        std::thread::scope(|s| {
            for _ in 0..8 {
                let set = Arc::clone(&set);
                s.spawn(move || {
                    for n in 0..1000u64 {
                        let number = (8_613_800_000_000 + n).to_string();
                        assert!(set.contains(Scope::Account("a"), &number));
                        assert!(!set.contains(Scope::Account("b"), &number));
                    }
                });
            }
            let set = Arc::clone(&set);
            s.spawn(move || {
                for n in 0..1000u64 {
                    let scope = ScopeKey::Account(format!("new{n}"));
                    set.insert(&scope, "8613900000000");
                    set.remove(&scope, "8613900000000");
                }
            });
        });
        assert_eq!(set.len(), 1000);
    }
}
