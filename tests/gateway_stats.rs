//! The delivery statistics of an in-process gateway: messages a carrier took are counted
//! as sent under their route and carrier, refusals of a policy rule under the rule, and
//! `smppgate::stats::query` reads them from the store after the gateway stopped.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smppgate::clock::Clock;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::gateway::Gateway;
use smppgate::gateway::policy::{Decision, Policy, PolicyRequest};
use smppgate::stats::{By, Query, query};
use smppgate::store::{FjallStore, Store};
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::Address;
use support::arrivals::carrier_and_demo_config;
use support::within;

/// Refuses texts starting `bad` by the rule `blacklist`.
struct RefuseBad;

impl Policy for RefuseBad {
    fn check(&self, request: &PolicyRequest<'_>) -> Decision {
        if request.submit_sm.short_message.starts_with(b"bad") {
            Decision::Reject {
                status: CommandStatus::ESME_RINVDSTADR,
                rule: "blacklist".into(),
            }
        } else {
            Decision::Accept
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_and_refused_by_rule_are_counted_in_the_store() {
    let (carrier, _server, config) = carrier_and_demo_config().await;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(FjallStore::open(dir.path().join("store"), false).expect("store"));
    let gateway = within(
        "start",
        Gateway::start_with(
            config.clone(),
            Arc::clone(&store),
            Arc::new(RefuseBad),
            Clock::system(),
        ),
    )
    .await
    .expect("gateway");
    let (client, _inbound) = within(
        "bind",
        EsmeClient::connect(
            &gateway.local_addr().to_string(),
            EsmeConfig::new("demo", "demo"),
        ),
    )
    .await
    .expect("bind");
    let texts = ["good 1", "bad 1", "good 2", "bad 2", "bad 3"];
    for text in texts {
        let submit = SubmitSm {
            source_addr: Address::international("10690000"),
            destination_addr: Address::international("8613800138000"),
            short_message: Bytes::from(text),
            ..SubmitSm::default()
        };
        let response = within("submit", client.submit(submit)).await.unwrap();
        assert_eq!(response.is_ok(), text.starts_with("good"), "{text}");
    }
    carrier.wait_for(&[b"good 1", b"good 2"]).await;
    client.unbind().await;
    let _ = gateway.stop(Duration::from_secs(5)).await;

    let since = Clock::system().wall_ms() - 3_600_000;
    let rows = query(
        &*store,
        &Query {
            since,
            by: By::Total,
        },
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    let total = &rows[0];
    assert_eq!(total.sent, 2, "{total:?}");
    assert_eq!(total.rejected, 3, "{total:?}");
    assert_eq!(total.rejected_by_rule.get("blacklist"), Some(&3));
    // The carrier sends no receipts here: nothing ended.
    assert_eq!(
        (total.delivered, total.failed, total.delivery_rate),
        (0, 0, None)
    );
    let by_carrier = query(
        &*store,
        &Query {
            since,
            by: By::Carrier,
        },
    )
    .unwrap();
    let carriers: Vec<(&str, u64, u64)> = by_carrier
        .iter()
        .map(|r| (r.group.as_str(), r.sent, r.rejected))
        .collect();
    let carrier_name = config.carriers[0].name.as_str();
    assert_eq!(carriers, [("-", 0, 3), (carrier_name, 2, 0)]);
    let by_route = query(
        &*store,
        &Query {
            since,
            by: By::Route,
        },
    )
    .unwrap();
    // Refusals count under the route the message would have taken, not a "-" route.
    let routes: Vec<(&str, u64, u64)> = by_route
        .iter()
        .map(|r| (r.group.as_str(), r.sent, r.rejected))
        .collect();
    assert_eq!(routes, [(config.routes[0].name.as_str(), 2, 3)]);
}
