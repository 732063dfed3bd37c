//! Sentence splitting for news text.
//!
//! Articles arrive as paragraphs, headlines, captions, quotes and list items. The splitter first cuts the
//! text into blocks at line breaks (a line break between paragraphs always ends a sentence; a hard-wrapped
//! line that continues in lower case is joined), strips list markers, then hands each block to `sentencex`,
//! which knows abbreviations and initials ("U.S.", "Maj. Gen.", "Dr.", "St. Petersburg") and keeps a closing
//! quote with its sentence. One gap in `sentencex` is repaired here: an abbreviation followed by a number
//! ("approx. 8") is re-joined. Every sentence keeps its byte span in the source.

use super::Span;

/// One sentence: its text (a slice of the source) and where it sits in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    /// The sentence text, trimmed of surrounding white space and list markers.
    pub text: &'a str,
    /// Byte offsets of `text` in the source.
    pub span: Span,
}

/// Splits `text` into sentences, in order. Spans are byte offsets into `text`, never overlap, and lie on
/// char boundaries; white space and list markers between sentences belong to no sentence.
pub fn split(text: &str) -> Vec<Sentence<'_>> {
    let mut out = Vec::new();
    for block in blocks(text) {
        split_block(text, block, &mut out);
    }
    out
}

/// Cuts `text` into blocks: a line is its own block unless the next line continues it in lower case
/// (a hard-wrapped paragraph). A blank line always ends a block.
fn blocks(text: &str) -> Vec<Span> {
    let mut blocks = Vec::new();
    let mut current: Option<Span> = None;
    for line in lines(text) {
        let content = &text[line.start..line.end];
        let trimmed = content.trim();
        if trimmed.is_empty() {
            blocks.extend(current.take());
            continue;
        }
        current = match current {
            Some(prev) if continues(&text[prev.start..prev.end], trimmed) => Some(Span::new(prev.start, line.end)),
            Some(prev) => {
                blocks.push(prev);
                Some(line)
            }
            None => Some(line),
        };
    }
    blocks.extend(current);
    blocks
}

/// The lines of `text` without their terminators; `\n`, `\r\n` and a lone `\r` each end a line.
fn lines(text: &str) -> impl Iterator<Item = Span> + '_ {
    let bytes = text.as_bytes();
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= bytes.len() {
            return None;
        }
        let start = pos;
        let end = bytes[start..].iter().position(|&b| b == b'\n' || b == b'\r').map_or(bytes.len(), |i| start + i);
        pos = end + 1;
        if bytes.get(end) == Some(&b'\r') && bytes.get(end + 1) == Some(&b'\n') {
            pos += 1;
        }
        Some(Span::new(start, end))
    })
}

/// A line continues the previous one when the previous one has no closing punctuation and this one starts
/// in lower case: the signature of hard-wrapped prose rather than a new paragraph or headline.
fn continues(previous: &str, next: &str) -> bool {
    let ends_open = !previous.trim_end().ends_with(['.', '!', '?', ':', ';', '"', '\u{201d}', '\'', '\u{2019}', ')']);
    ends_open && next.chars().next().is_some_and(char::is_lowercase)
}

/// Length in bytes of a list marker at the start of `s` ("• ", "- ", "* ", "1. ", "2) ", "a) "), or 0.
fn list_marker_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let after = |i: usize| {
        let rest = &s[i..];
        let ws = rest.len() - rest.trim_start().len();
        if ws > 0 { i + ws } else { 0 }
    };
    if matches!(first, '•' | '◦' | '▪' | '·' | '-' | '*' | '–' | '—' | '►') {
        return after(first.len_utf8());
    }
    if first.is_ascii_digit() {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits <= 3 && matches!(s.as_bytes().get(digits), Some(b'.' | b')')) {
            return after(digits + 1);
        }
    }
    0
}

/// Abbreviations that `sentencex` ends a sentence on when a number follows ("approx. 8", "No. 43").
const NUMBER_ABBREVIATIONS: &[&str] =
    &["approx", "ca", "incl", "no", "nos", "nr", "vol", "p", "pp", "fig", "art", "sec", "ch", "est", "vs"];

fn ends_with_number_abbreviation(sentence: &str) -> bool {
    let Some(body) = sentence.strip_suffix('.') else {
        return false;
    };
    let word = body.rsplit(|c: char| !c.is_alphabetic()).next().unwrap_or("");
    NUMBER_ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

/// Blocks longer than this are cut before `sentencex` sees them: its cost grows faster than linearly
/// with the length of one paragraph (a 50 MB line with no line break took 17 s uncut).
const MAX_CHUNK: usize = 16 * 1024;

/// Cuts a long block into pieces of at most [`MAX_CHUNK`] bytes, each ending after the last `. `, `? ` or
/// `! ` in its second half, else at the last white space, else at a char boundary. Short blocks are one
/// piece. Yields `(offset in body, piece)`.
fn chunks(body: &str) -> Vec<(usize, &str)> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while body.len() - start > MAX_CHUNK {
        let mut limit = start + MAX_CHUNK;
        while !body.is_char_boundary(limit) {
            limit -= 1;
        }
        let window = &body[start..limit];
        let half = window.len() / 2;
        let bytes = window.as_bytes();
        let sentence_end = (half..bytes.len().saturating_sub(1))
            .rev()
            .find(|&i| matches!(bytes[i], b'.' | b'?' | b'!') && bytes[i + 1].is_ascii_whitespace())
            .map(|i| i + 1);
        let cut = sentence_end.or_else(|| window.rfind(char::is_whitespace).filter(|&i| i > 0)).unwrap_or(window.len());
        pieces.push((start, &body[start..start + cut]));
        start += cut;
    }
    pieces.push((start, &body[start..]));
    pieces
}

fn split_block<'a>(text: &'a str, block: Span, out: &mut Vec<Sentence<'a>>) {
    let raw = &text[block.start..block.end];
    let lead = raw.len() - raw.trim_start().len();
    let body_start = block.start + lead;
    let body_start = body_start + list_marker_len(&text[body_start..block.end]);
    let first_new = out.len();
    for (offset, piece) in chunks(&text[body_start..block.end]) {
        split_piece(text, body_start + offset, piece, first_new, out);
    }
}

fn split_piece<'a>(text: &'a str, body_start: usize, body: &str, first_new: usize, out: &mut Vec<Sentence<'a>>) {
    for boundary in sentencex::get_sentence_boundaries("en", body) {
        let piece = &body[boundary.start_byte..boundary.end_byte];
        let lead = piece.len() - piece.trim_start().len();
        let trimmed = piece.trim();
        if trimmed.is_empty() {
            continue;
        }
        let start = body_start + boundary.start_byte + lead;
        let span = Span::new(start, start + trimmed.len());
        let joins_previous = out.len() > first_new
            && trimmed.starts_with(|c: char| c.is_ascii_digit())
            && ends_with_number_abbreviation(out[out.len() - 1].text);
        if joins_previous {
            let previous = out.last_mut().expect("checked non-empty above");
            previous.span.end = span.end;
            previous.text = &text[previous.span.start..span.end];
        } else {
            out.push(Sentence { text: &text[span.start..span.end], span });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<&str> {
        split(text).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_a_sentence() {
        let text = "U.S. officials said Maj. Gen. Qasem Soleimani was killed in 2020. Dr. Smith flew to \
                    St. Petersburg on Monday. Mr. J. R. Smith agreed.";
        assert_eq!(
            texts(text),
            [
                "U.S. officials said Maj. Gen. Qasem Soleimani was killed in 2020.",
                "Dr. Smith flew to St. Petersburg on Monday.",
                "Mr. J. R. Smith agreed."
            ]
        );
    }

    #[test]
    fn abbreviation_before_a_number_is_rejoined() {
        assert_eq!(
            texts("The toll was approx. 8 people. Police came."),
            ["The toll was approx. 8 people.", "Police came."]
        );
    }

    #[test]
    fn closing_quote_stays_with_its_sentence() {
        let text = "He said: \u{201c}It is over.\u{201d} Then he left. The group said \"we did it.\" Officials agreed.";
        assert_eq!(
            texts(text),
            [
                "He said: \u{201c}It is over.\u{201d}",
                "Then he left.",
                "The group said \"we did it.\"",
                "Officials agreed."
            ]
        );
    }

    #[test]
    fn line_breaks_end_headlines_and_paragraphs() {
        let text = "Headline without a full stop\n\nFirst paragraph ends here\nA caption line\r\nLast one.";
        assert_eq!(
            texts(text),
            ["Headline without a full stop", "First paragraph ends here", "A caption line", "Last one."]
        );
    }

    #[test]
    fn crlf_and_lone_cr_end_lines() {
        assert_eq!(texts("One\r\ntwo.\r\n\r\nThree\rFour"), ["One\r\ntwo.", "Three", "Four"]);
    }

    #[test]
    fn hard_wrapped_lines_are_joined() {
        assert_eq!(
            texts("The gunmen opened fire on\nconcertgoers at the hall. Then\nthey fled."),
            ["The gunmen opened fire on\nconcertgoers at the hall.", "Then\nthey fled."]
        );
    }

    #[test]
    fn list_markers_are_stripped() {
        let text = "  1. Russian version. Putin spoke.\n  \u{2022} Bullet point here\n- dash item\n12) Twelfth.";
        assert_eq!(texts(text), ["Russian version.", "Putin spoke.", "Bullet point here", "dash item", "Twelfth."]);
    }

    #[test]
    fn spans_point_back_into_the_source() {
        let text = "Kyiv denied it.\n\n  \u{2022} \u{201c}Nothing to do with us,\u{201d} he said. Next one?";
        for sentence in split(text) {
            assert_eq!(&text[sentence.span.start..sentence.span.end], sentence.text);
        }
        assert_eq!(split(text).len(), 3);
    }

    #[test]
    fn very_long_lines_are_cut_at_sentence_ends() {
        let sentence = "The gunmen fled toward the border, officials said. ";
        let text = sentence.repeat(2000);
        let sentences = split(&text);
        assert_eq!(sentences.len(), 2000);
        assert!(sentences.iter().all(|s| s.text == sentence.trim_end()));
        let no_stops = "word ".repeat(10_000);
        let pieces = split(&no_stops);
        assert!(pieces.iter().all(|s| s.text.len() <= MAX_CHUNK));
        let rejoined: Vec<&str> = pieces.iter().flat_map(|s| s.text.split(' ')).collect();
        assert_eq!(rejoined.len(), 10_000, "no word is cut or lost");
    }

    #[test]
    fn empty_and_blank_text_give_no_sentences() {
        assert!(split("").is_empty());
        assert!(split(" \n\n\t \r\n").is_empty());
    }
}
