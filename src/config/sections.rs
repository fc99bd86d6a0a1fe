//! Parses each part of the document on its own, so that every serde error is found, not
//! just the first: a wrong type in `[[carrier]]` 0 does not hide an unknown field in
//! `[[carrier]]` 2.
//!
//! The top-level names mirror [`Config`](super::Config)'s fields; the whole document is
//! parsed once more with `Config` itself after this, so a mismatch cannot let a bad file
//! through (a test checks both agree on the example file).

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{
    AccountConfig, CarrierConfig, ClusterConfig, HttpConfig, MetricsConfig, NumbersConfig,
    PolicyConfig, ReceiptsConfig, RouteConfig, ServerConfig, StoreConfig,
};

/// The sections of the file.
pub(super) const SECTIONS: &[&str] = &[
    "server", "store", "metrics", "numbers", "receipts", "account", "carrier", "route", "http",
    "policy", "cluster",
];

/// A serde error: where, and serde's message.
pub(super) type SpannedError = (Option<Range<usize>>, String);

/// Every serde error of the document, in file order.
pub(super) fn parse_each(document: &Spanned<DeTable<'_>>) -> Vec<SpannedError> {
    let mut errors = Vec::new();
    for (key, value) in document.get_ref() {
        match key.get_ref().as_ref() {
            "server" => one::<ServerConfig>(value, &mut errors),
            "store" => one::<StoreConfig>(value, &mut errors),
            "metrics" => one::<MetricsConfig>(value, &mut errors),
            "numbers" => one::<NumbersConfig>(value, &mut errors),
            "receipts" => one::<ReceiptsConfig>(value, &mut errors),
            "account" => each::<AccountConfig>(value, &mut errors),
            "carrier" => each::<CarrierConfig>(value, &mut errors),
            "route" => each::<RouteConfig>(value, &mut errors),
            "http" => one::<HttpConfig>(value, &mut errors),
            "policy" => each::<PolicyConfig>(value, &mut errors),
            "cluster" => one::<ClusterConfig>(value, &mut errors),
            other => {
                let expected: Vec<String> = SECTIONS.iter().map(|s| format!("`{s}`")).collect();
                errors.push((
                    Some(key.span()),
                    format!(
                        "unknown field `{other}`, expected one of {}",
                        expected.join(", ")
                    ),
                ));
            }
        }
    }
    errors.sort_by_key(|(span, _)| span.as_ref().map_or(0, |span| span.start));
    errors
}

/// Parses one table; after each error, removes the field it points at and tries again,
/// so every bad field of the table is reported (serde stops at the first).
fn one<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, errors: &mut Vec<SpannedError>) {
    let mut value = value.clone();
    let mut removed = Vec::new();
    loop {
        let Err(error) = T::deserialize(ValueDeserializer::from(value.clone())) else {
            return;
        };
        let span = error.span();
        let message = error.message();
        // A field removed below is then "missing": that is not news.
        let follow_on = removed
            .iter()
            .any(|key| message.starts_with(&format!("missing field `{key}`")));
        if !follow_on {
            errors.push((span.clone(), message.to_owned()));
        }
        let found = match (span, value.get_mut()) {
            (Some(span), DeValue::Table(table)) if !follow_on => remove_field_at(table, span.start),
            _ => None,
        };
        if let Some(key) = found {
            removed.push(key);
        } else {
            // A missing field, or an error not inside a field: nothing more to learn.
            return;
        }
    }
}

/// Removes the innermost field whose key or value holds byte `at`; its key, if one was.
fn remove_field_at(table: &mut DeTable<'_>, at: usize) -> Option<String> {
    for (_, value) in table.iter_mut() {
        if let DeValue::Table(inner) = value.get_mut() {
            if let Some(key) = remove_field_at(inner, at) {
                return Some(key);
            }
        }
    }
    let holds = |span: Range<usize>| span.start <= at && (at < span.end || at == span.start);
    let found = table
        .iter()
        .find(|(key, value)| holds(key.span()) || holds(value.span()))
        .map(|(key, _)| key.clone());
    let key = found?;
    table.remove(&key)?;
    Some(key.get_ref().to_string())
}

/// An array of tables: each element on its own.
fn each<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, errors: &mut Vec<SpannedError>) {
    match value.get_ref() {
        DeValue::Array(items) => {
            for item in items {
                one::<T>(item, errors);
            }
        }
        // Not an array: let serde say so.
        _ => one::<Vec<T>>(value, errors),
    }
}
