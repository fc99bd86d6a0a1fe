//! The OTP lane end to end through a real `smppgate serve`: a campaign of 5 000 marketing
//! messages from one account is queued on a slow route (its carrier takes 200 a second),
//! then OTP messages from another account go to the same route. The carrier must see the
//! OTPs ahead of what is left of the campaign: the messages the carrier got between the
//! OTPs' acknowledgement and the last OTP are at most what was already in flight, not
//! the queue. Counts, no clock: the bound is in messages.

mod support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use smppgate::esme::{EsmeClient, EsmeConfig};
use smppgate::smsc::{ServerConfig, SmscServer};
use smppgate_protocol::pdu::SubmitSm;
use smppgate_protocol::types::Address;
use support::arrivals::Arrivals;
use support::{one_carrier_route, serve, within, write_gateway_config};

const CAMPAIGN: usize = 5_000;
const OTP: usize = 20;
const CARRIER_TPS: usize = 200;
const CARRIER_WINDOW: usize = 16;
/// Marketing that may still reach the carrier after the OTPs were acknowledged and before
/// the last of them: the carrier's window, what the pool had handed to the bind, and
/// the rate limiter's burst.
const IN_FLIGHT: usize = 3 * CARRIER_WINDOW + 20;

fn message(text: String) -> SubmitSm {
    SubmitSm {
        source_addr: Address::international("10690000"),
        destination_addr: Address::international("8613800138000"),
        short_message: Bytes::from(text),
        ..SubmitSm::default()
    }
}

async fn bind(addr: &str, account: &str) -> EsmeClient {
    let mut config = EsmeConfig::new(account, "pw");
    config.window = 256;
    within("bind", EsmeClient::connect(addr, config))
        .await
        .expect("bind")
        .0
}

fn marketing_seen(carrier: &Arrivals) -> usize {
    (0..CAMPAIGN)
        .filter(|n| carrier.count(format!("m-{n}").as_bytes()) > 0)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otp_from_another_account_overtakes_a_queued_campaign_through_serve() {
    let carrier = Arc::new(Arrivals::default());
    let server = SmscServer::bind("127.0.0.1:0", ServerConfig::default(), Arc::clone(&carrier))
        .await
        .expect("carrier");
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = r#"
[[account]]
system_id = "shop"
password = "pw"
class = "marketing"
window = 256

[[account]]
system_id = "bank"
password = "pw"
class = "otp"
"#;
    let carrier_lines = format!("binds = 1\nwindow = {CARRIER_WINDOW}\ntps = {CARRIER_TPS}");
    let rest = accounts.to_owned()
        + &one_carrier_route("slow", &server.local_addr().to_string(), &carrier_lines);
    let config = write_gateway_config(dir.path(), &rest);
    let (gateway, addr) = serve(&config);
    let addr = addr.to_string();
    let shop = bind(&addr, "shop").await;
    let acked: usize = futures::stream::iter((0..CAMPAIGN).map(|n| {
        let shop = shop.clone();
        async move {
            let response = shop
                .submit(message(format!("m-{n}")))
                .await
                .expect("submit");
            assert!(response.is_ok(), "m-{n}: {}", response.status());
            1
        }
    }))
    .buffer_unordered(128)
    .fold(0, |sum, one| async move { sum + one })
    .await;
    assert_eq!(acked, CAMPAIGN);

    let bank = bind(&addr, "bank").await;
    for n in 0..OTP {
        let response = within("otp", bank.submit(message(format!("otp-{n}"))))
            .await
            .expect("submit");
        assert!(response.is_ok(), "{}", response.status());
    }
    let before = marketing_seen(&carrier);
    assert!(
        before < CAMPAIGN / 2,
        "the machine was too slow to queue the campaign ({before} of it sent already)"
    );
    let otps: Vec<String> = (0..OTP).map(|n| format!("otp-{n}")).collect();
    let otp_texts: Vec<&[u8]> = otps.iter().map(String::as_bytes).collect();
    carrier.wait_for(&otp_texts).await;
    let (_, last_otp) = (0..OTP)
        .filter_map(|n| carrier.arrived(format!("otp-{n}").as_bytes()))
        .max_by_key(|(_, at)| *at)
        .expect("otp");
    let ahead = (0..CAMPAIGN)
        .filter(|n| {
            carrier
                .arrived(format!("m-{n}").as_bytes())
                .is_some_and(|(_, at)| at <= last_otp)
        })
        .count();
    eprintln!(
        "marketing at the carrier: {before} when the OTPs were acknowledged, {ahead} before the last OTP"
    );
    assert!(
        ahead <= before + IN_FLIGHT,
        "{ahead} marketing reached the carrier before the last OTP ({before} when the OTPs \
         were acknowledged)"
    );
    assert!(ahead < CAMPAIGN, "the whole campaign went before the OTPs");
    for n in 0..OTP {
        assert_eq!(carrier.count(format!("otp-{n}").as_bytes()), 1, "otp-{n}");
    }
    shop.unbind().await;
    bank.unbind().await;
    gateway.terminate();
    let finished = gateway.finish(Duration::from_secs(30));
    assert!(finished.status.success(), "{finished:?}");
}
