//! Names: which ones are accepted, and when two of them are the same user.
//!
//! The rule is a published one, RFC 8265's PRECIS UsernameCaseMapped profile (what XMPP
//! servers use), with full case folding added:
//!
//! - A name has 1 to [`MAX_NAME_CHARS`] characters as typed, and no whitespace or control
//!   character (the contract's first rule, checked first because it is cheap).
//! - The profile must accept it: letters and digits of any script and printable ASCII, but
//!   no invisible code points (zero-width joiners and spaces, the BOM, other default
//!   ignorables), no bidi controls, no noncharacters, no code points unassigned in the
//!   profile's Unicode version (6.3 in precis-core 0.2, so letters added since are refused
//!   too), no symbols or compatibility forms beyond ASCII, and a
//!   right-to-left name must follow the bidi rule.
//! - Two names are one name when their [`name_key`]s are equal: the profile's enforcement
//!   (fullwidth to halfwidth, lower case, NFC), then full Unicode case folding. RFC 8265 only
//!   lower-cases, which leaves "straße" and "STRASSE", or "ος" (final sigma) and "ΟΣ", two
//!   users who look alike; folding maps ß to "ss" and ς to σ, so they collide.
//!
//! The key decides uniqueness and lookups only: others always see the name as its owner
//! typed it.

use std::borrow::Cow;
use std::fmt;

use caseless::Caseless;
use precis_profiles::precis_core::profile::PrecisFastInvocation;
use precis_profiles::precis_core::{Error as PrecisError, UnexpectedError};
use precis_profiles::UsernameCaseMapped;
use unicode_normalization::UnicodeNormalization;

use crate::protocol::MAX_NAME_CHARS;

/// Why a name was refused; shown after "bad name: " in the `ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadName {
    /// Empty, or longer than [`MAX_NAME_CHARS`] characters as typed.
    Length,
    /// A code point the rule refuses (whitespace, control, invisible, unassigned, ...). One
    /// code point, so the `ERROR` never echoes more than that of the name.
    Character(char),
    /// The profile refused the name as a whole: a right-to-left name that breaks the bidi
    /// rule, or a joiner with no letter before it.
    Refused,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadName::Length => write!(f, "1 to {MAX_NAME_CHARS} characters"),
            BadName::Character(c) => write!(f, "U+{:04X} is not allowed in names", u32::from(*c)),
            BadName::Refused => f.write_str(
                "refused by RFC 8265 (a right-to-left name must follow the bidi rule, \
                 a joiner needs a letter before it)",
            ),
        }
    }
}

/// The comparison form of `name`, or why the name is refused. Borrowed when the name is
/// its own key (lower-case ASCII, the common case), so the caller may share one allocation
/// between the name and its key.
pub fn name_key(name: &str) -> Result<Cow<'_, str>, BadName> {
    // Bounded work whatever the length: at most MAX_NAME_CHARS + 1 characters are counted.
    let chars = name.chars().take(MAX_NAME_CHARS + 1).count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(BadName::Length);
    }
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(BadName::Character(c));
    }
    // Printable ASCII is valid under the profile, and its key is its ASCII lower case: no
    // width mapping, normalization or folding changes it. Most names take this path and
    // cost a scan, not the profile's table look-ups (the unit tests check that both paths
    // agree on every printable ASCII character).
    if name.bytes().all(|b| b.is_ascii_graphic()) {
        return Ok(if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        });
    }
    let enforced = UsernameCaseMapped::enforce(name).map_err(|e| match e {
        PrecisError::BadCodepoint(info)
        | PrecisError::Unexpected(
            UnexpectedError::ContextRuleNotApplicable(info)
            | UnexpectedError::MissingContextRule(info),
        ) => BadName::Character(char::from_u32(info.cp).unwrap_or(char::REPLACEMENT_CHARACTER)),
        PrecisError::Invalid | PrecisError::Unexpected(_) => BadName::Refused,
    })?;
    Ok(Cow::Owned(fold(&enforced)))
}

/// Full case folding of an enforced (lower-cased, NFC) name: Unicode's canonical caseless
/// form (NFD, fold), stored composed again (NFC) since equal NFDs have equal NFCs.
fn fold(enforced: &str) -> String {
    enforced.chars().nfd().default_case_fold().nfc().collect()
}

#[cfg(test)]
mod tests;
