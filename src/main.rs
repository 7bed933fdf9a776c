/// mimalloc rather than the system allocator: glibc keeps memory freed by the runtime's worker
/// threads in per-thread arenas, which on a million-user sync held about half the peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    baton_cognito::cli::run()
}
