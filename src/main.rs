//! The `smppgate` binary: a thin shell over [`smppgate::cli`].
#![forbid(unsafe_code)]

/// mimalloc instead of the system allocator: the gateway allocates and frees small
/// buffers on several threads per message, where glibc's malloc spent a third of the
/// process's CPU (docs/adr/0003-allocator.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    smppgate::cli::main()
}
