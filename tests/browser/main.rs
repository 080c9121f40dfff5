//! The page that imserver serves (web/), tested in a real browser: headless Chromium driven
//! through chromedriver (WebDriver), against real `imserver` processes, beside real
//! `imclient`s. `scripts/test.sh` installs Chromium and chromedriver when they are missing;
//! without them every test here fails, saying so.

#[path = "../common/mod.rs"]
mod common;
mod driver;
mod harness;
