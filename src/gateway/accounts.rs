//! Upstream accounts: credentials (Argon2), source-IP allow-lists, bind limits, per-account
//! TPS, allowed sender ids — and the per-IP lockout after repeated bind failures.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use dashmap::DashMap;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use smppgate_protocol::command_status::CommandStatus;
use subtle::ConstantTimeEq as _;

use crate::config::{AccountConfig, ServerConfig};

/// An account, ready for the hot path.
pub struct Account {
    /// Its settings.
    pub config: AccountConfig,
    /// system_id, shared.
    pub name: Arc<str>,
    credential: Credential,
    allowed: Vec<IpNet>,
    /// Swapped whole by a configuration reload (`tps`); read without a lock.
    limiter: arc_swap::ArcSwapOption<DefaultDirectRateLimiter>,
    /// Binds open now (shared with the account's next version after a reload, so a
    /// bind made before it is released from the same count).
    pub binds: Arc<AtomicUsize>,
    /// Submits that passed the TPS check (for the TPS-in-use gauge; shared as `binds`).
    pub submits: Arc<std::sync::atomic::AtomicU64>,
    /// HTTP submit requests being served (shared as `binds`): at most
    /// [`Account::http_window`].
    http_in_flight: Arc<AtomicUsize>,
    /// `smppgate_upstream_accepted_total{account}`, registered once: the submit path
    /// must not format a label per message.
    pub(crate) accepted_counter: metrics::Counter,
    /// `smppgate_upstream_submit_seconds{account}`: for a submit_sm that passed the
    /// checks, from before the checks to its answer being ready (after the durable
    /// commit), registered once.
    pub(crate) submit_latency: metrics::Histogram,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("binds", &self.binds)
            .finish_non_exhaustive()
    }
}

/// One HTTP request's place in its account's window ([`Account::http_slot`]).
#[derive(Debug)]
pub struct HttpSlot(Arc<AtomicUsize>);

impl Drop for HttpSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

enum Credential {
    Hash(String),
    Clear(String),
}

/// Hashes `password` into an Argon2id PHC string (`smppgate hash-password`).
///
/// # Errors
/// Only if Argon2 itself fails (it does not with default parameters).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

impl Account {
    /// Compiles an account from its configuration (validated already: bad entries are
    /// skipped with a warning here, not a panic).
    #[must_use]
    pub fn new(config: AccountConfig) -> Self {
        let credential = match (&config.password_hash, &config.password) {
            (Some(hash), _) => Credential::Hash(hash.clone()),
            (None, Some(clear)) => Credential::Clear(clear.clone()),
            (None, None) => Credential::Hash(String::new()),
        };
        let allowed = config
            .allowed_ips
            .iter()
            .filter_map(|text| parse_net(text))
            .collect();
        let limiter = arc_swap::ArcSwapOption::new(limiter_of(config.tps).map(Arc::new));
        let accepted_counter = metrics::counter!(
            "smppgate_upstream_accepted_total",
            "account" => config.system_id.clone()
        );
        let submit_latency = metrics::histogram!(
            "smppgate_upstream_submit_seconds",
            "account" => config.system_id.clone()
        );
        Self {
            name: Arc::from(config.system_id.as_str()),
            accepted_counter,
            submit_latency,
            config,
            credential,
            allowed,
            limiter,
            binds: Arc::new(AtomicUsize::new(0)),
            submits: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            http_in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The account's next version after a reload changed its settings: a fresh
    /// credential, allow-list and settings, the same bind and submit counts, and the same
    /// TPS budget when `tps` did not change (otherwise a fresh limiter).
    #[must_use]
    pub fn renewed(config: AccountConfig, old: &Self) -> Self {
        let same_tps = config.tps == old.config.tps;
        let mut next = Self::new(config);
        next.binds = Arc::clone(&old.binds);
        next.submits = Arc::clone(&old.submits);
        next.http_in_flight = Arc::clone(&old.http_in_flight);
        if same_tps {
            next.limiter.store(old.limiter.load_full());
        }
        next
    }

    /// The most HTTP submit requests the account may have in flight: what its binds may
    /// have outstanding over SMPP (`window` × `max_binds`).
    #[must_use]
    pub fn http_window(&self) -> usize {
        self.config
            .window
            .max(1)
            .saturating_mul(self.config.max_binds.max(1))
    }

    /// A place in the account's HTTP window for one request, held until it is dropped;
    /// `None` when the window is full.
    #[must_use]
    pub fn http_slot(&self) -> Option<HttpSlot> {
        let window = self.http_window();
        self.http_in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < window).then_some(n + 1)
            })
            .ok()
            .map(|_| HttpSlot(Arc::clone(&self.http_in_flight)))
    }

    /// Whether `password` is right. Argon2 verification is deliberately slow (tens of
    /// ms): the caller runs it off the connection's hot path.
    #[must_use]
    pub fn verify_password(&self, password: &[u8]) -> bool {
        match &self.credential {
            // Compares every byte whatever differs (only the length shows in the timing).
            Credential::Clear(clear) => clear.as_bytes().ct_eq(password).into(),
            Credential::Hash(hash) => PasswordHash::new(hash)
                .is_ok_and(|parsed| Argon2::default().verify_password(password, &parsed).is_ok()),
        }
    }

    /// Whether a connection from `ip` may bind.
    #[must_use]
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.allowed.is_empty() || self.allowed.iter().any(|net| net.contains(&ip))
    }

    /// Whether `source_addr` may be used as sender.
    #[must_use]
    pub fn sender_allowed(&self, source_addr: &[u8]) -> bool {
        self.config.sender_ids.is_empty()
            || self
                .config
                .sender_ids
                .iter()
                .any(|allowed| allowed.as_bytes() == source_addr)
    }

    /// Takes one submit from the account's TPS budget; `false`: over the limit.
    #[must_use]
    pub fn take_token(&self) -> bool {
        let ok = self
            .limiter
            .load()
            .as_ref()
            .is_none_or(|l| l.check().is_ok());
        if ok {
            self.submits.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Reserves a bind slot; `false` when `max_binds` are open.
    #[must_use]
    pub fn try_add_bind(&self) -> bool {
        self.binds
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.config.max_binds).then_some(n + 1)
            })
            .is_ok()
    }

    /// Releases a bind slot.
    pub fn remove_bind(&self) {
        let _ = self
            .binds
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
/// The per-account limiter of `tps` (0: none).
fn limiter_of(tps: u32) -> Option<DefaultDirectRateLimiter> {
    NonZeroU32::new(tps).map(|rate| {
        // Burst of a tenth of a second (at least 1): a client's window of parts may
        // arrive together without being refused.
        let burst = NonZeroU32::new((tps / 10).max(1)).unwrap_or(NonZeroU32::MIN);
        RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
    })
}

impl Account {
    /// A new TPS (a configuration reload): a fresh limiter swapped in; lookups never
    /// wait.
    pub fn set_tps(&self, tps: u32) {
        self.limiter.store(limiter_of(tps).map(Arc::new));
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn parse_net(text: &str) -> Option<IpNet> {
    let parsed = text
        .parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from));
    if parsed.is_none() {
        tracing::warn!(
            entry = text,
            "allowed_ips entry is not an address or CIDR: ignored"
        );
    }
    parsed
}

/// All accounts by system_id: the table is swapped whole by a configuration reload
/// ([`Accounts::replace`]); a lookup is an `ArcSwap` load, never a lock.
#[derive(Debug, Default)]
pub struct Accounts {
    by_id: ArcSwap<HashMap<Box<[u8]>, Arc<Account>>>,
}

/// What [`Accounts::replace`] changed.
#[derive(Debug, Default)]
pub struct AccountChanges {
    /// Accounts the new table has and the old one had not.
    pub added: Vec<Arc<Account>>,
    /// Accounts of the old table the new one has not (their sessions are unbound).
    pub removed: Vec<Arc<Account>>,
    /// Accounts whose settings changed (the new versions).
    pub changed: Vec<Arc<Account>>,
}

impl Accounts {
    /// From the configuration.
    #[must_use]
    pub fn new(configs: &[AccountConfig]) -> Self {
        let by_id = configs
            .iter()
            .map(|c| {
                (
                    Box::from(c.system_id.as_bytes()),
                    Arc::new(Account::new(c.clone())),
                )
            })
            .collect();
        Self {
            by_id: ArcSwap::from_pointee(by_id),
        }
    }

    /// The account binding as `system_id`.
    #[must_use]
    pub fn get(&self, system_id: &[u8]) -> Option<Arc<Account>> {
        self.by_id.load().get(system_id).cloned()
    }

    /// Every account (the table in force now).
    pub fn iter(&self) -> std::vec::IntoIter<Arc<Account>> {
        let table = self.by_id.load_full();
        let accounts: Vec<Arc<Account>> = table.values().cloned().collect();
        accounts.into_iter()
    }

    /// Puts `configs` in force (a reload): an account whose settings are the same keeps
    /// its `Arc`; a changed one gets a new version sharing its counts
    /// ([`Account::renewed`]); the table is swapped whole. Sessions look their account up
    /// per request, so settings read per message apply to the next message.
    pub fn replace(&self, configs: &[AccountConfig]) -> AccountChanges {
        let old = self.by_id.load_full();
        let mut changes = AccountChanges::default();
        let mut next = HashMap::with_capacity(configs.len());
        for config in configs {
            let key: Box<[u8]> = Box::from(config.system_id.as_bytes());
            let account = match old.get(&key) {
                Some(account) if account.config == *config => Arc::clone(account),
                Some(account) => {
                    let renewed = Arc::new(Account::renewed(config.clone(), account));
                    changes.changed.push(Arc::clone(&renewed));
                    renewed
                }
                None => {
                    let added = Arc::new(Account::new(config.clone()));
                    changes.added.push(Arc::clone(&added));
                    added
                }
            };
            next.insert(key, account);
        }
        changes.removed = old
            .iter()
            .filter(|(key, _)| !next.contains_key(*key))
            .map(|(_, account)| Arc::clone(account))
            .collect();
        self.by_id.store(Arc::new(next));
        changes
    }
}

/// Most addresses tracked by the lockout at once (a flood from many addresses cannot
/// grow it without bound; the oldest entries go first).
const LOCKOUT_MAX_ENTRIES: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Failures {
    first: Instant,
    count: u32,
    locked_until: Option<Instant>,
}

/// Per-IP bind-failure counting and temporary lockout.
#[derive(Debug)]
pub struct Lockout {
    failures: DashMap<IpAddr, Failures>,
    limit: u32,
    window: Duration,
    duration: Duration,
}

impl Lockout {
    /// From the server settings.
    #[must_use]
    pub fn new(config: &ServerConfig) -> Self {
        Self {
            failures: DashMap::new(),
            limit: config.lockout_failures.max(1),
            window: config.lockout_window,
            duration: config.lockout_duration,
        }
    }

    /// Whether `ip` is locked out now.
    #[must_use]
    pub fn is_locked(&self, ip: IpAddr, now: Instant) -> bool {
        self.failures
            .get(&canonical(ip))
            .and_then(|f| f.locked_until)
            .is_some_and(|until| now < until)
    }

    /// Counts a failure; returns whether this one locked the address out.
    pub fn fail(&self, ip: IpAddr, now: Instant) -> bool {
        if self.failures.len() >= LOCKOUT_MAX_ENTRIES {
            self.prune(now);
        }
        let mut entry = self.failures.entry(canonical(ip)).or_insert(Failures {
            first: now,
            count: 0,
            locked_until: None,
        });
        if now.duration_since(entry.first) > self.window {
            *entry = Failures {
                first: now,
                count: 0,
                locked_until: entry.locked_until.filter(|until| now < *until),
            };
        }
        entry.count += 1;
        if entry.count >= self.limit && entry.locked_until.is_none_or(|until| until <= now) {
            entry.locked_until = Some(now + self.duration);
            return true;
        }
        false
    }

    /// Forgets the failures of `ip` (a successful bind).
    pub fn succeed(&self, ip: IpAddr) {
        self.failures.remove(&canonical(ip));
    }

    fn prune(&self, now: Instant) {
        self.failures.retain(|_, f| {
            f.locked_until.is_some_and(|until| now < until)
                || now.duration_since(f.first) <= self.window
        });
        if self.failures.len() >= LOCKOUT_MAX_ENTRIES {
            // Still full of live entries: drop the unlocked ones first.
            self.failures.retain(|_, f| f.locked_until.is_some());
        }
    }
}

/// The status a refused bind gets.
#[must_use]
pub const fn refusal(reason: BindRefusal) -> CommandStatus {
    match reason {
        BindRefusal::UnknownSystemId => CommandStatus::ESME_RINVSYSID,
        BindRefusal::BadPassword => CommandStatus::ESME_RINVPASWD,
        BindRefusal::IpNotAllowed | BindRefusal::LockedOut => CommandStatus::ESME_RBINDFAIL,
        BindRefusal::TooManyBinds => CommandStatus::ESME_RALYBND,
    }
}

/// Why a bind was refused (logged and counted by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindRefusal {
    /// No such system_id.
    UnknownSystemId,
    /// Wrong password.
    BadPassword,
    /// Source address not in the account's allow-list.
    IpNotAllowed,
    /// Too many failures from this address.
    LockedOut,
    /// `max_binds` already open.
    TooManyBinds,
}

impl BindRefusal {
    /// Label for logs and metrics.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UnknownSystemId => "unknown_system_id",
            Self::BadPassword => "bad_password",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::LockedOut => "locked_out",
            Self::TooManyBinds => "too_many_binds",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(extra: impl FnOnce(&mut AccountConfig)) -> Account {
        let mut config = crate::config::Config::demo().accounts.remove(0);
        extra(&mut config);
        Account::new(config)
    }

    #[test]
    fn argon2_hash_verifies_only_the_right_password() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let a = account(|c| {
            c.password = None;
            c.password_hash = Some(hash);
        });
        assert!(a.verify_password(b"s3cret"));
        assert!(!a.verify_password(b"s3cret "));
        assert!(!a.verify_password(b""));
    }

    #[test]
    fn a_clear_password_verifies_only_itself() {
        let a = account(|c| {
            c.password = Some("demo".to_owned());
            c.password_hash = None;
        });
        assert!(a.verify_password(b"demo"));
        assert!(!a.verify_password(b"demO"));
        assert!(!a.verify_password(b"dem"));
        assert!(!a.verify_password(b"demo\0"));
        assert!(!a.verify_password(b""));
    }

    #[test]
    fn ip_allow_list_takes_cidrs_and_mapped_v6() {
        let a = account(|c| c.allowed_ips = vec!["10.0.0.0/8".into(), "192.0.2.7".into()]);
        assert!(a.ip_allowed("10.1.2.3".parse().unwrap()));
        assert!(a.ip_allowed("192.0.2.7".parse().unwrap()));
        assert!(a.ip_allowed("::ffff:10.9.9.9".parse().unwrap()));
        assert!(!a.ip_allowed("192.0.2.8".parse().unwrap()));
        assert!(!a.ip_allowed("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bind_slots_are_bounded() {
        let a = account(|c| c.max_binds = 2);
        assert!(a.try_add_bind());
        assert!(a.try_add_bind());
        assert!(!a.try_add_bind());
        a.remove_bind();
        assert!(a.try_add_bind());
    }

    #[test]
    fn a_replaced_table_keeps_unchanged_accounts_and_the_counts_of_changed_ones() {
        let demo = crate::config::Config::demo().accounts.remove(0);
        let named = |name: &str| AccountConfig {
            system_id: name.to_owned(),
            ..demo.clone()
        };
        let accounts = Accounts::new(&[named("shop"), named("gone"), named("same")]);
        let shop = accounts.get(b"shop").unwrap();
        let same = accounts.get(b"same").unwrap();
        assert!(shop.try_add_bind());
        let mut changed = named("shop");
        changed.password = Some("new".to_owned());
        changed.password_hash = None;
        changed.max_binds = 1;
        let changes = accounts.replace(&[changed, named("same"), named("fresh")]);
        let names =
            |list: &[Arc<Account>]| list.iter().map(|a| a.name.to_string()).collect::<Vec<_>>();
        assert_eq!(names(&changes.added), ["fresh"]);
        assert_eq!(names(&changes.removed), ["gone"]);
        assert_eq!(names(&changes.changed), ["shop"]);
        assert!(accounts.get(b"gone").is_none());
        assert!(Arc::ptr_eq(&accounts.get(b"same").unwrap(), &same));
        let renewed = accounts.get(b"shop").unwrap();
        assert!(renewed.verify_password(b"new") && !shop.verify_password(b"new"));
        // The bind made before the reload counts against the new max_binds, and is
        // released from the same count by the version it bound as.
        assert!(!renewed.try_add_bind());
        shop.remove_bind();
        assert!(renewed.try_add_bind());
    }

    #[test]
    fn lockout_after_limit_then_expires() {
        let config = ServerConfig {
            lockout_failures: 3,
            lockout_window: Duration::from_secs(60),
            lockout_duration: Duration::from_secs(10),
            ..ServerConfig::default()
        };
        let lockout = Lockout::new(&config);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(!lockout.fail(ip, t0));
        assert!(!lockout.fail(ip, t0));
        assert!(lockout.fail(ip, t0));
        assert!(lockout.is_locked(ip, t0 + Duration::from_secs(5)));
        assert!(!lockout.is_locked("192.0.2.2".parse().unwrap(), t0));
        assert!(!lockout.is_locked(ip, t0 + Duration::from_secs(11)));
    }
}
