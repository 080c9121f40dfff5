//! One headless Chromium, driven through its WebDriver (`chromedriver`) with fantoccini, behind
//! a blocking interface so that the scenarios read like the other tests. Every browser call
//! is bounded by [`PATIENCE`]; every wait polls the page's DOM for the state the test expects.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use crate::common::PATIENCE;

/// Where Debian's packages `chromium` and `chromium-driver` put them; scripts/test.sh
/// installs both when missing.
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Chromium's switches for a closed network and a machine without a display: without the
/// background-networking ones it stalls on connections this network refuses; a fresh
/// profile per browser (`--user-data-dir`, added in [`Browser::start`]) keeps tests apart.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    // A laptop's window: the side column and the conversation side by side.
    "--window-size=1000,800",
];

/// How often a wait looks at the page again: often enough that a test does not idle, rarely
/// enough that the browser is not kept busy answering.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// How many times chromedriver is started before a test gives up: it sometimes exits at
/// once for want of a port (see [`Driver::start`]); twice in a row is already rare.
const DRIVER_ATTEMPTS: usize = 5;

/// How long closing the session may take when the browser is dropped; the processes are
/// killed after it in any case.
const CLOSE_PATIENCE: Duration = Duration::from_secs(5);

/// A headless Chromium and its chromedriver, both killed (with the profile removed) on drop.
pub struct Browser {
    runtime: Runtime,
    client: Option<Client>,
    // Dropped in this order, after the session is closed: the processes, then their files.
    _driver: Driver,
    profile: Profile,
    /// For failure messages: which of the test's browsers this is.
    pub label: String,
}

impl Browser {
    /// Starts chromedriver on a free port and a Chromium session through it.
    pub fn start(label: &str) -> Browser {
        Browser::start_with(label, &[])
    }

    /// As [`Browser::start`], with Chromium switches of this browser's own on top of
    /// [`CHROMIUM_ARGS`] (the one certificate a TLS test trusts, say).
    pub fn start_with(label: &str, extra_args: &[String]) -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser tests need Debian's package {package}; \
                 run the tests with scripts/test.sh, which installs it"
            );
        }
        let profile = Profile::new();
        let (driver, port) = Driver::start();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime for the WebDriver client");
        let mut browser = Browser {
            _driver: driver,
            runtime,
            client: None,
            profile,
            label: label.to_string(),
        };
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", browser.profile.0.display()));
        args.extend_from_slice(extra_args);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            // An alert stays open for the test to see (the default dismisses it).
            "unhandledPromptBehavior": "ignore",
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let client = browser.run("start a Chromium session", async move {
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&url)
                .await
        });
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> Client {
        self.client.clone().expect("a session")
    }

    /// Runs one WebDriver exchange, bounded by PATIENCE; fails the test on an error.
    fn run<T, E: std::fmt::Debug>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = Result<T, E>>,
    ) -> T {
        match self
            .runtime
            .block_on(async { tokio::time::timeout(PATIENCE, future).await })
        {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => panic!("{}: {what}: {e:?}", self.label),
            Err(_) => panic!("{}: {what}: no answer in {PATIENCE:?}", self.label),
        }
    }

    /// Loads `url` and waits for the page to have loaded.
    pub fn goto(&self, url: &str) {
        let client = self.client();
        self.run(
            &format!("load {url}"),
            async move { client.goto(url).await },
        );
    }

    /// Runs `body` as a function body in the page (`return ...;`) with `args` as `arguments`.
    pub fn js(&self, body: &str, args: Vec<Value>) -> Value {
        let client = self.client();
        self.run(&format!("run {body:?}"), async move {
            client.execute(body, args).await
        })
    }

    /// Polls `body` (a function body, as in [`Browser::js`]) until it returns something
    /// other than `null`, `false` or `undefined`, and returns that. Fails after PATIENCE
    /// with `what` and the page's visible text.
    pub fn wait_for(&self, what: &str, body: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let value = self.js(body, args.clone());
            if !matches!(value, Value::Null | Value::Bool(false)) {
                return value;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: waited {PATIENCE:?} for {what}; the page shows:\n{}",
                    self.label,
                    self.visible_text()
                );
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// The page's text as shown (for failure messages).
    pub fn visible_text(&self) -> String {
        let client = self.client();
        let text = self.runtime.block_on(async {
            tokio::time::timeout(
                PATIENCE,
                client.execute("return document.body.innerText;", vec![]),
            )
            .await
        });
        match text {
            Ok(Ok(Value::String(text))) => text,
            other => format!("(could not read the page: {other:?})"),
        }
    }

    /// Clicks the first element matching `css` (waiting for it to exist).
    pub fn click(&self, css: &str) {
        let client = self.client();
        self.run(&format!("click {css}"), async move {
            client
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Css(css))
                .await?
                .click()
                .await
        });
    }

    /// Replaces the text of the input matching `css` with `text`, typed key by key.
    pub fn fill(&self, css: &str, text: &str) {
        let client = self.client();
        self.run(&format!("type into {css}"), async move {
            let input = client
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Css(css))
                .await?;
            input.clear().await?;
            input.send_keys(text).await
        });
    }

    /// Presses Enter in the input matching `css`: submits its form as a person would.
    pub fn press_enter(&self, css: &str) {
        self.fill_more(css, "\u{E007}");
    }

    /// Types `keys` into the input matching `css` without clearing it first.
    pub fn fill_more(&self, css: &str, keys: &str) {
        let client = self.client();
        self.run(&format!("type into {css}"), async move {
            let input = client
                .wait()
                .at_most(PATIENCE)
                .for_element(Locator::Css(css))
                .await?;
            input.send_keys(keys).await
        });
    }

    /// Types `keys` into whatever has the focus, as a keyboard does.
    pub fn type_keys(&self, keys: &str) {
        let client = self.client();
        self.run(&format!("type {keys:?}"), async move {
            client.active_element().await?.send_keys(keys).await
        });
    }

    /// The text of an open alert, confirm or prompt dialog, if one is open.
    pub fn open_alert(&self) -> Option<String> {
        let client = self.client();
        let answer = self
            .runtime
            .block_on(async { tokio::time::timeout(PATIENCE, client.get_alert_text()).await })
            .unwrap_or_else(|_| panic!("{}: no answer about alerts in time", self.label));
        match answer {
            Ok(text) => Some(text),
            Err(e) if e.is_no_such_alert() => None,
            Err(e) => panic!("{}: asking for an open alert: {e:?}", self.label),
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let client = self.client();
        self.run(
            "take a screenshot",
            async move { client.screenshot().await },
        )
    }

    /// Makes the viewport (what a screenshot shows) `width` × `height` CSS pixels: WebDriver
    /// sets the window's outer size, so the browser's own frame is measured and added.
    pub fn resize_viewport(&self, width: u32, height: u32) {
        let client = self.client();
        let resize = |w: u32, h: u32| {
            let client = client.clone();
            self.run("resize the window", async move {
                client.set_window_size(w, h).await
            })
        };
        resize(width, height);
        let inner = self.js("return [window.innerWidth, window.innerHeight];", vec![]);
        let frame =
            |i: usize, outer: u32| outer.saturating_sub(inner[i].as_u64().expect("a size") as u32);
        resize(width + frame(0, width), height + frame(1, height));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Ending the session lets chromedriver close Chromium cleanly; the kill below
            // covers a session that does not answer.
            let _ = self
                .runtime
                .block_on(async { tokio::time::timeout(CLOSE_PATIENCE, client.close()).await });
        }
    }
}

/// chromedriver, leader of its own process group, which Chromium's processes join; the
/// whole group is killed on drop (also when a test fails half-way through starting).
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group our own child leads; no memory is involved.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a port of its choice and returns it with that port.
    ///
    /// Asked for port 0, chromedriver takes a free IPv6 loopback port and then needs the
    /// same number on IPv4, which another process may hold (seen here, with the suite's
    /// many loopback connections): it then says "IPv4 port not available" and exits, and is
    /// simply started again.
    fn start() -> (Driver, u16) {
        let mut said = Vec::new();
        for _ in 0..DRIVER_ATTEMPTS {
            let mut driver = Driver(
                Command::new(CHROMEDRIVER)
                    .arg("--port=0")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    // Its own process group, so that drop can kill Chromium's processes.
                    .process_group(0)
                    .spawn()
                    .expect("start chromedriver"),
            );
            match driver.port() {
                Ok(port) => return (driver, port),
                Err(lines) => said.push(lines),
            }
        }
        panic!("chromedriver exited {DRIVER_ATTEMPTS} times without a port; it said {said:?}")
    }

    /// Reads the "started successfully on port N" line; the lines it printed instead if it
    /// exited first.
    fn port(&mut self) -> Result<u16, Vec<String>> {
        let stdout = self.0.stdout.take().expect("chromedriver's stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = line
                        .split("started successfully on port ")
                        .nth(1)
                        .and_then(|rest| rest.trim_end_matches('.').trim().parse().ok())
                    {
                        return Ok(port);
                    }
                    seen.push(line);
                }
                // End of its output: it exited.
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(seen),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    panic!("chromedriver printed no port in {PATIENCE:?}; it printed {seen:?}")
                }
            }
        }
    }
}

/// A new empty directory for one Chromium profile, removed on drop.
struct Profile(PathBuf);

impl Profile {
    fn new() -> Profile {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "imchat-browser-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a Chromium profile directory");
        Profile(dir)
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
