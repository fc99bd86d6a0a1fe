//! Mobile-originated traffic (`--mo-rate`): deliver_sm (esm_class 0) to bound receivers,
//! from a small set of subscriber numbers, cycling through short and long texts in GSM
//! 7-bit and UCS-2, opt-out replies among them; long ones split with a concatenation UDH.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smppgate_protocol::pdu::DeliverSm;
use smppgate_protocol::text::{ReferenceGenerator, SplitOptions, split};
use smppgate_protocol::types::{Address, DataCoding, EsmClass};
use tokio::sync::Semaphore;

use super::counters::{Counters, bump};
use crate::smsc::Registry;

/// The texts, in the order they are sent (then again).
const TEXTS: &[&str] = &[
    "Hello, is this the pizza place?",
    "TD",
    "Yes please",
    "STOP",
    "退订",
    "T",
    "This is a long mobile-originated message written in the GSM 7-bit default alphabet \
     which does not fit in one hundred and sixty septets, so the network sends it in two \
     parts with a concatenation header.",
    "这是一条很长的上行短信，用于测试UCS-2编码的长短信分段功能。因为UCS-2每条短信最多七十个字符，\
     所以这条消息需要被拆分成两条或更多的短信，每条都带有一个拼接报头。",
];

/// Subscribers the messages come from.
const NUMBERS: &[&str] = &["8613800138000", "8613900139000", "15550100", "447700900123"];

/// MO messages being delivered at once, at most.
const IN_FLIGHT: usize = 1024;

pub(crate) async fn run(rate: u32, registry: Arc<Registry>, counters: Arc<Counters>) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut references = ReferenceGenerator::new(fastrand::u16(..));
    let mut next = 0usize;
    loop {
        tick.tick().await;
        let receivers: Vec<_> = registry
            .all()
            .into_iter()
            .filter(|h| h.info().can_receive() && !h.link().is_closed())
            .collect();
        if receivers.is_empty() {
            continue;
        }
        let session = receivers[fastrand::usize(..receivers.len())].clone();
        let text = TEXTS[next % TEXTS.len()];
        next += 1;
        let Ok(message) = split(text, &SplitOptions::default(), &mut references) else {
            continue;
        };
        let from = Address::international(NUMBERS[fastrand::usize(..NUMBERS.len())]);
        let parts: Vec<DeliverSm> = message
            .parts
            .iter()
            .map(|part| DeliverSm {
                source_addr: from.clone(),
                destination_addr: Address::international("10086"),
                esm_class: EsmClass(part.esm_class_flags()),
                data_coding: DataCoding(message.data_coding),
                short_message: Bytes::from(part.user_data()),
                ..DeliverSm::default()
            })
            .collect();
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            return;
        };
        let counters = Arc::clone(&counters);
        tokio::spawn(async move {
            for part in parts {
                if session.deliver(part).await.is_err() {
                    break;
                }
                bump(&counters.mo_sent);
            }
            drop(permit);
        });
    }
}
