//! The operator's page in a real headless Chromium, driven over WebDriver (chromedriver).
//!
//! Needs the apt packages `chromium` and `chromium-driver`. Without them the tests are skipped
//! with a note, except when `CI` is set: then they fail, so CI can never pass without them.
//! `WARROOM_SCREENSHOT=path.png` saves a screenshot of the first test's page as it leaves it.
//! Every wait is a bounded poll (a hang guard); nothing asserts a duration.
//!
//! The tests by what they show: `page` (entries, alerts, lanes, gaps, posting; a long
//! history), `demo` (the strip following `warroom demo`; a late page) and `notifications`
//! (opt-in, who acked). The WebDriver client is tests/webdriver, shared with benches/page.rs.

#[path = "../support/mod.rs"]
mod support;

mod demo;
mod notifications;
mod page;
#[path = "../webdriver/mod.rs"]
mod webdriver;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;
use webdriver::{Driver, browser};
