//! Counters a session keeps for metrics and for tests (what went wrong, and how often).

/// Running totals for one session. Plain counters: read them with [`crate::session::Session::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// PDUs handed to the session by `handle_pdu`.
    pub pdus_received: u64,
    /// PDUs handed out by `poll_transmit`.
    pub pdus_sent: u64,
    /// Application requests registered in the window and queued.
    pub requests_sent: u64,
    /// Responses matched to one of our requests (any status).
    pub responses_matched: u64,
    /// Requests received from the peer and given to the application.
    pub requests_received: u64,
    /// Requests from the peer answered with an error because they are not allowed in this
    /// state or from this side (`ESME_RINVBNDSTS`, `ESME_RALYBND`).
    pub illegal_requests_answered: u64,
    /// Requests with an unknown command_id (answered with generic_nack `ESME_RINVCMDID`).
    pub unknown_commands: u64,
    /// Frames the codec could not decode (`handle_decode_error`).
    pub decode_errors: u64,
    /// Responses that matched no outstanding request: dropped, never nacked.
    pub unknown_responses: u64,
    /// Our requests that got no response in time.
    pub response_timeouts: u64,
    /// Responses with `ESME_RTHROTTLED` or `ESME_RMSGQFUL`.
    pub throttled: u64,
    /// generic_nack PDUs we sent.
    pub generic_nacks_sent: u64,
    /// generic_nack PDUs we received.
    pub generic_nacks_received: u64,
    /// Requests refused because the peer had `max_owed_responses` unanswered already.
    pub peer_window_overruns: u64,
    /// enquire_link PDUs the session sent on its own (idle timer).
    pub enquire_links_sent: u64,
    /// enquire_link PDUs from the peer that the session answered.
    pub enquire_links_answered: u64,
    /// Our requests still outstanding when the session closed (each reported as an event).
    pub requests_aborted: u64,
    /// Requests from the peer still unanswered when unbind_resp had to go out anyway.
    pub responses_abandoned: u64,
    /// PDUs that arrived after the session closed (ignored).
    pub received_after_close: u64,
    /// enquire_link and unbind from the peer ignored because the session is muted.
    pub requests_ignored: u64,
    /// Responses dropped unsent because the session is muted.
    pub responses_withheld: u64,
}
