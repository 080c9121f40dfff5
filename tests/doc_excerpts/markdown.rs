//! Finding the marked excerpts in a markdown file, comparing them, and writing new text
//! into them in place.

/// What marks an excerpt: this comment alone on the line before a fenced block.
const MARKER: (&str, &str) = ("<!-- excerpt: ", " -->");

/// One marked fenced block.
#[derive(Debug)]
pub struct Block {
    pub name: String,
    /// 1-based line of the marker, for messages.
    pub line: usize,
    /// The block's body (without its fences), as lines.
    pub body: Vec<String>,
    /// Index of the body's first line in the file's lines.
    start: usize,
}

/// Every marked block of a file, in order. A marker not followed by a fenced block is an
/// error: a typo there would silently leave an excerpt unchecked.
pub fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = marker_name(lines[i]) else {
            i += 1;
            continue;
        };
        let fence = lines.get(i + 1).copied().unwrap_or_default();
        if !fence.trim_start().starts_with("```") {
            return Err(format!(
                "line {}: excerpt {name:?} is not followed by a fenced block",
                i + 1
            ));
        }
        let indent = &fence[..fence.len() - fence.trim_start().len()];
        let start = i + 2;
        let end = (start..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .ok_or_else(|| format!("line {}: excerpt {name:?} is never closed", i + 1))?;
        found.push(Block {
            name: name.to_string(),
            line: i + 1,
            body: lines[start..end]
                .iter()
                .map(|l| l.strip_prefix(indent).unwrap_or(l).to_string())
                .collect(),
            start,
        });
        i = end + 1;
    }
    Ok(found)
}

fn marker_name(line: &str) -> Option<&str> {
    line.trim()
        .strip_prefix(MARKER.0)?
        .strip_suffix(MARKER.1)
        .map(str::trim)
}

/// The file's text with each block's body replaced by `new_body(block)` where that returns
/// one (indented like its fence, as a block inside a list item is).
pub fn rewrite(text: &str, mut new_body: impl FnMut(&Block) -> Option<String>) -> String {
    let blocks = blocks(text).expect("blocks were parsed before");
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut next = 0;
    for block in &blocks {
        let fence = lines[block.start - 1];
        let indent = &fence[..fence.len() - fence.trim_start().len()];
        let end = block.start + block.body.len();
        out.extend(lines[next..block.start].iter().map(|l| l.to_string()));
        match new_body(block) {
            Some(body) => out.extend(body.lines().map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{indent}{l}")
                }
            })),
            None => out.extend(lines[block.start..end].iter().map(|l| l.to_string())),
        }
        next = end;
    }
    out.extend(lines[next..].iter().map(|l| l.to_string()));
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// Fenced blocks that look like the output of a run (protocol lines, log lines) but carry
/// no marker: each would be an excerpt nobody checks.
pub fn unmarked_runs(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_start().starts_with("```") {
            i += 1;
            continue;
        }
        let marked = i > 0 && marker_name(lines[i - 1]).is_some();
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .unwrap_or(lines.len());
        let looks_run = lines[i + 1..end].iter().any(|l| {
            let l = l.trim_start();
            l.starts_with("> ")
                || l.starts_with("< ")
                || l.contains("[trace]")
                || l.contains(" INFO  [")
        });
        if looks_run && !marked {
            found.push(i + 1);
        }
        i = end + 1;
    }
    found
}

/// What may differ between two runs, masked in both the document and the run before they
/// are compared: the time of day in log lines (`17:18:21.180Z`) and a loopback address's
/// port (`127.0.0.1:40348`). Nothing else is masked, so every other character of an
/// excerpt is checked.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if let Some(len) = time_at(&chars[i..]) {
            out.push_str("HH:MM:SS.mmmZ");
            i += len;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 10)].iter().collect();
        if rest == "127.0.0.1:" {
            out.push_str("127.0.0.1:PORT");
            i += 10;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The length of a `HH:MM:SS.mmmZ` at the start of `chars`, if there is one.
fn time_at(chars: &[char]) -> Option<usize> {
    const SHAPE: &str = "99:99:99.999Z";
    let fits = chars.len() >= SHAPE.len()
        && SHAPE.chars().zip(chars).all(|(want, &got)| {
            if want == '9' {
                got.is_ascii_digit()
            } else {
                want == got
            }
        });
    fits.then_some(SHAPE.len())
}
