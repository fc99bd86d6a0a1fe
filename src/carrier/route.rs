//! Destination → route: the longest matching prefix over every route's prefixes, the
//! default route otherwise.

use crate::config::RouteConfig;
use crate::numbers::PrefixTable;

/// The prefix table.
#[derive(Debug, Default)]
pub(crate) struct RouteTable {
    by_prefix: PrefixTable<usize>,
    default: Option<usize>,
}

impl RouteTable {
    /// From the routes, indexed as given. A prefix in two routes (a validation error)
    /// goes to the first.
    pub(crate) fn new(routes: &[RouteConfig]) -> Self {
        let mut table = Self::default();
        for (index, route) in routes.iter().enumerate() {
            for prefix in route.all_prefixes() {
                let prefix = digits(&prefix);
                if prefix.is_empty() {
                    continue;
                }
                // Not digits: refused by validation, skipped here.
                if let Ok(Some(first)) = table.by_prefix.insert(prefix, index) {
                    let _ = table.by_prefix.insert(prefix, first);
                }
            }
            if route.default && table.default.is_none() {
                table.default = Some(index);
            }
        }
        table
    }

    /// The route of a destination address (`+8613812345678`, `008613…`, `8613…`).
    pub(crate) fn lookup(&self, destination: &str) -> Option<usize> {
        self.by_prefix
            .lookup(digits(destination))
            .copied()
            .or(self.default)
    }
}

/// Routes by destination or by name, built from the configuration alone: intake resolves
/// a message's route once, before it is persisted, and the pool finds the route it is
/// handed with the same table. Indices are the routes' positions in the configuration.
///
/// Clones share one table, swapped whole by [`Router::replace`] (a configuration
/// reload): a lookup is an `ArcSwap` load, never a lock.
#[derive(Debug, Clone)]
pub struct Router {
    tables: std::sync::Arc<arc_swap::ArcSwap<Tables>>,
}

#[derive(Debug)]
struct Tables {
    table: RouteTable,
    names: Vec<std::sync::Arc<str>>,
    by_name: std::collections::HashMap<std::sync::Arc<str>, usize>,
}

impl Tables {
    fn new(routes: &[RouteConfig]) -> Self {
        let names: Vec<std::sync::Arc<str>> = routes
            .iter()
            .map(|r| std::sync::Arc::from(r.name.as_str()))
            .collect();
        let by_name = names
            .iter()
            .enumerate()
            .map(|(index, name)| (std::sync::Arc::clone(name), index))
            .collect();
        Self {
            table: RouteTable::new(routes),
            names,
            by_name,
        }
    }
}

impl Router {
    /// From the `[[route]]`s.
    #[must_use]
    pub fn new(routes: &[RouteConfig]) -> Self {
        Self {
            tables: std::sync::Arc::new(arc_swap::ArcSwap::from_pointee(Tables::new(routes))),
        }
    }

    /// Puts `routes` in force for every clone of this router (a reload): the next
    /// lookup uses them.
    pub fn replace(&self, routes: &[RouteConfig]) {
        self.tables.store(std::sync::Arc::new(Tables::new(routes)));
    }

    /// The names of the routes in force, in the configuration's order.
    #[must_use]
    pub fn names(&self) -> Vec<std::sync::Arc<str>> {
        self.tables.load().names.clone()
    }

    /// The position of the route named `name` when given (and configured), else of the
    /// route of `destination` (E.164 digits): longest prefix, then the default route.
    #[must_use]
    pub fn index(&self, name: Option<&str>, destination: &str) -> Option<usize> {
        let tables = self.tables.load();
        match name {
            Some(name) => tables.by_name.get(name).copied(),
            None => tables.table.lookup(destination),
        }
    }

    /// As [`Router::index`], the route's name.
    #[must_use]
    pub fn route(&self, name: Option<&str>, destination: &str) -> Option<std::sync::Arc<str>> {
        let tables = self.tables.load();
        match name {
            Some(name) => tables.by_name.get(name).copied(),
            None => tables.table.lookup(destination),
        }
        .and_then(|i| tables.names.get(i).cloned())
    }
}

/// Without `+` or an international `00`.
fn digits(number: &str) -> &str {
    let number = number.trim();
    number
        .strip_prefix('+')
        .or_else(|| number.strip_prefix("00"))
        .unwrap_or(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, prefixes: &[&str], default: bool) -> RouteConfig {
        RouteConfig {
            name: name.to_owned(),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            operators: Vec::new(),
            default,
            carriers: vec!["c".to_owned()],
            queue: 10_000,
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let table = RouteTable::new(&[
            route("cn", &["86"], false),
            route("cmcc", &["86138", "86139"], false),
            route("rest", &[], true),
        ]);
        assert_eq!(table.lookup("+8613812345678"), Some(1));
        assert_eq!(table.lookup("008613912345678"), Some(1));
        assert_eq!(table.lookup("8615012345678"), Some(0));
        assert_eq!(table.lookup("4479460000"), Some(2));
    }

    #[test]
    fn a_replaced_table_is_seen_by_every_clone() {
        let router = Router::new(&[route("cn", &["86"], false), route("rest", &[], true)]);
        let intake = router.clone();
        assert_eq!(intake.route(None, "+8613800138000").as_deref(), Some("cn"));
        router.replace(&[route("rest", &[], true), route("uk", &["44"], false)]);
        assert_eq!(
            intake.route(None, "+8613800138000").as_deref(),
            Some("rest")
        );
        assert_eq!(intake.route(None, "+447946000000").as_deref(), Some("uk"));
        assert_eq!(intake.route(Some("cn"), ""), None);
    }

    #[test]
    fn no_default_no_route() {
        let table = RouteTable::new(&[route("cn", &["86"], false)]);
        assert_eq!(table.lookup("4479460000"), None);
        assert_eq!(table.lookup(""), None);
    }
}
