//! The semantic checks run after parsing: each rule is a small function that adds a
//! finding (field path, what is wrong and what to write instead).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use smppgate_protocol::CommandStatus;

use super::spans::Locator;
use super::{AccountConfig, CarrierConfig, Class, Config, RouteConfig};
use crate::numbers;

/// Most outstanding requests per bind we accept.
pub const MAX_WINDOW: usize = 1024;

/// Most binds per carrier we accept.
pub(super) const MAX_BINDS: usize = 256;

/// Most messages per class a route holds in memory.
pub(super) const MAX_ROUTE_QUEUE: usize = 1_000_000;

/// What `data_coding_default` may say.
pub const DATA_CODINGS: &[&str] = &["gsm7", "latin1", "ascii", "ia5"];

/// Findings so far; the locator turns other fields' paths into "path, line N" in
/// messages that point at two places.
pub(super) struct Findings<'a> {
    locator: &'a Locator,
    pub(super) found: Vec<(String, String)>,
}

impl<'a> Findings<'a> {
    pub(super) fn new(locator: &'a Locator) -> Self {
        Self {
            locator,
            found: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.found.push((path.into(), message.into()));
    }

    /// ` (line 14)`, or nothing when the line is unknown.
    /// Whether `path` is written in the file (not a default).
    pub(super) fn written(&self, path: &str) -> bool {
        self.locator.is_written(path)
    }

    pub(super) fn line_note(&self, path: &str) -> String {
        self.locator
            .line(path)
            .map_or_else(String::new, |line| format!(" (line {line})"))
    }

    /// `route[0].prefixes[2], line 14` (or just the path when the line is unknown).
    pub(super) fn at(&self, path: &str) -> String {
        match self.locator.line(path) {
            Some(line) => format!("{path}, line {line}"),
            None => path.to_owned(),
        }
    }
}

/// Runs every check.
pub(super) fn run(config: &Config, findings: &mut Findings<'_>) {
    server(config, findings);
    receipts(config, findings);
    for (index, account) in config.accounts.iter().enumerate() {
        account_fields(&format!("account[{index}]"), account, config, findings);
    }
    for (index, carrier) in config.carriers.iter().enumerate() {
        carrier_fields(&format!("carrier[{index}]"), carrier, findings);
    }
    for (index, route) in config.routes.iter().enumerate() {
        route_fields(&format!("route[{index}]"), route, config, findings);
    }
    unique_names(config, findings);
    prefixes_in_one_route(config, findings);
    one_default_route(config, findings);
    numbers_claimed_once(config, findings);
    http(config, findings);
    super::cluster::check(config.cluster.as_ref(), findings);
    super::policy_checks::run(config, findings);
}

/// Most error statuses an outbox item may get before it is parked.
pub(super) const MAX_OUTBOX_ATTEMPTS: u32 = 100;

fn receipts(config: &Config, findings: &mut Findings<'_>) {
    let receipts = &config.receipts;
    let attempts = receipts.outbox_max_attempts;
    if !(1..=MAX_OUTBOX_ATTEMPTS).contains(&attempts) {
        findings.add(
            "receipts.outbox_max_attempts",
            format!("{attempts} is out of range; write 1 to {MAX_OUTBOX_ATTEMPTS}, e.g. 5"),
        );
    }
    not_zero_time(
        findings,
        "receipts.outbox_retry_initial",
        receipts.outbox_retry_initial,
        "1s",
    );
    if receipts.outbox_retry_max < receipts.outbox_retry_initial {
        let at = findings.at("receipts.outbox_retry_initial");
        findings.add(
            "receipts.outbox_retry_max",
            format!(
                "shorter than outbox_retry_initial ({at}); write at least {}, e.g. \"60s\"",
                humantime::format_duration(receipts.outbox_retry_initial)
            ),
        );
    }
}

fn server(config: &Config, findings: &mut Findings<'_>) {
    let server = &config.server;
    socket_address(findings, "server.listen", &server.listen, "0.0.0.0:2775");
    at_least_one(
        findings,
        "server.max_connections",
        server.max_connections,
        "1024",
    );
    not_zero_time(findings, "server.idle_timeout", server.idle_timeout, "90s");
    if let Some(metrics) = &config.metrics {
        socket_address(
            findings,
            "metrics.listen",
            &metrics.listen,
            "127.0.0.1:9100",
        );
    }
    let store = &config.store;
    if store.path.as_os_str().is_empty() {
        findings.add("store.path", "empty; write a directory, e.g. \"./data\"");
    }
    at_least_one(findings, "store.max_batch", store.max_batch, "4096");
    at_least_one(
        findings,
        "store.max_pending",
        usize::try_from(store.max_pending).unwrap_or(usize::MAX),
        "1000000",
    );
    not_zero_time(findings, "store.retention", store.retention, "7days");
    not_zero_time(findings, "store.validity", store.validity, "72h");
    not_zero_time(
        findings,
        "store.stats_retention",
        store.stats_retention,
        "400days",
    );
    not_zero_time(
        findings,
        "store.stats_hour_retention",
        store.stats_hour_retention,
        "35days",
    );
    if !store.stats_retention.is_zero() && store.stats_hour_retention > store.stats_retention {
        findings.add(
            "store.stats_hour_retention",
            format!(
                "longer than store.stats_retention ({}): hours are summed into days, so \
                 keep days at least as long, e.g. stats_retention = \"400days\"",
                humantime::format_duration(store.stats_retention)
            ),
        );
    }
    let country = &config.numbers.default_country;
    if !numbers::is_country_code(country) {
        findings.add(
            "numbers.default_country",
            format!(
                "`{country}` is not a country code; write 1 to 3 digits without `+` or \
                 leading 0, e.g. \"86\""
            ),
        );
    }
}

fn account_fields(
    path: &str,
    account: &AccountConfig,
    config: &Config,
    findings: &mut Findings<'_>,
) {
    // SMPP 3.4 §5.2.1: system_id is a C-octet string of at most 16 octets.
    smpp_string(
        findings,
        &format!("{path}.system_id"),
        &account.system_id,
        15,
        true,
    );
    match (&account.password, &account.password_hash) {
        (None, None) => findings.add(
            path,
            "no password: add `password_hash = \"$argon2id$…\"` (or `password = \"…\"` \
             for a test account)",
        ),
        (Some(_), Some(_)) => findings.add(
            format!("{path}.password"),
            "both `password` and `password_hash` are set; keep only `password_hash`",
        ),
        (Some(password), None) => {
            // §5.2.2: password is at most 9 octets with its NUL.
            smpp_string(findings, &format!("{path}.password"), password, 8, true);
        }
        (None, Some(hash)) => {
            if let Err(why) = argon2_phc(hash) {
                findings.add(
                    format!("{path}.password_hash"),
                    format!(
                        "not an Argon2 hash ({why}); write the PHC string of an Argon2 \
                         hash: \"$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH\""
                    ),
                );
            }
        }
    }
    for (index, ip) in account.allowed_ips.iter().enumerate() {
        if ip.parse::<IpNet>().is_err() && ip.parse::<IpAddr>().is_err() {
            findings.add(
                format!("{path}.allowed_ips[{index}]"),
                format!(
                    "`{ip}` is not an IP address or network; write e.g. \"192.0.2.7\", \
                     \"10.0.0.0/8\" or \"2001:db8::/32\""
                ),
            );
        }
    }
    at_least_one(
        findings,
        &format!("{path}.max_binds"),
        account.max_binds,
        "4",
    );
    window(findings, &format!("{path}.window"), account.window);
    for (index, sender) in account.sender_ids.iter().enumerate() {
        // §5.2.8: source_addr is at most 21 octets with its NUL.
        smpp_string(
            findings,
            &format!("{path}.sender_ids[{index}]"),
            sender,
            20,
            true,
        );
    }
    if let Some(route) = &account.route {
        if !config.routes.iter().any(|r| &r.name == route) {
            findings.add(
                format!("{path}.route"),
                format!(
                    "no route is named `{route}`; {}",
                    one_of("route", route_names(config))
                ),
            );
        }
    }
    for (index, number) in account.numbers.iter().enumerate() {
        digits(
            findings,
            &format!("{path}.numbers[{index}]"),
            number,
            "\"10690000\"",
        );
    }
}

fn carrier_fields(path: &str, carrier: &CarrierConfig, findings: &mut Findings<'_>) {
    if carrier.address != "sim" {
        if let Err(why) = host_port(&carrier.address) {
            findings.add(
                format!("{path}.address"),
                format!(
                    "`{}` {why}; write host:port, e.g. \"10.0.0.1:2775\" or \
                     \"smsc.example.com:2775\" (or \"sim\" for a built-in simulated carrier)",
                    carrier.address
                ),
            );
        }
    }
    super::china::carrier_fields(path, carrier, findings);
    if !carrier.protocol.is_china() {
        smpp_string(
            findings,
            &format!("{path}.system_id"),
            &carrier.system_id,
            15,
            false,
        );
        smpp_string(
            findings,
            &format!("{path}.password"),
            &carrier.password,
            8,
            false,
        );
        // §5.2.3: system_type is at most 13 octets with its NUL.
        smpp_string(
            findings,
            &format!("{path}.system_type"),
            &carrier.system_type,
            12,
            false,
        );
    }
    at_least_one(findings, &format!("{path}.binds"), carrier.binds, "4");
    at_most(
        findings,
        &format!("{path}.binds"),
        carrier.binds,
        MAX_BINDS,
        "each bind is a connection and a login at the carrier, which allows a few",
        "4",
    );
    window(findings, &format!("{path}.window"), carrier.window);
    if carrier.tps == 0 {
        findings.add(
            format!("{path}.tps"),
            "0 would send nothing; write the rate agreed with the carrier (all binds \
             together), e.g. 100",
        );
    }
    not_zero_time(
        findings,
        &format!("{path}.enquire_link_interval"),
        carrier.enquire_link_interval,
        "30s",
    );
    not_zero_time(
        findings,
        &format!("{path}.response_timeout"),
        carrier.response_timeout,
        "30s",
    );
    if !DATA_CODINGS.contains(&carrier.data_coding_default.as_str()) {
        findings.add(
            format!("{path}.data_coding_default"),
            format!(
                "`{}` is not a coding; {}",
                carrier.data_coding_default,
                one_of("coding", DATA_CODINGS.iter().copied())
            ),
        );
    }
    let throttle = &carrier.throttle_backoff;
    let rate_decrease = throttle.rate_decrease;
    if !(rate_decrease > 0.0 && rate_decrease <= 1.0) {
        findings.add(
            format!("{path}.throttle_backoff.rate_decrease"),
            format!(
                "{rate_decrease} is outside (0, 1]: the rate is multiplied by it on each \
                 throttle; write e.g. 0.5 to halve, 1.0 to pause only"
            ),
        );
    }
    let rate_increase = throttle.rate_increase;
    if !(rate_increase.is_finite() && rate_increase >= 0.0) {
        findings.add(
            format!("{path}.throttle_backoff.rate_increase"),
            format!(
                "{rate_increase} is not a fraction of tps ≥ 0; write e.g. 0.1 (10% of tps \
                 added back per second), or 0 to stay at the lowered rate"
            ),
        );
    }
    if throttle.initial > throttle.max {
        findings.add(
            format!("{path}.throttle_backoff.initial"),
            format!(
                "the first pause ({}) is longer than the longest ({}); make `initial` ≤ `max`",
                humantime::format_duration(throttle.initial),
                humantime::format_duration(throttle.max)
            ),
        );
    }
    not_zero_time(
        findings,
        &format!("{path}.failover_after"),
        carrier.failover_after,
        "30s",
    );
    for class in Class::ALL {
        if let Some(after) = carrier.failover_after_by_class.get(class) {
            not_zero_time(
                findings,
                &format!("{path}.failover_after_by_class.{}", class.as_str()),
                after,
                if class == Class::Otp { "3s" } else { "10s" },
            );
        }
    }
    if carrier.retry.max_attempts == 0 {
        findings.add(
            format!("{path}.retry.max_attempts"),
            "0 would never send; write 1 for a single attempt (no retry), or e.g. 3",
        );
    }
    let transient = statuses(
        findings,
        &format!("{path}.transient_statuses"),
        &carrier.transient_statuses,
    );
    let permanent = statuses(
        findings,
        &format!("{path}.permanent_statuses"),
        &carrier.permanent_statuses,
    );
    for (index, status) in &permanent {
        if let Some((other, _)) = transient.iter().find(|(_, s)| s == status) {
            let other = findings.at(&format!("{path}.transient_statuses[{other}]"));
            findings.add(
                format!("{path}.permanent_statuses[{index}]"),
                format!(
                    "{} is also listed as transient ({other}); keep it in one list",
                    name(*status)
                ),
            );
        }
    }
}

fn route_fields(path: &str, route: &RouteConfig, config: &Config, findings: &mut Findings<'_>) {
    at_least_one(findings, &format!("{path}.queue"), route.queue, "10000");
    at_most(
        findings,
        &format!("{path}.queue"),
        route.queue,
        MAX_ROUTE_QUEUE,
        "the route holds this many messages per class in memory (the rest of its backlog waits on disk, up to [store] max_pending)",
        "10000",
    );
    if route.carriers.is_empty() {
        findings.add(
            format!("{path}.carriers"),
            format!(
                "no carrier: messages of this route could not be sent; {}",
                one_or_more("carriers = [", carrier_names(config))
            ),
        );
    }
    for (index, name) in route.carriers.iter().enumerate() {
        let field = format!("{path}.carriers[{index}]");
        if !config.carriers.iter().any(|c| &c.name == name) {
            findings.add(
                field,
                format!(
                    "no carrier is named `{name}`; {}",
                    one_of("carrier", carrier_names(config))
                ),
            );
        } else if let Some(first) = route.carriers[..index].iter().position(|c| c == name) {
            findings.add(
                field,
                format!(
                    "`{name}` is already {}; a carrier is tried once per route, remove this one",
                    findings.at(&format!("{path}.carriers[{first}]"))
                ),
            );
        }
    }
    for (index, prefix) in route.prefixes.iter().enumerate() {
        let field = format!("{path}.prefixes[{index}]");
        if let Some(without_plus) = prefix.strip_prefix('+') {
            findings.add(
                field,
                format!("`{prefix}`: write prefixes without `+`: \"{without_plus}\""),
            );
        } else if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            findings.add(
                field,
                format!(
                    "`{prefix}` is not a prefix; write E.164 digits with the country code, \
                     e.g. \"86138\" (for everything else, use `default = true`)"
                ),
            );
        } else if prefix.len() > 15 || prefix.starts_with('0') {
            findings.add(
                field,
                format!(
                    "`{prefix}` cannot begin an E.164 number (at most 15 digits, starting with \
                     a country code, never 0); write e.g. \"86138\""
                ),
            );
        }
    }
    for (index, prefix) in route.prefixes.iter().enumerate() {
        if let Some(first) = route.prefixes[..index].iter().position(|p| p == prefix) {
            let other = findings.at(&format!("{path}.prefixes[{first}]"));
            findings.add(
                format!("{path}.prefixes[{index}]"),
                format!("prefix {prefix} is listed twice ({other}); remove one"),
            );
        }
    }
    for (index, operator) in route.operators.iter().enumerate() {
        if numbers::operator_prefixes(operator).is_none() {
            findings.add(
                format!("{path}.operators[{index}]"),
                format!(
                    "no built-in operator is named `{operator}`; {}",
                    one_of("operator", numbers::OPERATOR_NAMES.iter().copied())
                ),
            );
        }
    }
    if route.prefixes.is_empty() && route.operators.is_empty() && !route.default {
        findings.add(
            path,
            "matches no number; add `prefixes = [\"86138\"]`, `operators = [\"china-mobile\"]` \
             or `default = true`",
        );
    }
}

/// Names of carriers, routes and accounts are keys: each once.
fn unique_names(config: &Config, findings: &mut Findings<'_>) {
    let carriers = config.carriers.iter().map(|c| c.name.as_str());
    unique(findings, "carrier", "name", carriers);
    let routes = config.routes.iter().map(|r| r.name.as_str());
    unique(findings, "route", "name", routes);
    let accounts = config.accounts.iter().map(|a| a.system_id.as_str());
    unique(findings, "account", "system_id", accounts);
    for (section, names) in [
        (
            "carrier",
            config.carriers.iter().map(|c| &c.name).collect::<Vec<_>>(),
        ),
        ("route", config.routes.iter().map(|r| &r.name).collect()),
    ] {
        for (index, name) in names.iter().enumerate() {
            if name.trim().is_empty() {
                findings.add(
                    format!("{section}[{index}].name"),
                    format!(
                        "empty; write a name, e.g. \"{}\"",
                        if section == "route" {
                            "china-mobile"
                        } else {
                            "cmcc-gd"
                        }
                    ),
                );
            }
        }
    }
}

pub(super) fn unique<'c>(
    findings: &mut Findings<'_>,
    section: &str,
    field: &str,
    names: impl Iterator<Item = &'c str>,
) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, name) in names.enumerate() {
        if name.is_empty() {
            continue;
        }
        if let Some(earlier) = first.get(name) {
            let line = findings.line_note(&format!("{section}[{earlier}].{field}"));
            findings.add(
                format!("{section}[{index}].{field}"),
                format!(
                    "`{name}` is already the {field} of {section}[{earlier}]{line}; give each \
                     {section} its own"
                ),
            );
        } else {
            first.insert(name, index);
        }
    }
}

/// A prefix goes to one route: the same prefix in two routes (written, or through an
/// operator name) would make routing depend on the order of the file. One finding per
/// pair of fields, however many prefixes they share.
fn prefixes_in_one_route(config: &Config, findings: &mut Findings<'_>) {
    // prefix → (route index, the field it came from)
    let mut owner: HashMap<&str, (usize, String)> = HashMap::new();
    // (field, other field, other route) → shared prefixes, in file order
    type Clash<'p> = ((String, String, usize), Vec<&'p str>);
    let mut clashes: Vec<Clash<'_>> = Vec::new();
    for (route_index, route) in config.routes.iter().enumerate() {
        let written = route.prefixes.iter().enumerate().map(|(index, prefix)| {
            (
                prefix.as_str(),
                format!("route[{route_index}].prefixes[{index}]"),
            )
        });
        let named = route
            .operators
            .iter()
            .enumerate()
            .flat_map(|(index, operator)| {
                let field = format!("route[{route_index}].operators[{index}]");
                numbers::operator_prefixes(operator)
                    .unwrap_or_default()
                    .iter()
                    .map(move |prefix| (*prefix, field.clone()))
            });
        for (prefix, field) in written.chain(named) {
            match owner.get(prefix) {
                Some((other_route, other_field)) if *other_route != route_index => {
                    let key = (field, other_field.clone(), *other_route);
                    match clashes.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, shared)) => shared.push(prefix),
                        None => clashes.push((key, vec![prefix])),
                    }
                }
                Some(_) => {}
                None => {
                    owner.insert(prefix, (route_index, field));
                }
            }
        }
    }
    for ((field, other_field, other_route), shared) in clashes {
        let other = findings.at(&other_field);
        let other_name = &config.routes[other_route].name;
        let prefixes = match shared.as_slice() {
            [one] => format!("prefix {one} is"),
            [first, second] => format!("prefixes {first} and {second} are"),
            [first, .., last] => format!("{} prefixes ({first} … {last}) are", shared.len()),
            [] => continue,
        };
        findings.add(
            field,
            format!(
                "{prefixes} also in route `{other_name}` ({other}); a prefix goes to one \
                 route: remove it from one of them"
            ),
        );
    }
}

fn one_default_route(config: &Config, findings: &mut Findings<'_>) {
    let defaults: Vec<usize> = (0..config.routes.len())
        .filter(|index| config.routes[*index].default)
        .collect();
    if let [first, rest @ ..] = defaults.as_slice() {
        for index in rest {
            let other = findings.at(&format!("route[{first}].default"));
            findings.add(
                format!("route[{index}].default"),
                format!(
                    "route `{}` is already the default route ({other}); only one route can \
                     be default: remove `default = true` from one",
                    config.routes[*first].name
                ),
            );
        }
    }
}

/// A mobile-originated message to one of our numbers goes to one account.
fn numbers_claimed_once(config: &Config, findings: &mut Findings<'_>) {
    let mut owner: HashMap<&str, String> = HashMap::new();
    for (account_index, account) in config.accounts.iter().enumerate() {
        for (index, number) in account.numbers.iter().enumerate() {
            let field = format!("account[{account_index}].numbers[{index}]");
            if let Some(other) = owner.get(number.as_str()) {
                let other = findings.at(other);
                findings.add(
                    field,
                    format!(
                        "number {number} is also claimed by {other}; its incoming messages \
                         can go to one account only: remove one"
                    ),
                );
            } else {
                owner.insert(number, field);
            }
        }
    }
}

// ---- small rules -------------------------------------------------------------------

/// Largest `http.max_body` accepted: a request is held in memory whole.
const MAX_HTTP_BODY: u64 = 64 << 20;

/// `[http]` and each account's API keys and webhook.
fn http(config: &Config, findings: &mut Findings<'_>) {
    let sha256_fix = "write `sha256:` and 64 hex digits, as `smppgate api-key new` prints";
    if let Some(http) = &config.http {
        socket_address(findings, "http.listen", &http.listen, "127.0.0.1:8080");
        if let Some(hash) = &http.admin_token_hash {
            if super::parse_sha256(hash).is_none() {
                findings.add(
                    "http.admin_token_hash",
                    format!("not a SHA-256 hash; {sha256_fix} (`smppgate api-key new --admin`)"),
                );
            }
        }
        at_least_one(
            findings,
            "http.max_connections",
            http.max_connections,
            "1024",
        );
        not_zero_time(findings, "http.header_timeout", http.header_timeout, "10s");
        not_zero_time(
            findings,
            "http.request_timeout",
            http.request_timeout,
            "30s",
        );
        at_least_one(
            findings,
            "http.auth_failures_per_second",
            http.auth_failures_per_second as usize,
            "10",
        );
        at_least_one(
            findings,
            "http.auth_failure_burst",
            http.auth_failure_burst as usize,
            "100",
        );
        not_zero_time(
            findings,
            "http.webhook_retry_initial",
            http.webhook_retry_initial,
            "1s",
        );
        if http.webhook_retry_max < http.webhook_retry_initial {
            findings.add(
                "http.webhook_retry_max",
                "shorter than webhook_retry_initial; write at least that, e.g. \"10m\"",
            );
        }
        not_zero_time(
            findings,
            "http.webhook_park_after",
            http.webhook_park_after,
            "24h",
        );
        if !(1..=MAX_HTTP_BODY).contains(&http.max_body) {
            findings.add(
                "http.max_body",
                format!(
                    "{} bytes is out of range; write 1 byte to 64MiB, e.g. \"1MiB\"",
                    http.max_body
                ),
            );
        }
    }
    let mut seen: HashMap<[u8; 32], String> = HashMap::new();
    for (index, account) in config.accounts.iter().enumerate() {
        let path = format!("account[{index}]");
        // The store keeps its own queues under `~` names (`~early`, `~idempotency`).
        if account.system_id.starts_with('~') {
            findings.add(
                format!("{path}.system_id"),
                format!(
                    "`{}`: names starting with `~` are reserved for the gateway's own queues; \
                     write a name without it",
                    account.system_id
                ),
            );
        }
        for (key_index, key) in account.api_keys.iter().enumerate() {
            let field = format!("{path}.api_keys[{key_index}]");
            let Some(hash) = super::parse_sha256(key) else {
                findings.add(
                    field,
                    format!(
                        "not a SHA-256 hash; {sha256_fix} (`smppgate api-key new --account {}`)",
                        account.system_id
                    ),
                );
                continue;
            };
            if let Some(first) = seen.get(&hash) {
                let at = findings.at(first);
                findings.add(
                    field,
                    format!("the same key as {at}; one key names one account: make a new one"),
                );
            } else {
                seen.insert(hash, field);
            }
        }
        if let Some(url) = &account.webhook_url {
            let field = format!("{path}.webhook_url");
            match reqwest::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {}
                _ => findings.add(
                    field,
                    format!(
                        "`{url}` is not an http(s) URL; write e.g. \"https://hooks.example/sms\""
                    ),
                ),
            }
            match &account.webhook_secret {
                None => findings.add(
                    format!("{path}.webhook_secret"),
                    "required with webhook_url (receivers check the signature with it); \
                     write at least 16 random characters, e.g. the output of \
                     `openssl rand -hex 32`",
                ),
                Some(secret) if secret.len() < 16 => findings.add(
                    format!("{path}.webhook_secret"),
                    format!(
                        "{} characters is too short to sign with; write at least 16 random \
                         characters, e.g. the output of `openssl rand -hex 32`",
                        secret.len()
                    ),
                ),
                Some(_) => {}
            }
        } else if account.webhook_secret.is_some() {
            findings.add(
                format!("{path}.webhook_secret"),
                "set without webhook_url; add `webhook_url = \"https://…\"` or remove it",
            );
        }
    }
    if let (Some(admin), false) = (
        config
            .http
            .as_ref()
            .and_then(|h| h.admin_token_hash.as_deref())
            .and_then(super::parse_sha256),
        seen.is_empty(),
    ) {
        if let Some(field) = seen.get(&admin) {
            findings.add(
                field.clone(),
                "the same as http.admin_token_hash; the admin token and an account key must differ",
            );
        }
    }
}

fn socket_address(findings: &mut Findings<'_>, path: &str, value: &str, example: &str) {
    if value.parse::<SocketAddr>().is_err() {
        findings.add(
            path,
            format!(
                "`{value}` is not an IP address and port; write e.g. \"{example}\" or \"[::]:2775\""
            ),
        );
    }
}

fn at_least_one(findings: &mut Findings<'_>, path: &str, value: usize, example: &str) {
    if value == 0 {
        findings.add(
            path,
            format!("0 is not allowed; write at least 1, e.g. {example}"),
        );
    }
}

/// A count bounded above (what it costs past `max` is `why`).
fn at_most(
    findings: &mut Findings<'_>,
    path: &str,
    value: usize,
    max: usize,
    why: &str,
    example: &str,
) {
    if value > max {
        findings.add(
            path,
            format!("{value} is over {max}: {why}; write at most {max}, e.g. {example}"),
        );
    }
}

pub(super) fn not_zero_time(
    findings: &mut Findings<'_>,
    path: &str,
    value: Duration,
    example: &str,
) {
    if value.is_zero() {
        findings.add(
            path,
            format!("a zero duration is not allowed; write e.g. \"{example}\""),
        );
    }
}

fn window(findings: &mut Findings<'_>, path: &str, value: usize) {
    if value == 0 {
        findings.add(path, "0 would never send a request; write the number of outstanding requests allowed per bind, e.g. 64");
    } else {
        at_most(
            findings,
            path,
            value,
            MAX_WINDOW,
            "SMSCs rarely accept more than a few hundred outstanding requests per bind, and \
             every request in flight on a bind that drops is sent again (duplicates)",
            "64",
        );
    }
}

fn digits(findings: &mut Findings<'_>, path: &str, value: &str, example: &str) {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        findings.add(
            path,
            format!("`{value}` is not digits only; write e.g. {example}"),
        );
    }
}

/// A C-octet string field of SMPP: printable ASCII, at most `max` characters.
fn smpp_string(findings: &mut Findings<'_>, path: &str, value: &str, max: usize, required: bool) {
    if required && value.is_empty() {
        findings.add(path, "empty; write a value");
    } else if !value.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        findings.add(
            path,
            format!("`{value}` has characters SMPP cannot carry here; use printable ASCII"),
        );
    } else if value.len() > max {
        findings.add(
            path,
            format!(
                "`{value}` is {} characters; SMPP 3.4 allows at most {max} here",
                value.len()
            ),
        );
    }
}

/// `host:port`: `10.0.0.1:2775`, `smsc.example.com:2775`, `[2001:db8::1]:2775`.
fn host_port(value: &str) -> Result<(), &'static str> {
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err("has no port");
    };
    match port.parse::<u16>() {
        Ok(0) | Err(_) => return Err("has no valid port (1 to 65535)"),
        Ok(_) => {}
    }
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    if host_ok {
        Ok(())
    } else {
        Err("has no valid host")
    }
}

/// Rough PHC check: `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (the version part optional).
fn argon2_phc(hash: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = hash.split('$').collect();
    let rest = match parts.as_slice() {
        ["", "argon2id" | "argon2i" | "argon2d", rest @ ..] => rest,
        ["", ..] => return Err("the algorithm is not argon2id, argon2i or argon2d"),
        _ => return Err("a PHC string starts with `$`"),
    };
    let rest = match rest {
        [version, rest @ ..] if version.starts_with("v=") => rest,
        rest => rest,
    };
    let [params, salt, digest] = rest else {
        return Err("expected `$params$salt$hash` after the algorithm");
    };
    let has = |name: &str| {
        params.split(',').any(|p| {
            p.strip_prefix(name)
                .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        })
    };
    if !(has("m=") && has("t=") && has("p=")) {
        return Err("the parameters need m=, t= and p=");
    }
    let base64 = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    if !(base64(salt) && base64(digest)) {
        return Err("the salt and hash must be unpadded base64");
    }
    Ok(())
}

/// Parses each status, reporting those that are not one.
fn statuses(
    findings: &mut Findings<'_>,
    path: &str,
    list: &[String],
) -> Vec<(usize, CommandStatus)> {
    let mut parsed = Vec::new();
    for (index, text) in list.iter().enumerate() {
        match CommandStatus::parse(text) {
            Some(CommandStatus::ESME_ROK) => findings.add(
                format!("{path}[{index}]"),
                "ESME_ROK is success, neither transient nor permanent; remove it",
            ),
            Some(status) => parsed.push((index, status)),
            None => findings.add(
                format!("{path}[{index}]"),
                format!(
                    "`{text}` is not a command_status; write an SMPP 3.4 name such as \
                     \"ESME_RTHROTTLED\" or a number such as \"0x58\" (vendor codes: \
                     \"0x400\" to \"0x4FF\")"
                ),
            ),
        }
    }
    parsed
}

fn name(status: CommandStatus) -> String {
    status
        .name()
        .map_or_else(|| format!("{:#x}", status.0), str::to_owned)
}

fn carrier_names(config: &Config) -> impl Iterator<Item = &str> {
    config.carriers.iter().map(|c| c.name.as_str())
}

fn route_names(config: &Config) -> impl Iterator<Item = &str> {
    config.routes.iter().map(|r| r.name.as_str())
}

/// "write one of: a, b, c" (or what to do when there are none).
pub(super) fn one_of<'n>(what: &str, names: impl Iterator<Item = &'n str>) -> String {
    let names = distinct(names);
    if names.is_empty() {
        format!("no {what} is defined: add a [[{what}]] section first")
    } else {
        format!("write one of: {}", names.join(", "))
    }
}

fn one_or_more<'n>(start: &str, names: impl Iterator<Item = &'n str>) -> String {
    let names: Vec<String> = distinct(names).iter().map(|n| format!("\"{n}\"")).collect();
    match names.first() {
        None => "add a [[carrier]] section and name it here".to_owned(),
        Some(first) => format!("write e.g. `{start}{first}]` (known: {})", names.join(", ")),
    }
}

/// `names` without repeats, in order (a duplicate name is reported on its own).
fn distinct<'n>(names: impl Iterator<Item = &'n str>) -> Vec<&'n str> {
    let mut seen = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        for good in [
            "10.0.0.1:2775",
            "smsc.example.com:2775",
            "[2001:db8::1]:2775",
            "localhost:1",
        ] {
            assert_eq!(host_port(good), Ok(()), "{good}");
        }
        for bad in [
            "10.0.0.1",
            ":2775",
            "host:0",
            "host:65536",
            "host:x",
            "a..b:1",
            "2001:db8::1:2775",
            "[zz]:1",
            "-a:1",
            "a b:1",
        ] {
            assert!(host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn argon2_strings() {
        for good in [
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
            "$argon2i$m=4096,t=3,p=1$c2FsdA$aGFzaA",
        ] {
            assert_eq!(argon2_phc(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "hunter2",
            "$2b$12$abcdefghijklmnopqrstuv",
            "$argon2id$v=19$m=19456,t=2$c2FsdA$aGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA",
            "$argon2id$v=19$m=19456,t=2,p=1$c2Fs=dA$aGFzaA",
            "$argon2id$v=19$m=x,t=2,p=1$c2FsdA$aGFzaA",
        ] {
            assert!(argon2_phc(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn distinct_keeps_order() {
        assert_eq!(distinct(["b", "a", "b"].into_iter()), ["b", "a"]);
        assert_eq!(
            one_of("carrier", std::iter::empty()),
            "no carrier is defined: add a [[carrier]] section first"
        );
    }
}
