//! Command lines of the examples: clap's parsing, with the usage printed after any error.

use clap::Parser;

/// Parses the command line. `--help` prints the help on stdout and exits 0; anything wrong
/// prints one line saying what (`echo: invalid value ...`), then the usage line, on stderr,
/// and exits 2. clap's own report of a bad value names no usage, and a reader of the
/// examples should not have to ask for `--help` to learn what to type.
pub fn parse_or_usage<T: Parser>() -> T {
    T::try_parse().unwrap_or_else(|e| {
        if !e.use_stderr() {
            let _ = e.print();
            std::process::exit(0);
        }
        let mut command = T::command();
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        eprintln!(
            "{}: {}",
            command.get_name(),
            first.trim_start_matches("error: ")
        );
        eprintln!("{}", command.render_usage());
        std::process::exit(2);
    })
}
