//! Delivery statistics as the gateway counts them: the receipt writer counts each message
//! as it is sent and as it ends, intake counts the refusals of policy rules; what is
//! counted is added to the store's per-hour counters ([`Op::Stats`]) by the writer's next
//! commit (or, when the writer is idle, housekeeping's next round), one entry per key
//! and commit, never one write per message. `smppgate stats` reads them (`crate::stats`);
//! a running gateway publishes the same counts on `/metrics` as
//! `smppgate_delivery_total{account,route,carrier,outcome}` and the submit → delivered
//! latency as `smppgate_submit_to_receipt_seconds`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::clock::WallMillis;
use crate::store::{Counters, MessageRecord, Op, State, StatsKey};

/// Counts not yet written, by key. Bounded by the keys of the hours since the last
/// commit (accounts × routes × carriers, plus rules for refusals).
#[derive(Debug, Default)]
pub(crate) struct DeliveryTally {
    pending: Mutex<HashMap<StatsKey, Counters>>,
}

impl DeliveryTally {
    fn add(&self, key: StatsKey, count: impl FnOnce(&mut Counters)) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        count(pending.entry(key).or_default());
    }

    /// A message refused by policy `rule`.
    pub(crate) fn rejected(&self, now: WallMillis, account: &str, route: &str, rule: &str) {
        self.add(StatsKey::at(now, account, route, ""), |c| {
            *c.rejected.entry(rule.to_owned()).or_insert(0) += 1;
        });
    }

    /// `record` went from `from` to its current state at `now`: counts it as sent when
    /// it left `Accepted` with a part at a carrier, and by its final state when it ended.
    pub(crate) fn changed(&self, now: WallMillis, from: State, record: &MessageRecord) {
        let to = record.state;
        let carrier = record
            .parts
            .iter()
            .find_map(|p| p.carrier.as_deref().filter(|c| !c.is_empty()))
            .unwrap_or("");
        let sent = from == State::Accepted
            && to != State::Accepted
            && record.parts.iter().any(|p| p.carrier_id.is_some());
        if !sent && !to.is_final() {
            return;
        }
        let latency = now.saturating_sub(record.accepted);
        if to == State::Delivered {
            metrics::histogram!("smppgate_submit_to_receipt_seconds")
                .record(Duration::from_millis(latency).as_secs_f64());
        }
        let key = StatsKey::at(now, &record.account, &record.route_taken, carrier);
        self.add(key, |c| {
            c.sent += u64::from(sent);
            match to {
                State::Delivered => {
                    c.delivered += 1;
                    c.latency.record(latency);
                }
                State::Expired => c.expired += 1,
                State::Failed | State::Rejected | State::Unknown => c.failed += 1,
                State::Accepted | State::Sent | State::Held => {}
            }
        });
    }

    /// What was counted since the last call, as one write (`None`: nothing), and
    /// published to `/metrics`.
    pub(crate) fn take(&self) -> Option<Op> {
        let pending =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if pending.is_empty() {
            return None;
        }
        for (key, counters) in &pending {
            let outcomes = [
                ("sent", counters.sent),
                ("delivered", counters.delivered),
                ("failed", counters.failed),
                ("expired", counters.expired),
                ("rejected", counters.rejected_total()),
            ];
            for (outcome, count) in outcomes {
                if count > 0 {
                    metrics::counter!(
                        "smppgate_delivery_total",
                        "account" => key.account.clone(),
                        "route" => key.route.clone(),
                        "carrier" => key.carrier.clone(),
                        "outcome" => outcome
                    )
                    .increment(count);
                }
            }
        }
        Some(Op::Stats(pending.into_iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Class;
    use crate::store::PartRecord;

    fn record(state: State, carrier_id: Option<&str>) -> MessageRecord {
        MessageRecord {
            id: 1,
            account: "shop".into(),
            accepted: 10_000,
            class: Class::Marketing,
            route: None,
            request: Vec::new(),
            part_count: 1,
            wants_receipt: true,
            state,
            parts: vec![PartRecord {
                carrier: carrier_id.map(|_| "c1".to_owned()),
                carrier_id: carrier_id.map(str::to_owned),
                ..PartRecord::default()
            }],
            not_before: 0,
            expires: 0,
            route_taken: "cn".into(),
            client_ref: None,
            deferred_by: None,
        }
    }

    fn taken(tally: &DeliveryTally) -> HashMap<StatsKey, Counters> {
        match tally.take() {
            Some(Op::Stats(entries)) => entries.into_iter().collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sent_then_delivered_and_the_others() {
        let tally = DeliveryTally::default();
        tally.changed(20_000, State::Accepted, &record(State::Sent, Some("X")));
        // Delivered 1 h later: the latency from acceptance.
        let hour = crate::store::HOUR_MS;
        tally.changed(
            10_000 + hour,
            State::Sent,
            &record(State::Delivered, Some("X")),
        );
        // Failed at the carrier: never sent.
        tally.changed(20_000, State::Accepted, &record(State::Failed, None));
        // Expired while waiting.
        tally.changed(20_000, State::Accepted, &record(State::Expired, None));
        tally.rejected(20_000, "shop", "cn", "cap");
        let entries = taken(&tally);
        let first = &entries[&StatsKey::at(0, "shop", "cn", "c1")];
        assert_eq!((first.sent, first.delivered), (1, 0));
        let later = &entries[&StatsKey::at(hour + 10_000, "shop", "cn", "c1")];
        assert_eq!(later.delivered, 1);
        // The latency from acceptance, to within its bucket's 19 %.
        let p50 = later.latency.quantile(0.5).unwrap();
        assert!(p50 >= hour && p50 <= hour * 12 / 10, "{p50}");
        let unsent = &entries[&StatsKey::at(0, "shop", "cn", "")];
        assert_eq!((unsent.sent, unsent.failed, unsent.expired), (0, 1, 1));
        assert_eq!(unsent.rejected["cap"], 1);
        assert!(tally.take().is_none(), "taken twice");
    }
}
