//! Which log lines the server shows, and where they go.
//!
//! * **Where:** every log line goes to standard error, as the fatal errors do: standard
//!   output carries nothing, so `imserver 2>server.log` keeps everything.
//! * **The server's own lines** (`imchat::...`, `imserver`) are shown from `--log-level` up
//!   when it is given, else from the level `RUST_LOG` names (`RUST_LOG=warn`), else from
//!   [`DEFAULT_LEVEL`].
//! * **Other crates' lines** (mio's) are shown from [`OTHER_CRATES_LEVEL`] up (or from the
//!   server's level, if that is quieter), unless `RUST_LOG` names them: `RUST_LOG=mio=trace`.
//! * **`RUST_LOG`'s `module=level` directives** apply to the modules they name, over both
//!   rules above (the longest matching name wins): `RUST_LOG=imchat::server::dispatch=debug`.
//! * **The teaching trace** (`--trace`, target `trace`) is shown whenever it is on, whatever
//!   the levels; it is the only log that may show what clients send.

use log::LevelFilter;

/// The server's own level when neither `--log-level` nor `RUST_LOG` names one: connects,
/// registrations, disconnects and warnings, a line per event a deployer cares about.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::Info;

/// Other crates are shown from this level up unless `RUST_LOG` names them: their debug and
/// trace lines describe their own internals (at trace, mio logs every poll), which drowns
/// the server's.
pub const OTHER_CRATES_LEVEL: LevelFilter = LevelFilter::Warn;

/// The log targets that are this server's own: the library, and the binary.
const OWN_TARGETS: [&str; 2] = ["imchat", "imserver"];

/// The target of the teaching trace (the `trace!` macro of `server/mod.rs`).
pub const TRACE_TARGET: &str = "trace";

/// What `RUST_LOG` says, in the subset of `env_logger`'s syntax the server reads:
/// comma-separated directives, each a level (`warn`) or `module=level` (`mio=trace`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct EnvSpec {
    /// The bare level, if one is given (the last one wins).
    pub level: Option<LevelFilter>,
    /// The `module=level` directives, in order.
    pub modules: Vec<(String, LevelFilter)>,
    /// Directives that are neither, reported once logging has started.
    pub ignored: Vec<String>,
}

impl EnvSpec {
    /// Parses a `RUST_LOG` value. Levels are case-insensitive; `off` is a level.
    pub fn parse(spec: &str) -> EnvSpec {
        let mut env = EnvSpec::default();
        for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match directive.split_once('=') {
                None => match directive.parse() {
                    Ok(level) => env.level = Some(level),
                    Err(_) => env.ignored.push(directive.to_string()),
                },
                Some((module, level)) => match level.trim().parse() {
                    Ok(level) if !module.trim().is_empty() => {
                        env.modules.push((module.trim().to_string(), level))
                    }
                    _ => env.ignored.push(directive.to_string()),
                },
            }
        }
        env
    }
}

/// The levels that follow from the flags and `RUST_LOG`: a default for every target no rule
/// names, and a level per named target.
#[derive(Debug, PartialEq, Eq)]
pub struct Levels {
    pub others: LevelFilter,
    pub targets: Vec<(String, LevelFilter)>,
}

impl Levels {
    /// Combines `--log-level` (if given), `RUST_LOG` and `--trace`, in the order the module
    /// documentation gives.
    pub fn new(flag: Option<LevelFilter>, env: &EnvSpec, trace: bool) -> Levels {
        let own = flag.or(env.level).unwrap_or(DEFAULT_LEVEL);
        let mut levels = Levels {
            others: own.min(OTHER_CRATES_LEVEL),
            targets: Vec::new(),
        };
        for target in OWN_TARGETS {
            levels.set(target, own);
        }
        for (module, level) in &env.modules {
            levels.set(module, *level);
        }
        if trace {
            // The trace is logged at info, and asked for explicitly: shown at any level.
            levels.set(TRACE_TARGET, LevelFilter::Info);
        }
        levels
    }

    /// One level per target: a later rule for the same name replaces the earlier one (the
    /// logger's choice between two equal names would be arbitrary).
    fn set(&mut self, target: &str, level: LevelFilter) {
        match self.targets.iter_mut().find(|(t, _)| t == target) {
            Some(entry) => entry.1 = level,
            None => self.targets.push((target.to_string(), level)),
        }
    }
}

/// Starts logging to standard error with the levels [`Levels::new`] gives for `RUST_LOG`
/// and the flags. Directives of `RUST_LOG` it cannot read are reported as a warning.
pub fn init(flag: Option<LevelFilter>, trace: bool) -> Result<(), log::SetLoggerError> {
    let env = EnvSpec::parse(&std::env::var("RUST_LOG").unwrap_or_default());
    let levels = Levels::new(flag, &env, trace);
    let mut logger = simple_logger::SimpleLogger::new().with_level(levels.others);
    for (target, level) in &levels.targets {
        logger = logger.with_module_level(target, *level);
    }
    logger.init()?;
    if !env.ignored.is_empty() {
        log::warn!(
            "RUST_LOG: ignored {:?} (expected a level, or module=level)",
            env.ignored
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use LevelFilter::{Debug, Error, Info, Off, Trace, Warn};

    fn level_of(levels: &Levels, target: &str) -> LevelFilter {
        levels
            .targets
            .iter()
            .find(|(t, _)| t == target)
            .map_or(levels.others, |(_, level)| *level)
    }

    #[test]
    fn rust_log_reads_levels_modules_and_reports_the_rest() {
        let env = EnvSpec::parse(" WARN ,mio=trace,imchat::server::dispatch=debug,loud,x=y");
        assert_eq!(env.level, Some(Warn));
        assert_eq!(
            env.modules,
            [
                ("mio".to_string(), Trace),
                ("imchat::server::dispatch".to_string(), Debug)
            ]
        );
        assert_eq!(env.ignored, ["loud", "x=y"]);
        assert_eq!(EnvSpec::parse(""), EnvSpec::default());
        assert_eq!(EnvSpec::parse("off").level, Some(Off));
    }

    #[test]
    fn the_flag_wins_over_rust_log_which_wins_over_the_default() {
        let none = EnvSpec::default();
        let warn = EnvSpec::parse("warn");
        assert_eq!(level_of(&Levels::new(None, &none, false), "imchat"), Info);
        assert_eq!(level_of(&Levels::new(None, &warn, false), "imchat"), Warn);
        assert_eq!(level_of(&Levels::new(None, &warn, false), "imserver"), Warn);
        let flagged = Levels::new(Some(Debug), &warn, false);
        assert_eq!(level_of(&flagged, "imchat"), Debug);
        assert_eq!(level_of(&flagged, "imserver"), Debug);
    }

    #[test]
    fn other_crates_stay_at_warn_unless_named_or_quieter() {
        let none = EnvSpec::default();
        assert_eq!(Levels::new(Some(Trace), &none, false).others, Warn);
        assert_eq!(Levels::new(Some(Error), &none, false).others, Error);
        assert_eq!(Levels::new(Some(Off), &none, false).others, Off);
        let named = Levels::new(Some(Trace), &EnvSpec::parse("mio=trace"), false);
        assert_eq!(level_of(&named, "mio"), Trace);
        assert_eq!(named.others, Warn);
    }

    #[test]
    fn modules_named_in_rust_log_apply_over_the_flag() {
        let env = EnvSpec::parse("imchat=error,imchat::server::dispatch=debug");
        let levels = Levels::new(Some(Info), &env, false);
        assert_eq!(level_of(&levels, "imchat"), Error);
        assert_eq!(level_of(&levels, "imchat::server::dispatch"), Debug);
        assert_eq!(
            levels.targets.iter().filter(|(t, _)| t == "imchat").count(),
            1,
            "one level per name"
        );
    }

    #[test]
    fn the_teaching_trace_shows_at_any_level_and_only_when_on() {
        let none = EnvSpec::default();
        assert_eq!(
            level_of(&Levels::new(Some(Off), &none, true), "trace"),
            Info
        );
        assert_eq!(
            level_of(&Levels::new(Some(Off), &none, false), "trace"),
            Off
        );
    }
}
