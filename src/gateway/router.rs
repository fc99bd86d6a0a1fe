//! Which route a destination takes: longest matching prefix over every route's
//! prefixes (operators expanded), else the default route. The gateway asks before it
//! persists, so a message with no route is refused (`ESME_RINVDSTADR`), not accepted and
//! then failed.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::Config;

/// Destination prefixes to route names.
#[derive(Debug, Default)]
pub(crate) struct Router {
    prefixes: HashMap<Box<str>, Arc<str>>,
    longest: usize,
    default: Option<Arc<str>>,
    names: Vec<Arc<str>>,
}

impl Router {
    /// From the routes of `config`.
    #[must_use]
    pub(crate) fn new(config: &Config) -> Self {
        let mut router = Self::default();
        for route in &config.routes {
            let name: Arc<str> = Arc::from(route.name.as_str());
            router.names.push(Arc::clone(&name));
            if route.default {
                router.default = Some(Arc::clone(&name));
            }
            for prefix in route.all_prefixes() {
                router.longest = router.longest.max(prefix.len());
                router
                    .prefixes
                    .entry(prefix.into_boxed_str())
                    .or_insert_with(|| Arc::clone(&name));
            }
        }
        router
    }

    /// The route of an E.164 number.
    #[must_use]
    pub(crate) fn route(&self, e164: &str) -> Option<&Arc<str>> {
        (1..=self.longest.min(e164.len()))
            .rev()
            .find_map(|n| self.prefixes.get(&e164[..n]))
            .or(self.default.as_ref())
    }

    /// A route by name.
    #[must_use]
    pub(crate) fn named(&self, name: &str) -> Option<&Arc<str>> {
        self.names.iter().find(|n| &***n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RouteConfig;

    #[test]
    fn longest_prefix_then_default() {
        let route = |name: &str, prefixes: &[&str], default: bool| RouteConfig {
            name: name.into(),
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            operators: Vec::new(),
            default,
            carriers: vec!["c".into()],
        };
        let config = Config {
            routes: vec![
                route("cn", &["86"], false),
                route("cm", &["86138"], false),
                route("rest", &[], true),
            ],
            ..Config::default()
        };
        let router = Router::new(&config);
        assert_eq!(router.route("8613800138000").map(|r| &**r), Some("cm"));
        assert_eq!(router.route("8613000138000").map(|r| &**r), Some("cn"));
        assert_eq!(router.route("4915112345678").map(|r| &**r), Some("rest"));
        let no_default = Router::new(&Config {
            routes: vec![route("cn", &["86"], false)],
            ..Config::default()
        });
        assert!(no_default.route("4915112345678").is_none());
    }
}
