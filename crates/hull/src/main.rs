//! hull: an OCI container runtime with runc's command line. This binary
//! only parses arguments; `hull-container` does the work.

mod cli;
mod log;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::normalize_args(std::env::args_os());
    if args.len() == 2 && matches!(args[1].to_str(), Some("--version" | "-v")) {
        print!("{}", cli::VERSION_TEXT);
        return ExitCode::SUCCESS;
    }
    let parsed = match cli::parse(args) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match cli::dispatch(parsed) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            log::write("error", &e.to_string());
            ExitCode::from(1)
        }
    }
}
