//! Retries, failover and permanent failures, against in-process simulators.

mod carrier_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use carrier_support::{carrier, config, start, submit_many};
use smppgate::carrier::{Class, FailReason, OutcomeResult};
use smppgate::sim::faults::{DelayRange, parse_error_rate};
use smppgate::sim::{Faults, Sim, SimConfig};
use smppgate_protocol::command_status::CommandStatus;

async fn sim(password: Option<&str>, faults: Faults) -> Sim {
    Sim::start(SimConfig {
        listen: "127.0.0.1:0".to_owned(),
        password: password.map(str::to_owned),
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

fn erroring(status: &str) -> Faults {
    Faults {
        error_rate: parse_error_rate(&format!("{status}=100")).unwrap(),
        ..Faults::default()
    }
}

#[tokio::test]
async fn a_primary_that_refuses_binds_sends_everything_to_the_backup() {
    let primary = sim(Some("other"), Faults::default()).await;
    let backup = sim(None, Faults::default()).await;
    let (carriers, recorder) = start(&config(vec![
        carrier("primary", &primary.local_addr().to_string(), 1_000, 2, 16),
        carrier("backup", &backup.local_addr().to_string(), 1_000, 2, 16),
    ]))
    .await;
    submit_many(&carriers, 0, 200, Class::Notification);
    recorder.wait_for(200, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(200);
    for (_, outcome) in recorder.all() {
        assert_eq!(&*outcome.carrier, "backup");
        assert_eq!(outcome.failovers, 1);
        assert_eq!(outcome.attempts, 1);
    }
    let stats = carriers.stats();
    let p = &stats["carriers"][0];
    println!("primary: {p}");
    assert_eq!(p["binds_up"], 0);
    assert_eq!(p["submits"], 0);
    // One refused bind per slot, then a long back-off: no loop.
    assert_eq!(p["bind_rejections"], 2);
    assert_eq!(p["bind_attempts"], 2);
    assert_eq!(primary.counters().submits.load(Ordering::Relaxed), 0);
    assert_eq!(backup.counters().submits.load(Ordering::Relaxed), 200);
    carriers.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn transient_errors_are_retried_then_fail_over() {
    let primary = sim(None, erroring("ESME_RSYSERR")).await;
    let backup = sim(None, Faults::default()).await;
    let (carriers, recorder) = start(&config(vec![
        carrier("primary", &primary.local_addr().to_string(), 1_000, 1, 16),
        carrier("backup", &backup.local_addr().to_string(), 1_000, 1, 16),
    ]))
    .await;
    submit_many(&carriers, 0, 50, Class::Otp);
    recorder.wait_for(50, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(50);
    for (_, outcome) in recorder.all() {
        assert_eq!(&*outcome.carrier, "backup");
        // max_attempts = 3 on the primary, then one on the backup.
        assert_eq!(outcome.attempts, 4, "{outcome:?}");
        assert_eq!(outcome.failovers, 1);
    }
    assert_eq!(primary.counters().submits.load(Ordering::Relaxed), 150);
    assert_eq!(backup.counters().submits.load(Ordering::Relaxed), 50);
    let stats = carriers.stats();
    assert_eq!(stats["carriers"][0]["retries"], 100);
    assert_eq!(stats["carriers"][0]["failovers"], 50);
    carriers.drain(Duration::from_secs(5)).await;
}

/// A message that fails over to a backup that is down ends on the primary as on a route
/// of one (its attempts there were its last) instead of waiting for the backup: before, it
/// stayed first in the route's retries, which are sent first-come only, and held every
/// retry behind it (and, once the route held its cap, every new message) until the backup
/// came back.
#[tokio::test]
async fn a_backup_that_is_down_holds_no_retry_back() {
    let primary = sim(
        None,
        Faults {
            error_rate: parse_error_rate("ESME_RSYSERR=50").unwrap(),
            ..Faults::default()
        },
    )
    .await;
    // Refuses every bind: down once its first attempt is over.
    let backup = sim(Some("other"), Faults::default()).await;
    let (carriers, recorder) = start(&config(vec![
        carrier("primary", &primary.local_addr().to_string(), 1_000, 1, 16),
        carrier("backup", &backup.local_addr().to_string(), 1_000, 1, 16),
    ]))
    .await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while carriers.stats()["carriers"][1]["bind_rejections"] != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the backup's bind refused");
    submit_many(&carriers, 0, 100, Class::Notification);
    recorder.wait_for(100, Duration::from_secs(10)).await;
    let mut failed = 0;
    for (_, outcome) in recorder.all() {
        assert_eq!(&*outcome.carrier, "primary", "{outcome:?}");
        match outcome.result {
            OutcomeResult::Accepted { .. } => {}
            OutcomeResult::Failed {
                status: CommandStatus::ESME_RSYSERR,
                reason: FailReason::Exhausted,
            } => {
                failed += 1;
                assert_eq!(outcome.attempts, 3, "{outcome:?}");
                assert_eq!(outcome.failovers, 0, "{outcome:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Half the attempts fail: about one message in eight fails three times.
    assert!(failed > 0 && failed < 50, "{failed}");
    assert_eq!(backup.counters().submits.load(Ordering::Relaxed), 0);
    carriers.drain(Duration::from_secs(5)).await;
}

/// A message that went past a primary paused (or down) at the time, and whose last
/// attempt on the backup failed after the primary came back, goes back to the primary
/// instead of failing with a carrier of its route never tried. (Its retries before that
/// already start from the primary; the last failure decided on the backup alone.)
#[tokio::test]
async fn attempts_used_up_on_the_backup_go_back_to_a_primary_up_again() {
    let primary = sim(None, Faults::default()).await;
    let backup = sim(
        None,
        Faults {
            // Time to bring the primary back while the last attempts are out.
            resp_delay: DelayRange::fixed(Duration::from_millis(300)),
            ..erroring("ESME_RSYSERR")
        },
    )
    .await;
    let (carriers, recorder) = start(&config(vec![
        carrier("primary", &primary.local_addr().to_string(), 1_000, 1, 32),
        carrier("backup", &backup.local_addr().to_string(), 1_000, 1, 32),
    ]))
    .await;
    assert_eq!(carriers.set_paused("primary", true), Some(false));
    submit_many(&carriers, 0, 20, Class::Otp);
    tokio::time::timeout(Duration::from_secs(10), async {
        while backup.counters().submits.load(Ordering::Relaxed) < 60 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("each message's third attempt on the backup");
    assert_eq!(
        recorder.count(),
        0,
        "the third attempts are not answered yet"
    );
    assert_eq!(carriers.set_paused("primary", false), Some(true));
    recorder.wait_for(20, Duration::from_secs(10)).await;
    recorder.assert_all_accepted(20);
    for (_, outcome) in recorder.all() {
        assert_eq!(&*outcome.carrier, "primary", "{outcome:?}");
        // Three on the backup, then the primary.
        assert_eq!(outcome.attempts, 4, "{outcome:?}");
    }
    assert_eq!(backup.counters().submits.load(Ordering::Relaxed), 60);
    assert_eq!(primary.counters().submits.load(Ordering::Relaxed), 20);
    assert_eq!(carriers.stats()["carriers"][1]["failovers"], 20);
    carriers.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn transient_errors_everywhere_end_exhausted() {
    let only = sim(None, erroring("ESME_RSYSERR")).await;
    let (carriers, recorder) = start(&config(vec![carrier(
        "only",
        &only.local_addr().to_string(),
        1_000,
        1,
        16,
    )]))
    .await;
    submit_many(&carriers, 0, 10, Class::Otp);
    recorder.wait_for(10, Duration::from_secs(10)).await;
    for (_, outcome) in recorder.all() {
        assert_eq!(
            outcome.result,
            OutcomeResult::Failed {
                status: CommandStatus::ESME_RSYSERR,
                reason: FailReason::Exhausted
            }
        );
        assert_eq!(outcome.attempts, 3);
    }
    carriers.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_permanent_error_is_not_retried() {
    let primary = sim(None, erroring("ESME_RINVDSTADR")).await;
    let backup = sim(None, Faults::default()).await;
    let (carriers, recorder) = start(&config(vec![
        carrier("primary", &primary.local_addr().to_string(), 1_000, 1, 16),
        carrier("backup", &backup.local_addr().to_string(), 1_000, 1, 16),
    ]))
    .await;
    submit_many(&carriers, 0, 20, Class::Notification);
    recorder.wait_for(20, Duration::from_secs(10)).await;
    for (_, outcome) in recorder.all() {
        assert_eq!(
            outcome.result,
            OutcomeResult::Failed {
                status: CommandStatus::ESME_RINVDSTADR,
                reason: FailReason::Permanent
            }
        );
        assert_eq!(outcome.attempts, 1);
        assert_eq!(&*outcome.carrier, "primary");
    }
    assert_eq!(primary.counters().submits.load(Ordering::Relaxed), 20);
    assert_eq!(backup.counters().submits.load(Ordering::Relaxed), 0);
    carriers.drain(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_carrier_override_makes_a_status_permanent() {
    let primary = sim(None, erroring("ESME_RSYSERR")).await;
    let mut only = carrier("only", &primary.local_addr().to_string(), 1_000, 1, 16);
    only.permanent_statuses = vec!["0x08".to_owned()];
    let (carriers, recorder) = start(&config(vec![only])).await;
    submit_many(&carriers, 0, 5, Class::Notification);
    recorder.wait_for(5, Duration::from_secs(10)).await;
    for (_, outcome) in recorder.all() {
        assert!(matches!(
            outcome.result,
            OutcomeResult::Failed {
                reason: FailReason::Permanent,
                ..
            }
        ));
        assert_eq!(outcome.attempts, 1);
    }
    carriers.drain(Duration::from_secs(5)).await;
}
