//! The `smppgate` binary: a thin shell over [`smppgate::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    smppgate::cli::main()
}
