//! RequestIDs (SMGP 3.0 §4.2) and which side may send each.

/// The SMGP operations this codec knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandId {
    /// Login.
    Login,
    /// Login_Resp.
    LoginResp,
    /// Submit.
    Submit,
    /// Submit_Resp.
    SubmitResp,
    /// Deliver.
    Deliver,
    /// Deliver_Resp.
    DeliverResp,
    /// Active_Test.
    ActiveTest,
    /// Active_Test_Resp.
    ActiveTestResp,
    /// Exit.
    Exit,
    /// Exit_Resp.
    ExitResp,
}

/// Who may send a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The SP.
    Sp,
    /// The gateway (SMGW).
    Gateway,
    /// Either side.
    Either,
}

impl CommandId {
    /// Every command.
    pub const ALL: [Self; 10] = [
        Self::Login,
        Self::LoginResp,
        Self::Submit,
        Self::SubmitResp,
        Self::Deliver,
        Self::DeliverResp,
        Self::ActiveTest,
        Self::ActiveTestResp,
        Self::Exit,
        Self::ExitResp,
    ];

    /// The wire value.
    #[must_use]
    pub const fn to_u32(self) -> u32 {
        match self {
            Self::Login => 0x0000_0001,
            Self::Submit => 0x0000_0002,
            Self::Deliver => 0x0000_0003,
            Self::ActiveTest => 0x0000_0004,
            Self::Exit => 0x0000_0006,
            Self::LoginResp => 0x8000_0001,
            Self::SubmitResp => 0x8000_0002,
            Self::DeliverResp => 0x8000_0003,
            Self::ActiveTestResp => 0x8000_0004,
            Self::ExitResp => 0x8000_0006,
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
            Self::Login => "Login",
            Self::LoginResp => "Login_Resp",
            Self::Submit => "Submit",
            Self::SubmitResp => "Submit_Resp",
            Self::Deliver => "Deliver",
            Self::DeliverResp => "Deliver_Resp",
            Self::ActiveTest => "Active_Test",
            Self::ActiveTestResp => "Active_Test_Resp",
            Self::Exit => "Exit",
            Self::ExitResp => "Exit_Resp",
        }
    }

    /// A response?
    #[must_use]
    pub const fn is_response(self) -> bool {
        self.to_u32() & 0x8000_0000 != 0
    }

    /// Who may send it.
    #[must_use]
    pub const fn sender(self) -> Sender {
        match self {
            Self::Login | Self::Submit | Self::DeliverResp => Sender::Sp,
            Self::LoginResp | Self::SubmitResp | Self::Deliver => Sender::Gateway,
            Self::ActiveTest | Self::ActiveTestResp | Self::Exit | Self::ExitResp => Sender::Either,
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
        assert_eq!(CommandId::from_u32(5), None);
    }
}
