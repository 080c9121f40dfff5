//! Every excerpt of a run in the docs comes from a real run, and this test fails when one
//! drifts from what the code does now.
//!
//! **Marking.** An excerpt is a fenced block right after a line `<!-- excerpt: NAME -->`
//! in `README.md` or `docs/*.md`. Each NAME is produced by a scenario here (one scenario
//! may produce several names; one name may be shown in several places), which runs the
//! real `imserver` on `127.0.0.1:0` (tests/common), talks to it with real clients, and
//! renders what happened: a protocol exchange (`>` sent, `<` received), the README's two
//! `nc` columns, a window of the server's log, an `imclient` screen.
//!
//! **Fixing drift is one command.** `UPDATE_EXCERPTS=1 cargo test --test doc_excerpts`
//! writes every drifted block in place with the run's text (as expect-test and insta do);
//! review the diff and commit it. Blocks that did not drift are left as they are.
//!
//! **What counts as an excerpt of a run** (marked, generated, checked): protocol exchanges
//! (`>`/`<` lines), log and `--trace` excerpts, the `nc` demo, `imclient` screens. **What does not**: command
//! lines to type (`cargo run ...`), format descriptions and tables (the screen format of
//! `imclient`, the message tables of `protocol.md`), inline examples in prose (`[7] bob:
//! hi`, `ERROR "server full"`: syntax, checked by the wire and imclient tests), diagrams,
//! and the measured reports in `docs/benchmarks.md` (numbers of one machine on one day,
//! kept with their date and machine; a test cannot reproduce them). A fenced block that
//! looks like a run (lines starting `> ` or `< `, or log lines) without a marker fails the
//! test, so a new excerpt cannot be added unchecked.
//!
//! **What is normalised**, because it changes from run to run: the time of day in log lines
//! and the port of a `127.0.0.1` address are masked on both sides before comparing
//! (`markdown::mask`); trace excerpts cut the timestamp altogether, and log excerpts the
//! date, and say so beside the block. The `nc` demo's `$ nc -N 127.0.0.1 6666` header names
//! the default port the reader uses, not the test's. Connection numbers are not
//! normalised: the scenarios connect in a fixed order, so they are the same every run. The
//! imclient reconnect screen keeps only the first refused retry (a slow machine may need more).
//! Scenarios that show presence broadcasts pick a presence interval that makes the order
//! certain and wait for the exact lines (see each scenario).
//!
//! The server's log is read from stdout and stderr both (tests/common merges them), so this
//! holds wherever the server logs.

mod clients;
#[path = "../common/mod.rs"]
mod common;
mod markdown;
mod protocol;
mod render;
mod runs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The documents whose excerpts are checked.
const DOCS: &[&str] = &[
    "README.md",
    "docs/architecture.md",
    "docs/teaching.md",
    "docs/protocol.md",
    "docs/imclient.md",
    "docs/benchmarks.md",
];

/// A scenario: a real run that renders one or more named excerpts.
type Scenario = fn() -> Vec<(&'static str, String)>;

fn scenarios() -> Vec<(&'static str, Scenario)> {
    let mut all: Vec<(&'static str, Scenario)> = Vec::new();
    all.extend(runs::SCENARIOS);
    all.extend(clients::SCENARIOS);
    all.extend(protocol::SCENARIOS);
    all
}

/// Runs every scenario, each on its own thread (several wait for a presence interval or a
/// log window; in parallel the whole test takes as long as the slowest).
fn generate() -> BTreeMap<&'static str, String> {
    let handles: Vec<_> = scenarios()
        .into_iter()
        .map(|(name, run)| (name, std::thread::spawn(run)))
        .collect();
    let mut excerpts = BTreeMap::new();
    for (scenario, handle) in handles {
        let produced = handle
            .join()
            .unwrap_or_else(|_| panic!("scenario {scenario} failed (see its panic above)"));
        for (name, text) in produced {
            assert!(
                excerpts.insert(name, text).is_none(),
                "two scenarios produce excerpt {name}"
            );
        }
    }
    excerpts
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the excerpts are compared with the docs. The docs show the default build, on
/// epoll. On mio's `poll(2)` backend (`scripts/test-poll-backend.sh`) every scenario still
/// runs with its own checks, but a trace differs in how many events a poll returns: mio
/// re-arms a socket's writable interest there after every `WouldBlock`, so writable events
/// come that epoll never reports (docs/teaching.md).
const COMPARED: bool = !cfg!(mio_unsupported_force_poll_poll);

#[test]
fn every_excerpt_in_the_docs_comes_from_a_real_run() {
    let excerpts = generate();
    let update = std::env::var_os("UPDATE_EXCERPTS").is_some_and(|v| v == "1");
    let mut drifted = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for doc in DOCS {
        let path = root().join(doc);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{doc}: {e}"));
        let blocks = markdown::blocks(&text).unwrap_or_else(|e| panic!("{doc}: {e}"));
        for block in &blocks {
            let Some(run) = excerpts.get(block.name.as_str()) else {
                panic!(
                    "{doc}:{}: no scenario produces excerpt {:?}",
                    block.line, block.name
                );
            };
            used.insert(block.name.clone());
            if COMPARED && markdown::mask(&block.body.join("\n")) != markdown::mask(run) {
                drifted.push(format!(
                    "{doc}:{}: excerpt {:?} drifted; a real run now shows:\n{run}\n",
                    block.line, block.name
                ));
            }
        }
        if update {
            write_drifted(&path, &text, &excerpts);
        }
    }
    let unused: Vec<_> = excerpts.keys().filter(|k| !used.contains(**k)).collect();
    assert!(unused.is_empty(), "excerpts no document shows: {unused:?}");
    assert!(
        drifted.is_empty() || update,
        "{}\nRun `UPDATE_EXCERPTS=1 cargo test --test doc_excerpts` to write these into the \
         docs, then review the diff.",
        drifted.join("\n")
    );
}

/// Rewrites the blocks of one document whose masked text differs from the run's.
fn write_drifted(path: &Path, text: &str, excerpts: &BTreeMap<&str, String>) {
    let new = markdown::rewrite(text, |block| {
        let run = &excerpts[block.name.as_str()];
        (markdown::mask(&block.body.join("\n")) != markdown::mask(run)).then(|| run.clone())
    });
    if new != text {
        std::fs::write(path, new).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[test]
fn no_run_is_shown_without_a_marker() {
    for doc in DOCS {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        let unmarked = markdown::unmarked_runs(&text);
        assert!(
            unmarked.is_empty(),
            "{doc}: fenced blocks at lines {unmarked:?} look like a run but have no \
             `<!-- excerpt: NAME -->` before them, so nothing checks them"
        );
    }
}

#[test]
fn masking_hides_only_times_and_ports() {
    assert_eq!(
        markdown::mask("16:13:11.423Z INFO  refused 127.0.0.1:40348: server full"),
        "HH:MM:SS.mmmZ INFO  refused 127.0.0.1:PORT: server full"
    );
    assert_eq!(markdown::mask("queued 25 bytes"), "queued 25 bytes");
}

#[test]
fn rewriting_replaces_only_the_marked_block_and_keeps_its_indent() {
    let doc = "a\n<!-- excerpt: x -->\n  ```text\n  old\n  ```\n```text\nkept\n```\n";
    let new = markdown::rewrite(doc, |b| (b.name == "x").then(|| "new 1\nnew 2".to_string()));
    assert_eq!(
        new,
        "a\n<!-- excerpt: x -->\n  ```text\n  new 1\n  new 2\n  ```\n```text\nkept\n```\n"
    );
}
