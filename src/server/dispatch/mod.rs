//! Table-based dispatch (the course's "table-based dispatch" idiom, seed 004).
//!
//! Each row of [`COMMANDS`] says what a command is called, whether the sender must have
//! registered, which argument type it takes, and which handler runs it. [`dispatch`] does
//! every check once, in that order, before the handler sees anything: a handler only ever
//! receives its own typed arguments, from a connection allowed to send them.
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | the table and [`dispatch`] |
//! | `args.rs` | one argument type per row, decoded with serde |
//! | `command.rs` | what a handler gets ([`Ctx`]) and returns ([`Effect`] or a [`Refusal`]) |
//! | `handlers.rs` | one function per command |

pub mod args;
pub mod command;
pub(crate) mod handlers;

use log::debug;

use crate::protocol::{cmd, split_command};

use args::Arguments;
pub use command::{Ctx, Effect, LeftOut, Outcome, Refusal};

/// A row's entry point: decodes the arguments into the row's type and runs its handler.
pub type Run = fn(&mut Ctx, usize, Option<&str>) -> command::Outcome;

/// One row of the command table.
pub struct Command {
    pub name: &'static str,
    pub needs_registration: bool,
    /// The arguments as shown in the `ERROR` for malformed ones.
    pub usage: &'static str,
    pub run: Run,
}

/// A row: the argument type is named once, and gives both the decoding and the usage.
macro_rules! row {
    ($name:expr, registered: $registered:expr, $args:ty, $handler:path) => {
        Command {
            name: $name,
            needs_registration: $registered,
            usage: <$args as Arguments>::USAGE,
            run: |ctx, me, raw| $handler(ctx, me, <$args as Arguments>::decode(raw)?),
        }
    };
}

/// Every command a client may send.
pub const COMMANDS: &[Command] = &[
    row!(cmd::REGISTER, registered: false, args::Register, handlers::register),
    row!(cmd::STATUS, registered: true, args::Status, handlers::status),
    row!(cmd::GOODBYE, registered: false, args::NoArgs, handlers::goodbye),
    row!(cmd::INVITE, registered: true, args::Names, handlers::invite),
    row!(cmd::LIST_CONVERSATIONS, registered: true, args::NoArgs, handlers::list_conversations),
    row!(cmd::JOIN, registered: true, args::Conv, handlers::join),
    row!(cmd::SEND_MESSAGE, registered: true, args::ConvText, handlers::send_message),
    row!(cmd::LEAVE, registered: true, args::Conv, handlers::leave),
];

/// The row of [`COMMANDS`] for a command word, matched case-insensitively.
fn row(word: &str) -> Option<usize> {
    COMMANDS
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(word))
}

/// Unknown words are echoed in an `ERROR` at most this long, upper-cased: enough to
/// recognise a typo, too short to reflect a long line back.
const MAX_ECHOED_WORD: usize = 32;

/// Runs one line from connection `me` and says what the loop does next. An empty line is
/// ignored; anything wrong is answered with an `ERROR` naming the command, and the
/// connection stays open.
pub fn dispatch(ctx: &mut Ctx, me: usize, line: &str) -> Effect {
    let Some((word, args)) = split_command(line) else {
        ctx.stats.line_in(None, true);
        return Effect::Continue;
    };
    let row = row(word);
    ctx.stats.line_in(row, false);
    let command = row.and_then(|row| COMMANDS.get(row));
    // The command's name from the table and the size, never the line's text, nor an unknown
    // word (a user typing chat into a raw connection sends it as the "word"): logs must not
    // hold what users say. Only the teaching trace (`--trace`) may.
    let name = command.map_or("an unknown command", |c| c.name);
    debug!("conn {me} sent {name} ({} bytes)", line.len());
    let Some(command) = command else {
        let shown: String = word.chars().take(MAX_ECHOED_WORD).collect();
        return refuse(
            ctx,
            me,
            &shown.to_ascii_uppercase(),
            Refusal::UnknownCommand,
        );
    };
    if command.needs_registration && !ctx.chat.is_registered(me) {
        return refuse(ctx, me, command.name, Refusal::NotRegistered);
    }
    trace!(ctx.out.tracing(), "conn {me}: dispatch {}", command.name);
    match (command.run)(ctx, me, args) {
        Ok(effect) => effect,
        Err(refusal) => refuse(ctx, me, command.name, refusal),
    }
}

/// The one place a refusal becomes an `ERROR` line: `"<COMMAND>: <why>"`. A wrong password
/// is also an effect: the loop counts it.
pub fn refuse(ctx: &mut Ctx, me: usize, name: &str, refusal: Refusal) -> Effect {
    ctx.out.send_error(me, &format!("{name}: {refusal}"));
    match refusal {
        Refusal::WrongPassword => Effect::WrongPassword,
        _ => Effect::Continue,
    }
}

#[cfg(test)]
mod tests;
