//! The typed arguments of each command, decoded with serde before any handler runs.
//!
//! Every row of the table names one of these types; its handler receives exactly that type,
//! so no handler ever matches on a shape it did not ask for.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::protocol::{ConvId, ConversationsMode, Password, PresenceMode, RegisterOptions};

use super::command::Refusal;

/// A command's arguments: how they are decoded from the text after the command word, and
/// how they are shown in the `ERROR` for malformed ones.
pub trait Arguments: Sized {
    const USAGE: &'static str;
    /// Decodes the text after the command word (`None`: there was none); `Err` says why not.
    fn parse(args: Option<&str>) -> Result<Self, String>;

    /// [`Arguments::parse`], with a refusal that shows the usage.
    fn decode(args: Option<&str>) -> Result<Self, Refusal> {
        Self::parse(args).map_err(|why| Refusal::BadArguments {
            why,
            usage: Self::USAGE,
        })
    }
}

/// No arguments: absent, `null` or `[]`.
#[derive(Debug, PartialEq, Eq)]
pub struct NoArgs;

/// `[name]`, `[name, status]` or `[name, status, {"presence": mode, "conversations":
/// mode, "password": text}]` (any option may be left out); the status may be `null`.
#[derive(Debug, PartialEq, Eq)]
pub struct Register {
    pub name: String,
    pub status: Option<String>,
    pub presence: PresenceMode,
    pub conversations: ConversationsMode,
    /// The server's password, as the client gave it (see `--password-file`).
    pub password: Option<Password>,
}

/// `[status]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Status {
    pub status: String,
}

/// `[name, ...]`, possibly empty.
#[derive(Debug, PartialEq, Eq)]
pub struct Names {
    pub names: Vec<String>,
}

/// `[conversation id]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Conv {
    pub id: ConvId,
}

/// `[conversation id, text]`.
#[derive(Debug, PartialEq, Eq)]
pub struct ConvText {
    pub id: ConvId,
    pub text: String,
}

/// Decodes one JSON value of type `T`; the arguments must be there.
fn json<T: DeserializeOwned>(args: Option<&str>) -> Result<T, String> {
    let args = args.ok_or("missing arguments")?;
    serde_json::from_str(args).map_err(|e| format!("bad arguments ({e})"))
}

impl Arguments for NoArgs {
    const USAGE: &'static str = "no arguments";
    fn parse(args: Option<&str>) -> Result<NoArgs, String> {
        match args.map(str::trim) {
            None | Some("null") | Some("[]") => Ok(NoArgs),
            Some(_) => Err("takes no arguments".to_string()),
        }
    }
}

impl Arguments for Register {
    const USAGE: &'static str = "[\"name\", \"status\"] or [\"name\", \"status\", {\"presence\": \"full\"|\"changes\"|\"none\", \"conversations\": \"full\"|\"changes\", \"password\": \"...\"}]";

    /// One to three elements of different types, so decoded element by element.
    fn parse(args: Option<&str>) -> Result<Register, String> {
        let items: Vec<Value> = json(args)?;
        let mut items = items.into_iter();
        let (Some(Value::String(name)), status, options, None) =
            (items.next(), items.next(), items.next(), items.next())
        else {
            return Err("bad arguments".to_string());
        };
        let items_had_options = options.is_some();
        let status = match status {
            None | Some(Value::Null) => None,
            Some(Value::String(status)) => Some(status),
            Some(_) => return Err("bad arguments (the status must be a string)".to_string()),
        };
        let options = match options {
            None => RegisterOptions::default(),
            Some(options) => {
                RegisterOptions::deserialize(options).map_err(|e| format!("bad options ({e})"))?
            }
        };
        // An options object names at least one option, as the contract's `{"presence":
        // MODE}` does; a password alone is one.
        if options == RegisterOptions::default() && items_had_options {
            let names = "\"presence\", \"conversations\" or \"password\"";
            return Err(format!("bad options (name {names})"));
        }
        Ok(Register {
            name,
            status,
            presence: options.presence.unwrap_or_default(),
            conversations: options.conversations.unwrap_or_default(),
            password: options.password,
        })
    }
}

impl Arguments for Status {
    const USAGE: &'static str = "[\"status\"]";
    fn parse(args: Option<&str>) -> Result<Status, String> {
        let (status,) = json(args)?;
        Ok(Status { status })
    }
}

impl Arguments for Names {
    const USAGE: &'static str = "[\"name\", ...]";
    fn parse(args: Option<&str>) -> Result<Names, String> {
        Ok(Names { names: json(args)? })
    }
}

impl Arguments for Conv {
    const USAGE: &'static str = "[conversation id]";
    fn parse(args: Option<&str>) -> Result<Conv, String> {
        let (id,) = json(args)?;
        Ok(Conv { id })
    }
}

impl Arguments for ConvText {
    const USAGE: &'static str = "[conversation id, \"text\"]";
    fn parse(args: Option<&str>) -> Result<ConvText, String> {
        let (id, text) = json(args)?;
        Ok(ConvText { id, text })
    }
}
