//! Templates (minijinja): the channel brief, the relay's web page and, later, the archive pages.
//!
//! The defaults are compiled in from `templates/`; a user overrides one by putting a file of
//! the same name in `<root>/templates/`.

use std::path::Path;

use minijinja::Environment;
use serde::Serialize;

/// Built-in templates: (name, text).
const DEFAULTS: [(&str, &str); 7] = [
    ("channel.md", include_str!("../templates/channel.md")),
    (
        "archive-readme.md",
        include_str!("../templates/archive-readme.md"),
    ),
    ("timeline.md", include_str!("../templates/timeline.md")),
    ("index.md", include_str!("../templates/index.md")),
    ("page.html", include_str!("../templates/page.html")),
    ("page.css", include_str!("../templates/page.css")),
    ("page.js", include_str!("../templates/page.js")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "template {name} failed to render (fix the template, or delete the override to use the built-in one)"
    )]
    Render {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("cannot write the channel's brief")]
    Write(#[from] crate::channel::Error),
}

/// The text of template `name` as is (no rendering), preferring `<root>/templates/<name>`:
/// the page's stylesheet and script, which the page template embeds.
pub fn text(root: &Path, name: &str) -> Result<String, TemplateError> {
    let path = root.join("templates").join(name);
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DEFAULTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| (*t).to_owned())
            .unwrap_or_else(|| panic!("no built-in template {name}"))),
        Err(source) => Err(TemplateError::Read { path, source }),
    }
}

/// Renders template `name` with `ctx`, preferring `<root>/templates/<name>`.
pub fn render(root: &Path, name: &str, ctx: impl Serialize) -> Result<String, TemplateError> {
    let text = text(root, name)?;
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    let render_err = |source| TemplateError::Render {
        name: name.to_owned(),
        source,
    };
    env.add_template_owned(name.to_owned(), text)
        .map_err(render_err)?;
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(render_err)
}

/// Writes a channel's `README.md` brief from the `channel.md` template: theme, date, each role
/// with its lane, how to post and read, and the go / no-go protocol.
pub fn write_brief(root: &Path, channel: &crate::channel::Channel) -> Result<(), TemplateError> {
    #[derive(Serialize)]
    struct BriefRole<'a> {
        name: &'a str,
        title: Option<&'a str>,
        lane: Option<&'a str>,
    }
    let roster = channel.roster()?;
    let name = channel.name();
    let brief = render(
        root,
        "channel.md",
        minijinja::context! {
            theme => name.theme().as_str(),
            date => name.date().format("%Y-%m-%d").to_string(),
            channel => name.to_string(),
            opened_at => roster.opened_at.to_string(),
            roles => roster.roles.iter().map(|r| BriefRole {
                name: r.name.as_str(),
                title: r.title.as_deref(),
                lane: r.lane.as_deref(),
            }).collect::<Vec<_>>(),
        },
    )?;
    crate::channel::store::write_atomic(&channel.dir().join("README.md"), brief.as_bytes())?;
    Ok(())
}
