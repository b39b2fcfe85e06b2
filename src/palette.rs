//! One colour rule for authors, shared by the terminal (`timeline`, `alerts`) and the page.
//!
//! The colours are Paul Tol's *bright* qualitative scheme (designed to stay distinguishable
//! under the common colour-vision deficiencies, protanopia, deuteranopia and tritanopia) without
//! its red and yellow: red and amber are kept for alerts and decisions, so no author can look
//! like one. That leaves five: blue, cyan, green, purple, grey, used at their published values
//! on both themes (the page sets author names on a swatch of the colour, in the ink that
//! contrasts with it, rather than tinting text, so the values never need shading).
//!
//! The rule: the built-in roles have fixed colours (pipeline blue, traffic cyan, data-plane
//! green, operator purple), so the usual four never collide; any other name takes
//! `FNV-1a(name) mod 5`. The page gets the table and the fixed roles from [`page_json`] and
//! applies the same hash (its browser test checks both sides agree). A unit test simulates
//! protanopia, deuteranopia and tritanopia (Machado et al. 2009) and keeps every two author
//! colours, and each author colour and the alert and decision colours, apart in CIELAB.

use serde::Serialize;

/// One author colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Colour {
    pub name: &'static str,
    /// The published value, `#RRGGBB`.
    pub hex: &'static str,
    /// Text colour on a swatch of it (black or white, whichever contrasts more).
    pub ink: &'static str,
    /// The nearest xterm 256-colour code, for terminals without 24-bit colour.
    #[serde(skip)]
    pub ansi: u8,
}

/// Paul Tol's bright scheme without red (#EE6677) and yellow (#CCBB44).
pub const COLOURS: [Colour; 5] = [
    Colour {
        name: "blue",
        hex: "#4477AA",
        ink: "#FFFFFF",
        ansi: 67,
    },
    Colour {
        name: "cyan",
        hex: "#66CCEE",
        ink: "#000000",
        ansi: 81,
    },
    Colour {
        name: "green",
        hex: "#228833",
        ink: "#FFFFFF",
        ansi: 71,
    },
    Colour {
        name: "purple",
        hex: "#AA3377",
        ink: "#FFFFFF",
        ansi: 132,
    },
    Colour {
        name: "grey",
        hex: "#BBBBBB",
        ink: "#000000",
        ansi: 248,
    },
];

/// Built-in roles with a colour of their own (index into [`COLOURS`]).
pub const FIXED: [(&str, usize); 4] = [
    ("pipeline", 0),
    ("traffic", 1),
    ("data-plane", 2),
    ("operator", 3),
];

/// FNV-1a (32 bit) over the name's UTF-8 bytes.
fn fnv1a(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// The colour of an author.
pub fn of(author: &str) -> Colour {
    let slot = FIXED
        .iter()
        .find(|(n, _)| *n == author)
        .map(|(_, i)| *i)
        .unwrap_or_else(|| (fnv1a(author) % COLOURS.len() as u32) as usize);
    COLOURS[slot]
}

/// True when the terminal says it shows 24-bit colour (`COLORTERM=truecolor|24bit`).
fn truecolor() -> bool {
    std::env::var("COLORTERM").is_ok_and(|v| v == "truecolor" || v == "24bit")
}

/// The ANSI escape that sets an author's colour (bold), 24-bit when the terminal supports it.
pub fn ansi(author: &str) -> String {
    let c = of(author);
    if truecolor() {
        let v = u32::from_str_radix(&c.hex[1..], 16).unwrap_or(0);
        format!(
            "\x1b[1;38;2;{};{};{}m",
            (v >> 16) & 0xff,
            (v >> 8) & 0xff,
            v & 0xff
        )
    } else {
        format!("\x1b[1;38;5;{}m", c.ansi)
    }
}

/// `text` in the author's colour (for a terminal).
pub fn paint_author(author: &str, text: &str) -> String {
    format!("{}{text}\x1b[0m", ansi(author))
}

/// The palette for the page: `{"colours":[{"name","hex","ink"}…],"fixed":{"pipeline":0,…}}`.
pub fn page_json() -> String {
    let fixed: std::collections::BTreeMap<&str, usize> = FIXED.iter().copied().collect();
    serde_json::json!({ "colours": COLOURS, "fixed": fixed }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WCAG relative luminance of `#RRGGBB`.
    fn luminance(hex: &str) -> f64 {
        let v = u32::from_str_radix(&hex[1..], 16).unwrap();
        let ch = |s: u32| {
            let c = f64::from((v >> s) & 0xff) / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(16) + 0.7152 * ch(8) + 0.0722 * ch(0)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// Hue in degrees of `#RRGGBB` (None for greys).
    fn hue(hex: &str) -> Option<f64> {
        let v = u32::from_str_radix(&hex[1..], 16).unwrap();
        let (r, g, b) = (
            f64::from((v >> 16) & 0xff) / 255.0,
            f64::from((v >> 8) & 0xff) / 255.0,
            f64::from(v & 0xff) / 255.0,
        );
        let (max, min) = (r.max(g).max(b), r.min(g).min(b));
        let d = max - min;
        if d < 0.05 {
            return None;
        }
        let h = if max == r {
            60.0 * (((g - b) / d) % 6.0)
        } else if max == g {
            60.0 * ((b - r) / d + 2.0)
        } else {
            60.0 * ((r - g) / d + 4.0)
        };
        Some((h + 360.0) % 360.0)
    }

    #[test]
    fn built_in_roles_never_collide_and_others_hash_stably() {
        let fixed: Vec<&str> = ["pipeline", "traffic", "data-plane", "operator"]
            .iter()
            .map(|r| of(r).name)
            .collect();
        let mut unique = fixed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 4, "{fixed:?}");
        assert_eq!(of("terminal-1"), of("terminal-1"));
        // The hash is FNV-1a, as the page computes it.
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }

    #[test]
    fn no_author_colour_is_red_or_amber_and_ink_is_readable() {
        for c in COLOURS {
            if let Some(h) = hue(c.hex) {
                // Red and amber (alerts #e5484d at 358°, decisions #f5a524 at 38°): 340°–60°.
                assert!((60.0..340.0).contains(&h), "{} has hue {h}", c.name);
            }
            assert!(contrast(c.hex, c.ink) >= 4.5, "{} ink", c.name);
        }
    }

    /// `#RRGGBB` as CIELAB (D65) as a viewer with `deficiency` (Machado, Oliveira and
    /// Fernandes 2009, severity 1, applied to linear sRGB) sees it.
    fn lab_seen(hex: &str, deficiency: &[[f64; 3]; 3]) -> [f64; 3] {
        let v = u32::from_str_radix(&hex[1..], 16).unwrap();
        let lin = |s: u32| {
            let c = f64::from((v >> s) & 0xff) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let rgb = [lin(16), lin(8), lin(0)];
        let seen: Vec<f64> = deficiency
            .iter()
            .map(|row| (0..3).map(|j| row[j] * rgb[j]).sum::<f64>().clamp(0.0, 1.0))
            .collect();
        let xyz = [
            (0.4124 * seen[0] + 0.3576 * seen[1] + 0.1805 * seen[2]) / 0.95047,
            0.2126 * seen[0] + 0.7152 * seen[1] + 0.0722 * seen[2],
            (0.0193 * seen[0] + 0.1192 * seen[1] + 0.9505 * seen[2]) / 1.08883,
        ];
        let f = |t: f64| {
            if t > 216.0 / 24389.0 {
                t.cbrt()
            } else {
                (24389.0 / 27.0 * t + 16.0) / 116.0
            }
        };
        let [fx, fy, fz] = xyz.map(f);
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    #[test]
    fn authors_stay_apart_from_each_other_and_from_alerts_under_colour_blindness() {
        const NORMAL: [[f64; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        const PROTANOPIA: [[f64; 3]; 3] = [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ];
        const DEUTERANOPIA: [[f64; 3]; 3] = [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ];
        const TRITANOPIA: [[f64; 3]; 3] = [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ];
        // The page's alert and decision colours, dark and light theme (templates/page.css).
        const SIGNALS: [&str; 4] = ["#e5484d", "#f5a524", "#c8102e", "#b86e00"];
        let distance = |a: [f64; 3], b: [f64; 3]| {
            ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
        };
        for (who, m) in [
            ("normal vision", NORMAL),
            ("protanopia", PROTANOPIA),
            ("deuteranopia", DEUTERANOPIA),
            ("tritanopia", TRITANOPIA),
        ] {
            for (i, a) in COLOURS.iter().enumerate() {
                for b in &COLOURS[i + 1..] {
                    // ΔE*ab: about 2.3 is just noticeable; 12 reads as another colour at a glance.
                    let d = distance(lab_seen(a.hex, &m), lab_seen(b.hex, &m));
                    assert!(
                        d >= 12.0,
                        "{who}: {} and {} are {d:.1} apart",
                        a.name,
                        b.name
                    );
                }
                for signal in SIGNALS {
                    // Alerts also carry their label and outline; the colour must not be the
                    // same one.
                    let d = distance(lab_seen(a.hex, &m), lab_seen(signal, &m));
                    assert!(d >= 8.0, "{who}: {} and {signal} are {d:.1} apart", a.name);
                }
            }
        }
    }

    #[test]
    fn the_page_gets_the_same_table() {
        let v: serde_json::Value = serde_json::from_str(&page_json()).unwrap();
        assert_eq!(v["colours"][0]["hex"], "#4477AA");
        assert_eq!(v["fixed"]["operator"], 3);
        assert!(v["colours"][0].get("ansi").is_none());
    }
}
