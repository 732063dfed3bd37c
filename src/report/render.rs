//! Rendering a [`Report`] for people: two SVG charts drawn with plotters, and one self-contained HTML page.
//!
//! * [`articles_chart`]: one stacked horizontal bar per article, each label's share of the article's
//!   sentences.
//! * [`groups_chart`]: per group, each label's pooled share as a point with its 95% bootstrap interval as
//!   an error bar; groups with too few articles are marked with ` *` and drawn with hollow points.
//! * [`html`]: one page with the model, the charts and the groups, comparisons and articles tables, and
//!   the evidence sentences of every article. It has inline CSS and inline SVG and refers to nothing
//!   outside itself, so it can be mailed or opened offline.
//!
//! The output is a pure function of the report: sizes are fixed (the charts grow by a fixed number of
//! pixels per article or group), numbers have fixed formats, and label colours come from a fixed palette
//! indexed by the label's position in [`Report::labels`] (cycled, darker on every pass, for more labels
//! than colours), so the same report always renders to the same bytes.
//!
//! plotters is used without its font features: it then estimates text sizes roughly, and the SVG
//! backend writes text as `<text>` elements that the viewer lays out with its own fonts.

use std::fmt::Write as _;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{ArticleSummary, Report};

/// Width of both charts, in pixels.
const WIDTH: u32 = 960;
/// Width of the left area holding article titles or group names.
const LABEL_AREA: u32 = 290;
/// Height of the caption strip at the top of a chart.
const CAPTION_HEIGHT: u32 = 34;
/// Height of one row of the legend.
const LEGEND_ROW: u32 = 20;
/// Side of a legend colour swatch (smaller than any bar, so the two are easy to tell apart).
const SWATCH: i32 = 10;
/// Height of the x axis (ticks, tick labels, axis description).
const X_AXIS_HEIGHT: u32 = 44;
/// Height of the note strip at the bottom of a chart.
const NOTE_HEIGHT: u32 = 22;
/// Margin around the plotting area.
const MARGIN: u32 = 12;
/// Height of one article's row in the articles chart.
const ARTICLE_ROW: u32 = 26;
/// Height of one label's row within a group in the groups chart.
const GROUP_LABEL_ROW: u32 = 16;
/// Fraction of an article's row filled by its bar.
const BAR_FILL: f64 = 0.7;
/// Width of the error bar caps and diameter of the point, in pixels.
const ERROR_CAP: u32 = 8;
/// Longest article title or group name shown on a chart, in characters.
const MAX_NAME: usize = 40;
/// Font of the charts.
const FONT: &str = "sans-serif";

/// Colour-blind-friendly base palette (Tableau 10), indexed by label position.
const PALETTE: [(u8, u8, u8); 10] = [
    (0x4E, 0x79, 0xA7),
    (0xF2, 0x8E, 0x2B),
    (0xE1, 0x57, 0x59),
    (0x76, 0xB7, 0xB2),
    (0x59, 0xA1, 0x4F),
    (0xED, 0xC9, 0x48),
    (0xB0, 0x7A, 0xA1),
    (0xFF, 0x9D, 0xA7),
    (0x9C, 0x75, 0x5F),
    (0xBA, 0xB0, 0xAC),
];

/// The colour of the label at position `index`: the palette, cycled; each pass after the first is darker
/// (three passes, then the colours repeat).
fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    let pass = (index / PALETTE.len()) % 3;
    let dim = |c: u8| -> u8 { (u16::from(c) * (10 - 3 * pass as u16) / 10) as u8 };
    RGBColor(dim(r), dim(g), dim(b))
}

/// `#RRGGBB` of a colour, as the SVG backend writes it.
fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// Grey for secondary text and lines.
const GREY: RGBColor = RGBColor(0x66, 0x66, 0x66);
/// Light grey for separators.
const LIGHT_GREY: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);

/// `text` on one line (control characters become spaces), at most `max` characters, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let clean: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() <= max {
        clean
    } else {
        let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
        cut.truncate(cut.trim_end().len());
        cut.push('…');
        cut
    }
}

/// The name an article is shown by: its title, or its document id when it has no title.
fn article_name(article: &ArticleSummary) -> &str {
    article.title.as_deref().filter(|t| !t.trim().is_empty()).unwrap_or(&article.doc)
}

/// A value usable as a share on the charts: finite, clamped to `0..=1`.
fn unit(value: f64) -> Option<f64> {
    value.is_finite().then(|| value.clamp(0.0, 1.0))
}

/// A text style of the charts.
fn text_style(size: u32, colour: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FONT, size).into_font().color(&colour).pos(Pos::new(h, v))
}

/// Rough width of `text` in pixels at plotters font `size` (the SVG backend writes `size / 1.24` as the
/// font size; a sans-serif character is about 0.6 of that wide on average, wider than most).
fn text_width(text: &str, size: u32) -> i32 {
    (f64::from(size) / 1.24 * 0.6 * text.chars().count() as f64).ceil() as i32
}

/// Lays out the legend (one swatch and name per label) in rows that fit `width`: the position of every
/// entry relative to the legend's top left, and the number of rows.
fn legend_layout(labels: &[String], width: i32) -> (Vec<(i32, i32)>, u32) {
    let mut positions = Vec::with_capacity(labels.len());
    let (mut x, mut row) = (0, 0);
    for label in labels {
        let entry = SWATCH + 6 + text_width(label, 13) + 18;
        if x > 0 && x + entry > width {
            x = 0;
            row += 1;
        }
        positions.push((x, row * LEGEND_ROW as i32));
        x += entry;
    }
    let rows = if labels.is_empty() { 0 } else { row as u32 + 1 };
    (positions, rows)
}

/// The height of the legend for `labels`.
fn legend_height(labels: &[String]) -> u32 {
    legend_layout(labels, (WIDTH - 2 * MARGIN) as i32).1 * LEGEND_ROW
}

type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws the caption and the legend at the top of `area`.
fn draw_header(area: &DrawingArea<SVGBackend<'_>, Shift>, caption: &str, labels: &[String]) -> DrawResult {
    area.draw(&Text::new(caption.to_owned(), (MARGIN as i32, 10), text_style(17, BLACK, HPos::Left, VPos::Top)))?;
    let (positions, _) = legend_layout(labels, (WIDTH - 2 * MARGIN) as i32);
    let top = CAPTION_HEIGHT as i32;
    for (l, (label, &(x, y))) in labels.iter().zip(&positions).enumerate() {
        let (x, y) = (MARGIN as i32 + x, top + y);
        area.draw(&Rectangle::new([(x, y + 3), (x + SWATCH, y + 3 + SWATCH)], colour(l).filled()))?;
        area.draw(&Text::new(
            label.clone(),
            (x + SWATCH + 6, y + 3 + SWATCH / 2),
            text_style(13, BLACK, HPos::Left, VPos::Center),
        ))?;
    }
    Ok(())
}

/// Draws `draw` into a fresh SVG document of the given height; a drawing error (which the string
/// backend does not produce) gives a document with just the error message.
fn svg(height: u32, draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult) -> String {
    let mut buf = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, height)).into_drawing_area();
        let result = root.fill(&WHITE).and_then(|()| draw(&root));
        root.present().and(result)
    };
    match result {
        Ok(()) => buf,
        Err(e) => {
            let mut buf = String::new();
            {
                let root = SVGBackend::with_string(&mut buf, (WIDTH, 40)).into_drawing_area();
                let text =
                    Text::new(format!("chart failed: {e}"), (10, 20), text_style(13, BLACK, HPos::Left, VPos::Center));
                let _ = root.draw(&text);
                let _ = root.present();
            }
            buf
        }
    }
}

/// Draws a grey message in the middle of `area` (for charts with nothing to show).
fn draw_message(area: &DrawingArea<SVGBackend<'_>, Shift>, message: &str) -> DrawResult {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        message.to_owned(),
        (w as i32 / 2, h as i32 / 2),
        text_style(14, GREY, HPos::Center, VPos::Center),
    ))
}

/// A chart whose x axis is a share from 0% to 100% (with `x_desc` under it) and whose y axis runs from 0
/// to `rows` without marks: the frame both charts draw their rows in.
fn share_chart<'a, 'b>(
    area: &'a DrawingArea<SVGBackend<'b>, Shift>,
    rows: f64,
    x_desc: &str,
) -> Result<
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    DrawingAreaErrorKind<std::io::Error>,
> {
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_right(3 * MARGIN)
        .x_label_area_size(X_AXIS_HEIGHT)
        .y_label_area_size(LABEL_AREA)
        .build_cartesian_2d(0.0..1.0, 0.0..rows)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .y_labels(0)
        .x_labels(6)
        .max_light_lines(0)
        .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .x_label_style((FONT, 12))
        .x_desc(x_desc)
        .axis_desc_style((FONT, 12))
        .draw()?;
    Ok(chart)
}

/// Stacked horizontal bar per article: each label's share of the article's sentences
/// ([`ArticleSummary::shares`]), one colour per label, a legend, and the article titles (or doc ids),
/// shortened to 40 characters, on the axis. Articles come top to bottom in report order; an article
/// without sentences gets no bar. Returns an SVG document (fixed width; the height grows with the number
/// of articles and labels).
pub fn articles_chart(report: &Report) -> String {
    let rows = report.articles.len();
    let header = CAPTION_HEIGHT + legend_height(&report.labels) + 8;
    let body = if rows == 0 { 80 } else { rows as u32 * ARTICLE_ROW + X_AXIS_HEIGHT + 2 * MARGIN };
    svg(header + body, |root| {
        let (top, rest) = root.split_vertically(header);
        draw_header(&top, "Narrative mix per article (share of sentences)", &report.labels)?;
        if rows == 0 {
            return draw_message(&rest, "no articles");
        }
        let n = rows as f64;
        let mut chart = share_chart(&rest, n, "share of the article's sentences")?;
        for (i, article) in report.articles.iter().enumerate() {
            // Row i spans [n - i - 1, n - i]: the first article is at the top.
            let centre = n - i as f64 - 0.5;
            let (label_x, label_y) = chart.backend_coord(&(0.0, centre));
            root.draw(&Text::new(
                shorten(article_name(article), MAX_NAME),
                (label_x - 8, label_y),
                text_style(13, BLACK, HPos::Right, VPos::Center),
            ))?;
            let shares: Vec<f64> = article.shares.iter().map(|&s| unit(s).unwrap_or(0.0)).collect();
            let total: f64 = shares.iter().sum();
            if article.sentences == 0 || total <= 0.0 {
                root.draw(&Text::new(
                    "no sentences",
                    (label_x + 6, label_y),
                    text_style(12, GREY, HPos::Left, VPos::Center),
                ))?;
                continue;
            }
            // Segment ends are cumulative shares over their sum, so every full bar ends exactly at 100%.
            let (low, high) = (centre - BAR_FILL / 2.0, centre + BAR_FILL / 2.0);
            let mut cumulative = 0.0;
            let segments: Vec<_> = shares
                .iter()
                .enumerate()
                .filter_map(|(l, &share)| {
                    let start = cumulative / total;
                    cumulative += share;
                    let end = if l + 1 == shares.len() { 1.0 } else { cumulative / total };
                    (share > 0.0).then(|| Rectangle::new([(start, low), (end, high)], colour(l).filled()))
                })
                .collect();
            chart.draw_series(segments)?;
        }
        Ok(())
    })
}

/// Per group ([`super::GroupSummary`]), for each label the pooled share as a point with its 95% interval
/// (`pooled[i].low..high`) as a horizontal error bar, in the label's colour. Groups come top to bottom in
/// report order, their labels in label order. Groups flagged `too_few_articles` get ` *` after their name
/// and hollow points, explained in a note. Returns an SVG document (fixed width; the height grows with
/// groups × labels).
pub fn groups_chart(report: &Report) -> String {
    let n_labels = report.labels.len();
    let n_groups = report.groups.len();
    let header = CAPTION_HEIGHT + legend_height(&report.labels) + 8;
    let empty = n_groups == 0 || n_labels == 0;
    let block = n_labels + 1;
    let body =
        if empty { 80 } else { (n_groups * block) as u32 * GROUP_LABEL_ROW + X_AXIS_HEIGHT + 2 * MARGIN + NOTE_HEIGHT };
    svg(header + body, |root| {
        let (top, rest) = root.split_vertically(header);
        draw_header(&top, "Pooled share of sentences per group, with 95% intervals", &report.labels)?;
        if empty {
            return draw_message(&rest, if n_groups == 0 { "no groups" } else { "no labels" });
        }
        let (plot, note) = rest.split_vertically(body - NOTE_HEIGHT);
        let total = (n_groups * block) as f64;
        let mut chart = share_chart(
            &plot,
            total,
            "pooled share of the group's sentences (bar: 95% bootstrap interval over articles)",
        )?;
        let mut flagged = false;
        for (g, group) in report.groups.iter().enumerate() {
            // Group g's block spans [total - (g + 1) * block, total - g * block], a label row's centre
            // one unit below the block's top for the first label, one unit above its bottom for the last.
            let block_top = total - (g * block) as f64;
            if g > 0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, block_top), (1.0, block_top)],
                    LIGHT_GREY.stroke_width(1),
                )))?;
            }
            let (label_x, label_y) = chart.backend_coord(&(0.0, block_top - block as f64 / 2.0));
            let mut name = shorten(&group.group, MAX_NAME);
            if group.too_few_articles {
                name.push_str(" *");
                flagged = true;
            }
            root.draw(&Text::new(name, (label_x - 8, label_y - 8), text_style(13, BLACK, HPos::Right, VPos::Center)))?;
            let size = format!(
                "{} article{}, {} sentence{}",
                group.articles,
                if group.articles == 1 { "" } else { "s" },
                group.sentences,
                if group.sentences == 1 { "" } else { "s" }
            );
            root.draw(&Text::new(size, (label_x - 8, label_y + 8), text_style(11, GREY, HPos::Right, VPos::Center)))?;
            let bars: Vec<_> = group
                .pooled
                .iter()
                .take(n_labels)
                .enumerate()
                .filter_map(|(l, interval)| {
                    let (low, estimate, high) = (unit(interval.low)?, unit(interval.estimate)?, unit(interval.high)?);
                    let (low, high) = if low <= high { (low, high) } else { (high, low) };
                    let style = colour(l).stroke_width(2);
                    let style = if group.too_few_articles { style } else { style.filled() };
                    let y = block_top - 1.0 - l as f64;
                    Some(ErrorBar::new_horizontal(y, low, estimate, high, style, ERROR_CAP))
                })
                .collect();
            chart.draw_series(bars)?;
        }
        let text = if flagged {
            format!(
                "* fewer than {} articles: the intervals are not to be trusted (hollow points)",
                report.options.min_articles
            )
        } else {
            "points: pooled share; bars: 95% percentile bootstrap interval, resampling articles".to_owned()
        };
        note.draw(&Text::new(text, (MARGIN as i32, 4), text_style(12, GREY, HPos::Left, VPos::Top)))?;
        Ok(())
    })
}

/// `text` with the five HTML special characters escaped, safe in element content and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A share as a percentage with one decimal.
fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// An interval as `45.0% [30.1–60.2]`.
fn interval(value: &super::stats::Interval) -> String {
    format!("{:.1}% [{:.1}–{:.1}]", value.estimate * 100.0, value.low * 100.0, value.high * 100.0)
}

/// A p-value with four decimals, `<0.0001` below that.
fn p_value(p: f64) -> String {
    if p < 0.0001 { "&lt;0.0001".to_owned() } else { format!("{p:.4}") }
}

/// The page's style sheet.
const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;\
max-width:1100px;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ddd}\
h3{font-size:1.05em;margin-bottom:.3em}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}\
th,td{border:1px solid #ddd;padding:.3em .55em;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
tr.flagged td{background:#fff8e6}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}\
dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}\
figure{margin:1em 0;overflow-x:auto}svg{max-width:100%;height:auto}\
.note{color:#666;font-size:.9em}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;\
vertical-align:baseline}\
ul.evidence{margin:.2em 0 1em;padding-left:1.2em}ul.evidence li{margin:.2em 0}\
.label{font-weight:600}.empty{color:#666;font-style:italic}";

/// Header cell of a label, with its chart colour.
fn label_header(labels: &[String], l: usize) -> String {
    format!("<th><span class=\"swatch\" style=\"background:{}\"></span>{}</th>", hex(colour(l)), escape(&labels[l]))
}

/// One self-contained HTML page (inline CSS, the two SVGs embedded inline, no external resources, readable
/// offline): title, model summary (path, BLAKE3, options), a groups table (articles, sentences, each
/// label's pooled share as `45.0% [30.1–60.2]`, flagged groups marked with ` *`), a table of mean article
/// shares, a comparisons table (a, b, TVD, permutation p, chi-square p, Cramér's V), an articles table
/// (doc, title, group, sentences, dominant, intensity, each label's share), and per article the evidence
/// sentences. Every string from the report is HTML-escaped; `articles_svg` and `groups_svg` (normally
/// from [`articles_chart`] and [`groups_chart`]) are inserted as they are. The tables have ids `groups`,
/// `groups-mean`, `comparisons` and `articles`; the SVGs are inside elements with ids `articles-chart`
/// and `groups-chart`; each article's evidence is under id `article-N` (N from 1, in report order).
pub fn html(report: &Report, articles_svg: &str, groups_svg: &str) -> String {
    let labels = &report.labels;
    let options = &report.options;
    let mut out = String::with_capacity(64 * 1024 + articles_svg.len() + groups_svg.len());
    let sentences = report.sentences;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Narrative report by {group_by}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
<h1>Narrative report by {group_by}</h1>\n\
<p>{articles} article{articles_s}, {sentences} sentence{sentences_s}, {groups} group{groups_s} \
(grouped by <code>{group_by}</code>); labels: {labels}.</p>\n",
        group_by = escape(&options.group_by),
        articles = report.article_count,
        articles_s = if report.article_count == 1 { "" } else { "s" },
        sentences_s = if sentences == 1 { "" } else { "s" },
        groups = report.groups.len(),
        groups_s = if report.groups.len() == 1 { "" } else { "s" },
        labels = labels.iter().map(|l| format!("<code>{}</code>", escape(l))).collect::<Vec<_>>().join(", "),
    );

    // The model and the options.
    let _ = write!(
        out,
        "<h2>Model</h2>\n<dl id=\"model\">\n<dt>model file</dt><dd>{}</dd>\n<dt>BLAKE3</dt><dd>{}</dd>\n\
<dt>options</dt><dd>{}</dd>\n<dt>training data BLAKE3</dt><dd>{}</dd>\n\
<dt>report options</dt><dd>group by {}, {} bootstrap resamples, {} permutations, seed {}, \
at least {} articles per group, {} evidence sentences per narrative, neutral label {}</dd>\n</dl>\n",
        escape(&report.model.path),
        escape(&report.model.blake3),
        escape(&report.model.options),
        escape(&report.model.training_data),
        escape(&options.group_by),
        options.resamples,
        options.permutations,
        options.seed,
        options.min_articles,
        options.top,
        escape(&options.neutral_label),
    );

    // Charts.
    let _ = write!(
        out,
        "<h2>Charts</h2>\n<figure id=\"groups-chart\">\n{groups_svg}\n</figure>\n\
<figure id=\"articles-chart\">\n{articles_svg}\n</figure>\n"
    );

    // Groups.
    let flag = |flagged: bool| if flagged { " *" } else { "" };
    out.push_str(
        "<h2>Groups</h2>\n<p class=\"note\">Pooled share: the share of all the group's sentences \
with the label, with a 95% percentile bootstrap interval resampling articles.</p>\n",
    );
    out.push_str("<table id=\"groups\">\n<thead><tr><th>group</th><th>articles</th><th>sentences</th>");
    for l in 0..labels.len() {
        out.push_str(&label_header(labels, l));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for group in &report.groups {
        let _ = write!(
            out,
            "<tr{}><td>{}{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            if group.too_few_articles { " class=\"flagged\"" } else { "" },
            escape(&group.group),
            flag(group.too_few_articles),
            group.articles,
            group.sentences
        );
        for l in 0..labels.len() {
            let cell = group.pooled.get(l).map_or_else(|| "–".to_owned(), interval);
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    if report.groups.is_empty() {
        out.push_str("<p class=\"empty\">No groups.</p>\n");
    }
    if report.groups.iter().any(|g| g.too_few_articles) {
        let _ = writeln!(
            out,
            "<p class=\"note\">* fewer than {} articles: the intervals are not to be trusted.</p>",
            options.min_articles
        );
    }

    // Mean article shares.
    out.push_str(
        "<h3>Mean article share</h3>\n<p class=\"note\">Each article's own share, averaged over \
the group's articles (every article one vote; the pooled share weights long articles more), with a 95% \
bootstrap interval.</p>\n",
    );
    out.push_str("<table id=\"groups-mean\">\n<thead><tr><th>group</th>");
    for l in 0..labels.len() {
        out.push_str(&label_header(labels, l));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for group in &report.groups {
        let _ = write!(
            out,
            "<tr{}><td>{}{}</td>",
            if group.too_few_articles { " class=\"flagged\"" } else { "" },
            escape(&group.group),
            flag(group.too_few_articles)
        );
        for l in 0..labels.len() {
            let cell = group.mean_of_articles.get(l).map_or_else(|| "–".to_owned(), interval);
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");

    // Comparisons.
    out.push_str(
        "<h2>Comparisons</h2>\n<p class=\"note\">TVD: total variation distance between the groups' \
mean article shares (0: same mix, 1: nothing in common). Permutation p: permuting whole articles between \
the two groups. The chi-square test treats sentences as independent and so overstates significance; \
prefer the permutation p.</p>\n",
    );
    out.push_str(
        "<table id=\"comparisons\">\n<thead><tr><th>a</th><th>b</th><th>TVD</th><th>permutation p</th>\
<th>chi-square p</th><th>Cramér's V</th></tr></thead>\n<tbody>\n",
    );
    for c in &report.comparisons {
        let d = &c.difference;
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{:.3}</td><td class=\"num\">{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{:.3}</td></tr>",
            escape(&c.a),
            escape(&c.b),
            d.tvd,
            p_value(d.permutation_p),
            p_value(d.chi_square_p),
            d.cramers_v
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if report.comparisons_skipped() {
        let _ = writeln!(
            out,
            "<p class=\"empty\">Not compared: {} groups, more than <code>--compared-groups</code> {}.</p>",
            report.groups.len(),
            report.options.compared_groups
        );
    } else if report.comparisons.is_empty() {
        out.push_str("<p class=\"empty\">No pairs of groups to compare.</p>\n");
    }

    // Articles.
    out.push_str(
        "<h2>Articles</h2>\n<p class=\"note\">Share: the share of the article's sentences with the \
label. Intensity: the share of sentences not labelled neutral.</p>\n",
    );
    if report.article_count > report.articles.len() {
        let _ = writeln!(
            out,
            "<p class=\"note\">The first {} of {} articles; articles.csv lists them all.</p>",
            report.articles.len(),
            report.article_count
        );
    }
    out.push_str(
        "<table id=\"articles\">\n<thead><tr><th>doc</th><th>title</th><th>group</th><th>sentences</th>\
<th>dominant</th><th>intensity</th>",
    );
    for l in 0..labels.len() {
        out.push_str(&label_header(labels, l));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, a) in report.articles.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td><a href=\"#article-{}\">{}</a></td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
<td>{}</td><td class=\"num\">{}</td>",
            i + 1,
            escape(&a.doc),
            a.title.as_deref().map_or_else(String::new, escape),
            escape(&a.group),
            a.sentences,
            escape(&a.dominant),
            percent(a.intensity)
        );
        for l in 0..labels.len() {
            let cell = a.shares.get(l).map_or_else(|| "–".to_owned(), |&s| percent(s));
            let _ = write!(out, "<td class=\"num\">{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    if report.articles.is_empty() {
        out.push_str("<p class=\"empty\">No articles.</p>\n");
    }

    // Evidence.
    out.push_str(
        "<h2>Evidence</h2>\n<p class=\"note\">Per article, the sentences that carry each narrative \
most strongly (sentence number, posterior probability).</p>\n<div id=\"evidence\">\n",
    );
    for (i, a) in report.articles.iter().enumerate() {
        let _ = write!(out, "<section id=\"article-{}\">\n<h3>{}</h3>\n", i + 1, escape(article_name(a)));
        let _ = writeln!(
            out,
            "<p class=\"note\">{} · {} · {} sentence{} · dominant {} · intensity {}</p>",
            escape(&a.doc),
            escape(&a.group),
            a.sentences,
            if a.sentences == 1 { "" } else { "s" },
            escape(&a.dominant),
            percent(a.intensity)
        );
        if a.evidence.is_empty() {
            out.push_str("<p class=\"empty\">No narrative sentences.</p>\n");
        } else {
            out.push_str("<ul class=\"evidence\">\n");
            for e in &a.evidence {
                let swatch = labels.iter().position(|l| *l == e.label).map_or_else(String::new, |l| {
                    format!("<span class=\"swatch\" style=\"background:{}\"></span>", hex(colour(l)))
                });
                let _ = writeln!(
                    out,
                    "<li>{swatch}<span class=\"label\">{}</span> (sentence {}, p = {:.3}): {}</li>",
                    escape(&e.label),
                    e.sentence,
                    e.probability,
                    escape(&e.text)
                );
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</section>\n");
    }
    out.push_str("</div>\n");
    let _ = writeln!(out, "<p class=\"note\">Made by narrative {}.</p>\n</body>\n</html>", env!("CARGO_PKG_VERSION"));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::stats::{GroupDifference, Interval};
    use super::super::{ArticleSummary, Evidence, GroupComparison, GroupSummary, ModelSummary, Report, ReportOptions};
    use super::*;

    fn labels() -> Vec<String> {
        ["isis_attribution", "neutral", "ukraine_west_blame", "warning_claim"].map(String::from).to_vec()
    }

    fn article(doc: &str, title: Option<&str>, group: &str, counts: &[u64]) -> ArticleSummary {
        let sentences: u64 = counts.iter().sum();
        let shares: Vec<f64> =
            counts.iter().map(|&c| if sentences == 0 { 0.0 } else { c as f64 / sentences as f64 }).collect();
        ArticleSummary {
            doc: doc.into(),
            title: title.map(String::from),
            group: group.into(),
            meta: BTreeMap::new(),
            sentences,
            counts: counts.to_vec(),
            shares: shares.clone(),
            soft_shares: shares.clone(),
            dominant: "neutral".into(),
            intensity: 1.0 - shares.get(1).copied().unwrap_or(0.0),
            evidence: vec![Evidence {
                label: "ukraine_west_blame".into(),
                sentence: 2,
                probability: 0.987654,
                text: format!("Kyiv & <b>friends</b> did it, says {doc}."),
            }],
        }
    }

    fn iv(estimate: f64, low: f64, high: f64) -> Interval {
        Interval { estimate, low, high }
    }

    fn model() -> ModelSummary {
        ModelSummary {
            path: "models/narrative.model".into(),
            blake3: "ab".repeat(32),
            options: "ngrams=1-2 min_df=2 alpha=0.3".into(),
            training_data: "cd".repeat(32),
        }
    }

    fn sample() -> Report {
        let articles = vec![
            article("seeds/a.txt", Some("Investigators see <script>alert(1)</script> trace"), "RT", &[2, 1, 1, 0]),
            article("seeds/b.txt", None, "RT", &[1, 2, 3, 4]),
            article(
                "seeds/c.txt",
                Some("A very long title about the Crocus City Hall attack and what everybody said about it"),
                "TASS",
                &[1, 0, 2, 0],
            ),
            article("seeds/d.txt", Some(""), "TASS", &[0, 0, 0, 0]),
            article("seeds/e.txt", Some("Wire story"), "TASS", &[3, 5, 1, 8]),
        ];
        let groups = vec![
            GroupSummary {
                group: "RT".into(),
                articles: 2,
                sentences: 14,
                pooled: vec![iv(0.214, 0.1, 0.4), iv(0.214, 0.0, 1.0), iv(0.286, 0.25, 0.3), iv(0.286, 0.0, 0.4)],
                mean_of_articles: vec![iv(0.3, 0.1, 0.5); 4],
                too_few_articles: true,
            },
            GroupSummary {
                group: "TASS".into(),
                articles: 3,
                sentences: 20,
                pooled: vec![iv(0.2, 0.15, 0.333), iv(0.25, 0.2, 0.3), iv(0.15, 0.05, 0.667), iv(0.4, 0.4, 0.4)],
                mean_of_articles: vec![iv(0.25, 0.1, 0.4); 4],
                too_few_articles: false,
            },
        ];
        let comparisons = vec![GroupComparison {
            a: "RT".into(),
            b: "TASS".into(),
            difference: GroupDifference {
                tvd: 0.1234,
                permutation_p: 0.00004,
                permutations: 2000,
                chi_square: 3.5,
                degrees_of_freedom: 3,
                chi_square_p: 0.3208,
                cramers_v: 0.25,
            },
        }];
        let (article_count, sentences) = (articles.len(), articles.iter().map(|a| a.sentences).sum());
        Report {
            labels: labels(),
            model: model(),
            options: ReportOptions::default(),
            articles,
            article_count,
            sentences,
            groups,
            comparisons,
        }
    }

    fn empty() -> Report {
        Report {
            labels: labels(),
            model: model(),
            options: ReportOptions::default(),
            articles: Vec::new(),
            article_count: 0,
            sentences: 0,
            groups: Vec::new(),
            comparisons: Vec::new(),
        }
    }

    /// Every `<tag .../>` element of `svg` (the SVG backend writes one element per line).
    fn elements<'a>(svg: &'a str, tag: &str) -> Vec<&'a str> {
        let open = format!("<{tag} ");
        svg.lines().filter(|l| l.starts_with(&open)).collect()
    }

    fn attr<'a>(element: &'a str, name: &str) -> &'a str {
        let key = format!(" {name}=\"");
        let start = element.find(&key).unwrap_or_else(|| panic!("no {name} in {element}")) + key.len();
        &element[start..start + element[start..].find('"').unwrap()]
    }

    fn num(element: &str, name: &str) -> f64 {
        attr(element, name).parse().unwrap()
    }

    fn label_of(fill: &str, n: usize) -> Option<usize> {
        (0..n).find(|&l| hex(colour(l)) == fill)
    }

    #[test]
    fn article_bars_are_proportional_to_shares() {
        let report = sample();
        let svg = articles_chart(&report);
        assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        let n = report.labels.len();
        // (y, x, width, label) of every bar segment: a label-coloured rect taller than a legend swatch.
        let mut segments: Vec<(i64, f64, f64, usize)> = elements(&svg, "rect")
            .into_iter()
            .filter_map(|r| {
                let label = label_of(attr(r, "fill"), n)?;
                (num(r, "height") > SWATCH as f64).then(|| (num(r, "y") as i64, num(r, "x"), num(r, "width"), label))
            })
            .collect();
        segments.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut rows: Vec<i64> = segments.iter().map(|s| s.0).collect();
        rows.dedup();
        let with_sentences: Vec<&ArticleSummary> = report.articles.iter().filter(|a| a.sentences > 0).collect();
        assert_eq!(rows.len(), with_sentences.len(), "one bar per article with sentences");
        let mut full_widths = Vec::new();
        let mut starts = Vec::new();
        for (row, article) in rows.iter().zip(&with_sentences) {
            let bar: Vec<_> = segments.iter().filter(|s| s.0 == *row).collect();
            let expected_labels: Vec<usize> = (0..n).filter(|&l| article.shares[l] > 0.0).collect();
            assert_eq!(bar.iter().map(|s| s.3).collect::<Vec<_>>(), expected_labels, "{}", article.doc);
            for pair in bar.windows(2) {
                assert_eq!(pair[0].1 + pair[0].2, pair[1].1, "segments touch");
            }
            let full: f64 = bar.iter().map(|s| s.2).sum();
            for s in &bar {
                let expected = article.shares[s.3] * full;
                assert!((s.2 - expected).abs() <= 1.0, "{}: width {} vs {expected}", article.doc, s.2);
            }
            full_widths.push(full);
            starts.push(bar[0].1);
        }
        assert!(full_widths.iter().all(|&w| w == full_widths[0] && w > 400.0), "{full_widths:?}");
        assert!(starts.iter().all(|&x| x == starts[0]));
        // Titles (escaped, shortened) or doc ids label the rows.
        assert!(svg.contains(">\nInvestigators see &lt;script&gt;alert(1)&lt;/scr…\n</text>"));
        assert!(svg.contains("seeds/b.txt") && svg.contains("seeds/d.txt") && svg.contains("no sentences"));
        assert!(svg.contains("A very long title about the Crocus City…"));
        // The legend names every label with its colour.
        for (l, label) in report.labels.iter().enumerate() {
            assert!(svg.contains(&format!(">\n{label}\n</text>")), "{label}");
            assert!(elements(&svg, "rect").iter().any(|r| attr(r, "fill") == hex(colour(l))));
        }
        assert_eq!(svg, articles_chart(&report), "byte-stable");
    }

    #[test]
    fn group_error_bars_map_to_intervals() {
        let report = sample();
        let svg = groups_chart(&report);
        let n = report.labels.len();
        // Horizontal label-coloured lines are the error bars; sorted top to bottom they come group by group.
        let mut bars: Vec<(f64, f64, f64, usize)> = elements(&svg, "line")
            .into_iter()
            .filter_map(|e| {
                let label = label_of(attr(e, "stroke"), n)?;
                (num(e, "y1") == num(e, "y2")).then(|| (num(e, "y1"), num(e, "x1"), num(e, "x2"), label))
            })
            .collect();
        bars.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(bars.len(), report.groups.len() * n);
        let expected: Vec<(usize, usize)> =
            (0..report.groups.len()).flat_map(|g| (0..n).map(move |l| (g, l))).collect();
        // RT's neutral interval is 0..1: it calibrates the axis.
        let calibration = bars[1];
        assert_eq!(calibration.3, 1);
        let (x0, x1) = (calibration.1, calibration.2);
        assert!(x1 - x0 > 400.0);
        let px = |v: f64| x0 + v * (x1 - x0);
        let circles = elements(&svg, "circle");
        for (bar, &(g, l)) in bars.iter().zip(&expected) {
            let interval = report.groups[g].pooled[l];
            assert_eq!(bar.3, l, "label order within a group");
            assert!(bar.1 <= bar.2);
            assert!((bar.1 - px(interval.low)).abs() <= 1.0, "{g} {l} low");
            assert!((bar.2 - px(interval.high)).abs() <= 1.0, "{g} {l} high");
            let length = (interval.high - interval.low) * (x1 - x0);
            assert!((bar.2 - bar.1 - length).abs() <= 1.0, "{g} {l} length");
            // Caps at both ends, the point at the estimate (hollow for the flagged group).
            let caps = elements(&svg, "line")
                .into_iter()
                .filter(|e| attr(e, "stroke") == hex(colour(l)) && num(e, "x1") == num(e, "x2"))
                .filter(|e| num(e, "y1") < bar.0 && num(e, "y2") > bar.0)
                .count();
            assert_eq!(caps, 2, "{g} {l} caps");
            let point = circles.iter().find(|c| num(c, "cy") == bar.0).expect("point");
            assert!((num(point, "cx") - px(interval.estimate)).abs() <= 1.0);
            let hollow = attr(point, "fill") == "none";
            assert_eq!(hollow, report.groups[g].too_few_articles);
        }
        // Ordering: within TASS, ukraine_west_blame's interval is the widest.
        let tass = &bars[n..];
        assert!(tass[2].2 - tass[2].1 > tass[0].2 - tass[0].1);
        assert_eq!(tass[3].1, tass[3].2, "zero-width interval");
        assert!(svg.contains(">\nRT *\n</text>") && svg.contains(">\nTASS\n</text>"));
        assert!(svg.contains("* fewer than 3 articles"));
        assert_eq!(svg, groups_chart(&report), "byte-stable");
    }

    fn table<'a>(page: &'a str, id: &str) -> &'a str {
        let start = page.find(&format!("<table id=\"{id}\">")).unwrap_or_else(|| panic!("no table {id}"));
        &page[start..start + page[start..].find("</table>").unwrap()]
    }

    fn body_rows(table: &str) -> usize {
        let body = &table[table.find("<tbody>").unwrap()..];
        body.matches("<tr").count()
    }

    #[test]
    fn html_page_is_complete_escaped_and_offline() {
        let report = sample();
        let (a, g) = (articles_chart(&report), groups_chart(&report));
        let page = html(&report, &a, &g);
        assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
        assert_eq!(body_rows(table(&page, "groups")), report.groups.len());
        assert_eq!(body_rows(table(&page, "comparisons")), report.comparisons.len());
        assert_eq!(body_rows(table(&page, "articles")), report.articles.len());
        let groups = table(&page, "groups");
        assert!(groups.contains("<td>RT *</td>") && groups.contains("<td>TASS</td>"));
        assert!(groups.contains("21.4% [10.0–40.0]"), "{groups}");
        let comparisons = table(&page, "comparisons");
        assert!(comparisons.contains("0.123") && comparisons.contains("&lt;0.0001") && comparisons.contains("0.3208"));
        let articles = table(&page, "articles");
        assert!(articles.contains("33.3%") && articles.contains("66.7%") && articles.contains("25.0%"));
        // Both SVGs, inside their figures.
        let figure = |id: &str| {
            let start = page.find(&format!("id=\"{id}\"")).unwrap();
            &page[start..start + page[start..].find("</figure>").unwrap()]
        };
        assert!(figure("articles-chart").contains(a.trim_end()));
        assert!(figure("groups-chart").contains(g.trim_end()));
        // Escaping: no raw markup from the report.
        assert!(!page.contains("<script") && !page.contains("<b>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("Kyiv &amp; &lt;b&gt;friends&lt;/b&gt; did it"));
        // Evidence per article.
        assert_eq!(page.matches("<section id=\"article-").count(), report.articles.len());
        assert!(page.contains("p = 0.988"));
        // Nothing outside the page but the SVG namespace.
        let without_ns = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
        assert!(!without_ns.contains(" src=") && !without_ns.contains("@import") && !without_ns.contains("url("));
        assert_eq!(page, html(&report, &a, &g), "byte-stable");
    }

    #[test]
    fn empty_reports_render() {
        let report = empty();
        let (a, g) = (articles_chart(&report), groups_chart(&report));
        assert!(a.contains("no articles") && a.trim_end().ends_with("</svg>"));
        assert!(g.contains("no groups") && g.trim_end().ends_with("</svg>"));
        let page = html(&report, &a, &g);
        for id in ["groups", "comparisons", "articles"] {
            assert_eq!(body_rows(table(&page, id)), 0);
        }
        // No labels at all, and an article without sentences or shares.
        let mut bare = empty();
        bare.labels.clear();
        bare.articles.push(article("x", None, "(none)", &[]));
        bare.groups.push(GroupSummary {
            group: "(none)".into(),
            articles: 1,
            sentences: 0,
            pooled: Vec::new(),
            mean_of_articles: Vec::new(),
            too_few_articles: true,
        });
        let (a, g) = (articles_chart(&bare), groups_chart(&bare));
        assert!(a.contains("no sentences") && g.contains("no labels"));
        html(&bare, &a, &g);
    }

    #[test]
    fn many_labels_and_odd_values() {
        let mut report = sample();
        report.labels = (0..23).map(|l| format!("label_{l}")).collect();
        for a in &mut report.articles {
            a.shares.resize(23, 0.0);
        }
        report.articles[0].shares[22] = 0.5;
        report.groups[0].pooled.resize(23, iv(f64::NAN, 0.2, f64::INFINITY));
        report.groups[1].pooled.resize(23, iv(0.5, 0.7, 0.3));
        let (a, g) = (articles_chart(&report), groups_chart(&report));
        html(&report, &a, &g);
        for l in 0..23 {
            assert!(a.contains(&format!(">\nlabel_{l}\n</text>")));
        }
        let colours: std::collections::BTreeSet<String> = (0..30).map(|l| hex(colour(l))).collect();
        assert_eq!(colours.len(), 30, "30 distinct colours before they repeat");
        assert_eq!(colour(30), colour(0));
    }

    #[test]
    fn shorten_cuts_on_characters() {
        assert_eq!(shorten("short", 40), "short");
        assert_eq!(shorten("a\nb\t c", 40), "a b c");
        assert_eq!(shorten("Крокус Сити Холл: что известно", 10), "Крокус Си…");
        assert_eq!(shorten(&"x".repeat(50), 40).chars().count(), 40);
    }
}
