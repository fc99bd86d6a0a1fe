//! The dispatch work queue of a `[cluster]` store: per route a queue of the messages
//! waiting for a carrier, that every node with binds to the route's carriers pulls from
//! (docs/cluster.md "Dispatch", docs/adr/0008-cluster-backend.md, fifth slice).
//!
//! A message is queued when it is stored ready to go ([`super::Op::Insert`] of a record
//! with a part `Accepted`: the queue item is part of the acknowledged commit) or when it
//! becomes ready later ([`WorkQueue::enqueue`]: released from review, its parts all
//! arrived, a sweep after a restart). A queue holds **at most one item per message**: a
//! second enqueue of a message still queued or held by a node is a no-op, so a sweep may
//! queue whatever it finds pending without sending anything twice.
//!
//! The node that pulled an item answers it only once the message's outcome is recorded
//! ([`Settle::Done`]); until then it extends its hold ([`Settle::Working`]). An item a
//! node took and never answered (the node died) goes to another node after `ack_wait`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::StoreError;
use crate::config::Class;

/// One delivery of a queued message to this node.
#[derive(Debug)]
pub struct Work {
    /// The message.
    pub id: u64,
    /// The route whose queue it came from.
    pub route: Arc<str>,
    /// Its class (each class of a route is pulled on its own: OTP is not behind marketing).
    pub class: Class,
    /// How many times the queue has delivered it (more than 1: a node before this one
    /// took it and did not answer, or it was put back).
    pub delivered: u64,
    /// Whether a node may have sent it since it was queued: a redelivery, or an item a
    /// sweep queued (it read the message pending, and a node may have sent it and
    /// answered its item before the sweep's item was queued). Such a message is read
    /// from the stored record, not from a node's own copy. A first delivery of an item
    /// queued with the message's insert can only be the first time any node has it.
    pub verify: bool,
    /// What answers this delivery.
    pub token: WorkToken,
}

/// Answers one delivery (opaque: the queue's reply address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkToken(pub(crate) Arc<str>);

impl WorkToken {
    /// A token for tests and fakes.
    #[must_use]
    pub fn new(text: &str) -> Self {
        Self(Arc::from(text))
    }
}

/// An answer to a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The message's outcome is recorded (or it has nothing left to send): off the queue.
    Done,
    /// Not now: the queue hands it out again (to any node) after this long.
    Later(Duration),
    /// Still with the carrier: hold it for another `ack_wait`.
    Working,
}

/// Room for more work of one (route, class) on this node: how many messages to pull
/// now (0: none; the node has no live bind to the route's carriers, or its lane is full).
pub type Room = Arc<dyn Fn() -> usize + Send + Sync>;

/// A message to queue: its route, its class, its id.
pub type QueueItem = (Arc<str>, Class, u64);

/// The dispatch work queue (see the module).
pub trait WorkQueue: Send + Sync {
    /// Pulls the messages of (`route`, `class`) into `into` while `room` says there is
    /// room, until `cancel` (a task on the store's runtime; pull errors are logged and
    /// tried again).
    fn follow(
        &self,
        route: Arc<str>,
        class: Class,
        room: Room,
        into: mpsc::Sender<Work>,
        cancel: CancellationToken,
    );

    /// Queues each (route, class, id) that is not queued already. Blocking.
    ///
    /// # Errors
    /// The queue did not take them (nothing is lost: the messages are pending in the store
    /// and the next sweep queues them).
    fn enqueue(&self, items: &[QueueItem]) -> Result<(), StoreError>;

    /// Answers deliveries (without waiting: an answer that is lost is a redelivery after
    /// `ack_wait`, which finds the outcome recorded).
    fn settle(&self, answers: Vec<(WorkToken, Settle)>);

    /// Opens (creates when missing) the queues of `routes`, before the gateway takes
    /// messages. Blocking.
    ///
    /// # Errors
    /// The servers did not create them in time.
    fn open(&self, routes: &[Arc<str>]) -> Result<(), StoreError>;

    /// How long a delivery is held without an answer.
    fn ack_wait(&self) -> Duration;
}
