// mimalloc instead of glibc's malloc: searches and result reads allocate many short-lived
// buffers across threads, where glibc's arenas showed up as a fifth of the server's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rendez::cli::main()
}
