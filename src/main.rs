fn main() -> std::process::ExitCode {
    baton_cognito::cli::run()
}
