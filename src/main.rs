fn main() -> std::process::ExitCode {
    rendez::cli::main()
}
