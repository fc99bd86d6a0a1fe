//! [`Link`]: the application's handle on a connection task, and what travels between them.

use bytes::Bytes;
use smppgate_protocol::command_id::CommandId;
use smppgate_protocol::command_status::CommandStatus;
use smppgate_protocol::pdu::{Body, Pdu};
use smppgate_protocol::session::CloseReason;
use tokio::sync::{mpsc, oneshot, watch};

use super::error::RequestError;

/// A request for the connection task, with where to send its outcome.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) body: Body,
    pub(crate) reply: Reply,
}

/// Where the outcome of a request goes.
#[derive(Debug)]
pub(crate) enum Reply {
    /// To the one caller awaiting it ([`Link::request`]).
    Once(oneshot::Sender<Result<Response, RequestError>>),
    /// Onto a channel shared by many requests, with a tag ([`Link::try_request_tagged`]).
    Tagged(TaggedReply),
}

impl Reply {
    /// Whether nobody waits for the outcome any more.
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Self::Once(sender) => sender.is_closed(),
            Self::Tagged(_) => false,
        }
    }

    /// Delivers the outcome (a gone receiver is not an error: nobody wants it).
    pub(crate) fn send(self, result: Result<Response, RequestError>) {
        match self {
            Self::Once(sender) => {
                let _ = sender.send(result);
            }
            Self::Tagged(tagged) => tagged.send(result),
        }
    }
}

/// The outcome of a request sent with [`Link::try_request_tagged`].
#[derive(Debug)]
pub(crate) struct Tagged {
    /// The caller's tag.
    pub(crate) tag: u64,
    /// The response, or why there is none.
    pub(crate) result: Result<Response, RequestError>,
}

/// A tagged request's reply: a slot reserved on the outcome channel, so delivering the
/// outcome never waits and never fails. Dropped unsent (the task went away without
/// answering) it sends [`RequestError::Closed`]: every tagged request gets one outcome.
#[derive(Debug)]
pub(crate) struct TaggedReply {
    tag: u64,
    permit: Option<mpsc::OwnedPermit<Tagged>>,
}

impl TaggedReply {
    fn send(mut self, result: Result<Response, RequestError>) {
        if let Some(permit) = self.permit.take() {
            permit.send(Tagged {
                tag: self.tag,
                result,
            });
        }
    }
}

impl Drop for TaggedReply {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            permit.send(Tagged {
                tag: self.tag,
                result: Err(RequestError::Closed),
            });
        }
    }
}

/// Why [`Link::try_request_tagged`] did not take a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryRequestError {
    /// As many requests wait for the window as the queue holds: try again later.
    Full,
    /// The connection is closed.
    Closed,
}

/// Where [`Link::try_request`]'s response arrives.
pub(crate) type PendingResponse = oneshot::Receiver<Result<Response, RequestError>>;

/// Asks the connection task to end the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// Graceful: unbind, drain, close.
    Unbind,
    /// At once, without unbind.
    Close,
}

/// The application's answer to a request the peer sent.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) sequence_number: u32,
    pub(crate) status: CommandStatus,
    pub(crate) body: Body,
}

/// Where a connection is, as its handles see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Connected, not bound yet.
    Opening,
    /// Bound.
    Bound,
    /// The session closed (the connection is being or has been dropped).
    Closed(CloseReason),
}

/// The response to one of our requests. Any status: check [`Response::status`]. A
/// throttled request (`ESME_RTHROTTLED`, `ESME_RMSGQFUL`) comes back as a response with
/// that status and an empty body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The response PDU (generic_nack possible).
    pub pdu: Pdu,
}

impl Response {
    /// command_status.
    #[must_use]
    pub fn status(&self) -> CommandStatus {
        self.pdu.command_status
    }

    /// Whether the status is `ESME_ROK`.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.pdu.command_status.is_ok()
    }

    /// Whether the peer throttled the request (`ESME_RTHROTTLED` or `ESME_RMSGQFUL`).
    #[must_use]
    pub fn is_throttled(&self) -> bool {
        self.pdu.command_status.is_throttle()
    }

    /// The request's sequence_number.
    #[must_use]
    pub fn sequence_number(&self) -> u32 {
        self.pdu.sequence_number
    }

    /// The message_id of a submit_sm / data_sm / deliver_sm / submit_multi / query_sm
    /// response (empty when the response carries none).
    #[must_use]
    pub fn message_id(&self) -> Option<&Bytes> {
        match &self.pdu.body {
            Body::SubmitSmResp(r) | Body::DataSmResp(r) | Body::DeliverSmResp(r) => {
                Some(&r.message_id)
            }
            Body::SubmitMultiResp(r) => Some(&r.message_id),
            Body::QuerySmResp(r) => Some(&r.message_id),
            _ => None,
        }
    }
}

/// A cloneable handle on a connection task: send requests through its window, unbind,
/// close, watch its state. Dropping every handle (and, for an ESME, the [`Inbound`]
/// receiver's responders) makes the task unbind.
///
/// [`Inbound`]: crate::esme::Inbound
#[derive(Debug, Clone)]
pub struct Link {
    pub(crate) requests: mpsc::Sender<Request>,
    pub(crate) control: mpsc::Sender<Control>,
    pub(crate) state: watch::Receiver<LinkState>,
}

impl Link {
    /// Sends a request (submit_sm, deliver_sm, data_sm, query_sm, …) and waits for its
    /// response. Waits first for room in the session's window: at most `window_size`
    /// requests are ever outstanding; the rest wait here (bounded channel, no growth).
    ///
    /// # Errors
    /// [`RequestError`]: closed before sending, aborted by a lost connection, response
    /// timeout, refused by the session (e.g. submit_sm on a receiver bind), unencodable.
    pub async fn request(&self, body: Body) -> Result<Response, RequestError> {
        let (reply, response) = oneshot::channel();
        self.requests
            .send(Request {
                body,
                reply: Reply::Once(reply),
            })
            .await
            .map_err(|_| RequestError::Closed)?;
        // A dropped reply means the task went away without answering: it was not sent.
        response.await.unwrap_or(Err(RequestError::Closed))
    }

    /// Sends a request without waiting for anything: its outcome arrives later on the
    /// channel `permit` holds a slot of, with `tag`; one sender can keep as many requests
    /// in flight, on as many connections, as that channel has room for (no future, no
    /// oneshot per request). Refused at once, the slot given back, when the requests
    /// waiting for this connection's window fill its queue, or when it is closed.
    pub(crate) fn try_request_tagged(
        &self,
        body: Body,
        tag: u64,
        permit: mpsc::OwnedPermit<Tagged>,
    ) -> Result<(), TryRequestError> {
        let request = Request {
            body,
            reply: Reply::Tagged(TaggedReply {
                tag,
                permit: Some(permit),
            }),
        };
        let (error, request) = match self.requests.try_send(request) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Full(request)) => (TryRequestError::Full, request),
            Err(mpsc::error::TrySendError::Closed(request)) => (TryRequestError::Closed, request),
        };
        if let Reply::Tagged(mut tagged) = request.reply {
            // Not taken: no outcome will follow, the caller knows already.
            drop(tagged.permit.take());
        }
        Err(error)
    }

    /// Hands a request to the connection task without waiting: for a caller that keeps
    /// its own count of outstanding requests within the window (the carrier pool), so
    /// the channel always has room. The receiver gets the response; a dropped sender
    /// means the task went away without sending it (treat as [`RequestError::Closed`]).
    /// `None` when the channel is full or the task is gone: nothing was sent.
    pub(crate) fn try_request(&self, body: Body) -> Option<PendingResponse> {
        let (reply, response) = oneshot::channel();
        self.requests
            .try_send(Request {
                body,
                reply: Reply::Once(reply),
            })
            .ok()
            .map(|()| response)
    }

    /// Starts a graceful unbind and waits until the connection is closed. Requests
    /// already sent get their responses first (up to the unbind timeout); requests still
    /// waiting for window space fail with [`RequestError::Closed`].
    pub async fn unbind(&self) -> CloseReason {
        let _ = self.control.send(Control::Unbind).await;
        self.closed().await
    }

    /// Closes at once, without unbind; outstanding requests fail with
    /// [`RequestError::Aborted`].
    pub async fn close(&self) -> CloseReason {
        let _ = self.control.send(Control::Close).await;
        self.closed().await
    }

    /// Waits until the session is closed and returns why.
    pub async fn closed(&self) -> CloseReason {
        let mut state = self.state.clone();
        let closed = state
            .wait_for(|s| matches!(s, LinkState::Closed(_)))
            .await
            .map(|s| *s);
        match closed {
            Ok(LinkState::Closed(reason)) => reason,
            // The task ended without saying why: its connection is gone.
            _ => CloseReason::ConnectionLost,
        }
    }

    /// Requests waiting for window space (sent to the connection task, not yet taken):
    /// at most the channel's capacity, which is the window size (capped at 4096).
    #[must_use]
    pub fn queued(&self) -> usize {
        self.requests.max_capacity() - self.requests.capacity()
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> LinkState {
        *self.state.borrow()
    }

    /// Whether the session is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state(), LinkState::Closed(_))
    }
}

/// A request from the peer (deliver_sm, data_sm, alert_notification, …) handed to the
/// application. When the connection answers automatically it has already been answered
/// with `ESME_ROK`; otherwise answer it with [`InboundRequest::respond`] (dropping it
/// unanswered sends `ESME_RX_T_APPN`, a temporary error the peer retries).
#[derive(Debug)]
pub struct InboundRequest {
    /// The request.
    pub pdu: Pdu,
    pub(crate) responder: Option<Responder>,
}

#[derive(Debug)]
pub(crate) struct Responder {
    pub(crate) request: CommandId,
    pub(crate) answers: mpsc::Sender<Answer>,
}

impl InboundRequest {
    /// Whether the application still has to answer it.
    #[must_use]
    pub fn needs_response(&self) -> bool {
        self.responder.is_some()
    }

    /// Answers the request with `status` and `body` (its `_resp`); does nothing when it
    /// was answered automatically. `body` `None` sends the empty `_resp` (what an error
    /// status carries, and a deliver_sm_resp's usual NULL message_id).
    pub async fn respond(mut self, status: CommandStatus, body: Option<Body>) {
        if let Some(responder) = self.responder.take() {
            let body = body.unwrap_or_else(|| empty_response(responder.request));
            let _ = responder
                .answers
                .send(Answer {
                    sequence_number: self.pdu.sequence_number,
                    status,
                    body,
                })
                .await;
        }
    }
}

impl Drop for InboundRequest {
    fn drop(&mut self) {
        if let Some(responder) = self.responder.take() {
            // Best effort: if the channel is full the session answers at its unbind
            // deadline or the peer times out; either way nothing grows.
            let _ = responder.answers.try_send(Answer {
                sequence_number: self.pdu.sequence_number,
                status: CommandStatus::ESME_RX_T_APPN,
                body: empty_response(responder.request),
            });
        }
    }
}

/// The empty `_resp` body of a request.
pub(crate) fn empty_response(request: CommandId) -> Body {
    Body::empty(request.response().unwrap_or(CommandId::GenericNack))
}
