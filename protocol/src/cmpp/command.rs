//! Command ids (CMPP 3.0 §7.4.2) and which side may send each.

/// The CMPP operations this codec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandId {
    /// CMPP_CONNECT.
    Connect,
    /// CMPP_CONNECT_RESP.
    ConnectResp,
    /// CMPP_TERMINATE.
    Terminate,
    /// CMPP_TERMINATE_RESP.
    TerminateResp,
    /// CMPP_SUBMIT.
    Submit,
    /// CMPP_SUBMIT_RESP.
    SubmitResp,
    /// CMPP_DELIVER.
    Deliver,
    /// CMPP_DELIVER_RESP.
    DeliverResp,
    /// CMPP_QUERY.
    Query,
    /// CMPP_QUERY_RESP.
    QueryResp,
    /// CMPP_CANCEL.
    Cancel,
    /// CMPP_CANCEL_RESP.
    CancelResp,
    /// CMPP_ACTIVE_TEST.
    ActiveTest,
    /// CMPP_ACTIVE_TEST_RESP.
    ActiveTestResp,
}

/// Who may send a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The SP (our side as a client).
    Sp,
    /// The ISMG (the carrier).
    Ismg,
    /// Either side.
    Either,
}

const RESPONSE_BIT: u32 = 0x8000_0000;

impl CommandId {
    /// Every command, requests and responses.
    pub const ALL: [Self; 14] = [
        Self::Connect,
        Self::ConnectResp,
        Self::Terminate,
        Self::TerminateResp,
        Self::Submit,
        Self::SubmitResp,
        Self::Deliver,
        Self::DeliverResp,
        Self::Query,
        Self::QueryResp,
        Self::Cancel,
        Self::CancelResp,
        Self::ActiveTest,
        Self::ActiveTestResp,
    ];

    /// The wire value.
    #[must_use]
    pub const fn to_u32(self) -> u32 {
        match self {
            Self::Connect => 0x0000_0001,
            Self::Terminate => 0x0000_0002,
            Self::Submit => 0x0000_0004,
            Self::Deliver => 0x0000_0005,
            Self::Query => 0x0000_0006,
            Self::Cancel => 0x0000_0007,
            Self::ActiveTest => 0x0000_0008,
            Self::ConnectResp => 0x8000_0001,
            Self::TerminateResp => 0x8000_0002,
            Self::SubmitResp => 0x8000_0004,
            Self::DeliverResp => 0x8000_0005,
            Self::QueryResp => 0x8000_0006,
            Self::CancelResp => 0x8000_0007,
            Self::ActiveTestResp => 0x8000_0008,
        }
    }

    /// The command for a wire value.
    #[must_use]
    pub fn from_u32(value: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.to_u32() == value)
    }

    /// Spec name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "CMPP_CONNECT",
            Self::ConnectResp => "CMPP_CONNECT_RESP",
            Self::Terminate => "CMPP_TERMINATE",
            Self::TerminateResp => "CMPP_TERMINATE_RESP",
            Self::Submit => "CMPP_SUBMIT",
            Self::SubmitResp => "CMPP_SUBMIT_RESP",
            Self::Deliver => "CMPP_DELIVER",
            Self::DeliverResp => "CMPP_DELIVER_RESP",
            Self::Query => "CMPP_QUERY",
            Self::QueryResp => "CMPP_QUERY_RESP",
            Self::Cancel => "CMPP_CANCEL",
            Self::CancelResp => "CMPP_CANCEL_RESP",
            Self::ActiveTest => "CMPP_ACTIVE_TEST",
            Self::ActiveTestResp => "CMPP_ACTIVE_TEST_RESP",
        }
    }

    /// A response?
    #[must_use]
    pub const fn is_response(self) -> bool {
        self.to_u32() & RESPONSE_BIT != 0
    }

    /// Who may send it: the SP connects, submits, queries and cancels; the ISMG delivers;
    /// either side may test the link or terminate it. A response goes the other way.
    #[must_use]
    pub const fn sender(self) -> Sender {
        match self {
            Self::Connect | Self::Submit | Self::Query | Self::Cancel | Self::DeliverResp => {
                Sender::Sp
            }
            Self::ConnectResp
            | Self::SubmitResp
            | Self::QueryResp
            | Self::CancelResp
            | Self::Deliver => Sender::Ismg,
            Self::Terminate | Self::TerminateResp | Self::ActiveTest | Self::ActiveTestResp => {
                Sender::Either
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_responses_set_the_top_bit() {
        for command in CommandId::ALL {
            assert_eq!(CommandId::from_u32(command.to_u32()), Some(command));
            assert_eq!(command.is_response(), command.name().ends_with("_RESP"));
        }
        assert_eq!(CommandId::from_u32(3), None);
    }
}
