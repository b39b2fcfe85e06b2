//! Entry bodies as HTML for the operator's page: pulldown-cmark, then ammonia.
//!
//! Agents' text is untrusted. Raw HTML in a body is shown as text (never passed through), and
//! the rendered HTML is sanitized by ammonia anyway: no script, no event handlers, no images
//! (they would fetch from outside an air-gapped network), links get `rel=noopener`.

use pulldown_cmark::{Event, Options, Parser};

/// Renders a markdown body to sanitized HTML.
pub fn to_html(body: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(body, opts).map(|ev| match ev {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut html = String::with_capacity(body.len() + body.len() / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    ammonia::Builder::default()
        .rm_tags(["img"])
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_are_inert() {
        let html = to_html(
            "hi <script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3)) **b**",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("<strong>b</strong>"), "{html}");
    }

    #[test]
    fn tables_and_code() {
        let html = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n\n`x < y`");
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<code>x &lt; y</code>"), "{html}");
    }
}
