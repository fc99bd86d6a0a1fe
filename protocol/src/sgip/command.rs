//! Command IDs (SGIP 1.2 §4.2.2) and which side may send each.

/// The SGIP operations this codec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandId {
    /// Bind.
    Bind,
    /// Bind_Resp.
    BindResp,
    /// Unbind.
    Unbind,
    /// Unbind_Resp.
    UnbindResp,
    /// Submit.
    Submit,
    /// Submit_Resp.
    SubmitResp,
    /// Deliver.
    Deliver,
    /// Deliver_Resp.
    DeliverResp,
    /// Report.
    Report,
    /// Report_Resp.
    ReportResp,
}

/// Who may send a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The SP.
    Sp,
    /// The SMG.
    Smg,
    /// Either side (each binds on the connection it opens).
    Either,
}

impl CommandId {
    /// Every command.
    pub const ALL: [Self; 10] = [
        Self::Bind,
        Self::BindResp,
        Self::Unbind,
        Self::UnbindResp,
        Self::Submit,
        Self::SubmitResp,
        Self::Deliver,
        Self::DeliverResp,
        Self::Report,
        Self::ReportResp,
    ];

    /// The wire value.
    #[must_use]
    pub const fn to_u32(self) -> u32 {
        match self {
            Self::Bind => 0x0000_0001,
            Self::Unbind => 0x0000_0002,
            Self::Submit => 0x0000_0003,
            Self::Deliver => 0x0000_0004,
            Self::Report => 0x0000_0005,
            Self::BindResp => 0x8000_0001,
            Self::UnbindResp => 0x8000_0002,
            Self::SubmitResp => 0x8000_0003,
            Self::DeliverResp => 0x8000_0004,
            Self::ReportResp => 0x8000_0005,
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
            Self::Bind => "Bind",
            Self::BindResp => "Bind_Resp",
            Self::Unbind => "Unbind",
            Self::UnbindResp => "Unbind_Resp",
            Self::Submit => "Submit",
            Self::SubmitResp => "Submit_Resp",
            Self::Deliver => "Deliver",
            Self::DeliverResp => "Deliver_Resp",
            Self::Report => "Report",
            Self::ReportResp => "Report_Resp",
        }
    }

    /// A response?
    #[must_use]
    pub const fn is_response(self) -> bool {
        self.to_u32() & 0x8000_0000 != 0
    }

    /// Who may send it: the SP submits, the SMG delivers and reports; whoever opened the
    /// connection binds and unbinds.
    #[must_use]
    pub const fn sender(self) -> Sender {
        match self {
            Self::Submit | Self::DeliverResp | Self::ReportResp => Sender::Sp,
            Self::SubmitResp | Self::Deliver | Self::Report => Sender::Smg,
            Self::Bind | Self::BindResp | Self::Unbind | Self::UnbindResp => Sender::Either,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for command in CommandId::ALL {
            assert_eq!(CommandId::from_u32(command.to_u32()), Some(command));
            assert_eq!(command.is_response(), command.name().ends_with("_Resp"));
        }
        assert_eq!(CommandId::from_u32(0x1000), None);
    }
}
