//! The trace of a run: every event and what happened inside it, with its
//! step and virtual time, naming processes by logical name so that the text
//! is stable whatever the pid numbering. Owns the three renderings: stable
//! text (for snapshots), a Mermaid sequence diagram, and JSON lines.

use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One line of the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceEntry {
    /// A scheduler step begins: one event.
    Step {
        step: u64,
        time_ms: u64,
        key: String,
        event: String,
    },
    /// `parent` spawned `child` (inside a step, or at setup when `step` is 0).
    Spawn {
        parent: String,
        child: String,
        linked: bool,
    },
    /// A signal was queued on the (`from`, `to`) pair.
    Send {
        from: String,
        to: String,
        signal: String,
    },
    /// A signal was dropped on its way to `to`, for the reason `why`.
    Drop {
        from: String,
        to: String,
        signal: String,
        why: DropCause,
    },
    /// A signal was delivered to `to` and handled.
    Deliver {
        from: String,
        to: String,
        signal: String,
    },
    Link {
        from: String,
        to: String,
    },
    Unlink {
        from: String,
        to: String,
    },
    Monitor {
        watcher: String,
        target: String,
        mref: u64,
    },
    Demonitor {
        watcher: String,
        target: String,
        mref: u64,
        flushed: bool,
    },
    /// A process exited.
    Exit {
        pid: String,
        reason: String,
    },
    TimerStart {
        owner: String,
        timer: u64,
        deadline_ms: u64,
    },
    TimerCancel {
        owner: String,
        timer: u64,
    },
    /// Free text from a process (a client's dialogue line, a fault's effect).
    Note {
        pid: String,
        text: String,
    },
}

/// Why a signal was dropped instead of delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropCause {
    /// The receiver was dead (S4), or died with the signal still queued.
    Dead,
    /// The receiver is alive, but the signal was sent to one of its aliases
    /// (a call's reply) that it had deactivated, as a caller does when the
    /// call ends (S22): the alias's ref number.
    AliasInactive(u64),
}

/// All entries of one run, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub entries: Vec<TraceEntry>,
    /// Every process spawned while tracing, by pid number: a pid inside a
    /// traced message (`{:ok, <0.3.0>}`) is printed by its logical name as
    /// the term is rendered (`{:ok, bucket:a#0}`), so that the text does
    /// not depend on pid numbering. The name is put where the pid is, by
    /// the pid's own formatting: no text is ever searched and replaced, so
    /// user data that looks like a pid (a bucket named `<0.1.0>`) stays as
    /// written.
    pub pid_names: BTreeMap<u64, String>,
}

impl Trace {
    /// Stable text: one line per entry, steps flush left, the rest indented.
    /// A delivery that is the step itself is said once, on the step's line.
    pub fn to_text(&self) -> String {
        self.render_all(Rendering::Text)
    }

    /// JSON lines: one object per entry, its `kind` first.
    pub fn to_json_lines(&self) -> String {
        self.render_all(Rendering::Json)
    }

    /// A Mermaid sequence diagram: an arrow per delivery, notes for spawns,
    /// exits and dialogue lines.
    pub fn to_mermaid(&self) -> String {
        let mut renderer = Renderer::new(Rendering::Mermaid);
        let mut body = String::new();
        for entry in &self.entries {
            renderer.render(entry, &mut body);
        }
        let mut out = mermaid_header(renderer.participants());
        out.push_str(&body);
        out
    }

    fn render_all(&self, rendering: Rendering) -> String {
        let mut renderer = Renderer::new(rendering);
        let mut out = String::new();
        for entry in &self.entries {
            renderer.render(entry, &mut out);
        }
        out
    }
}

/// How a trace is rendered (see [`Trace::to_text`], [`Trace::to_mermaid`],
/// [`Trace::to_json_lines`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rendering {
    Text,
    Mermaid,
    Json,
}

/// Renders trace entries one at a time, as they are produced, into exactly
/// the text the whole-trace renderings give (for Mermaid, the body: its
/// header lists every participant, so it is written once they are known,
/// e.g. from an earlier run of the same case, see
/// [`Renderer::with_participants`]).
#[derive(Clone, Debug)]
pub struct Renderer {
    rendering: Rendering,
    /// The last entry was a step (a delivery right after it is said by it).
    after_step: bool,
    participants: Vec<String>,
    ids: BTreeMap<String, usize>,
}

impl Renderer {
    pub fn new(rendering: Rendering) -> Renderer {
        Renderer {
            rendering,
            after_step: false,
            participants: Vec::new(),
            ids: BTreeMap::new(),
        }
    }

    /// A Mermaid renderer whose participants are numbered in advance (in
    /// the order [`Renderer::participants`] of a run of the same case gave).
    pub fn with_participants(rendering: Rendering, participants: Vec<String>) -> Renderer {
        let ids = (0..)
            .zip(&participants)
            .map(|(i, name)| (name.clone(), i))
            .collect();
        Renderer {
            participants,
            ids,
            ..Renderer::new(rendering)
        }
    }

    /// Mermaid's participants so far, in order of first appearance.
    pub fn participants(&self) -> &[String] {
        &self.participants
    }

    /// Appends `entry`'s rendering to `out`.
    pub fn render(&mut self, entry: &TraceEntry, out: &mut String) {
        if self.rendering == Rendering::Text {
            let said_by_step = self.after_step && matches!(entry, TraceEntry::Deliver { .. });
            self.after_step = matches!(entry, TraceEntry::Step { .. });
            if said_by_step {
                return;
            }
        }
        match self.rendering {
            Rendering::Text => text_line(entry, out),
            Rendering::Json => {
                // Every field is data; serde escapes each string once.
                // Serializing these plain structs cannot fail.
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
                out.push('\n');
            }
            Rendering::Mermaid => self.mermaid(entry, out),
        }
    }

    /// Appends, for Mermaid, a dotted open arrow for a signal that was
    /// sent and never delivered (a causal slice shows what its events sent
    /// that was still in flight when the run stopped): `p1--)p0: <signal>
    /// (undelivered)`. Other renderings print nothing.
    pub fn mermaid_undelivered(&mut self, from: &str, to: &str, signal: &str, out: &mut String) {
        if self.rendering != Rendering::Mermaid {
            return;
        }
        let (a, b) = (self.id(from), self.id(to));
        let label = mermaid_text(&format!("{signal} (undelivered)"));
        let _ = writeln!(out, "    p{a}--)p{b}: {label}");
    }

    fn id(&mut self, name: &str) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.participants.len();
        self.participants.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn mermaid(&mut self, entry: &TraceEntry, out: &mut String) {
        let _ = match entry {
            TraceEntry::Step {
                step, time_ms, key, ..
            } => {
                writeln!(out, "    %% #{step} t={time_ms} [{}]", mermaid_text(key))
            }
            TraceEntry::Deliver { from, to, signal } => {
                let (a, b) = (self.id(from), self.id(to));
                writeln!(out, "    p{a}->>p{b}: {}", mermaid_text(signal))
            }
            TraceEntry::Drop {
                from,
                to,
                signal,
                why,
            } => {
                let (a, b) = (self.id(from), self.id(to));
                let why = match why {
                    DropCause::Dead => String::new(),
                    DropCause::AliasInactive(alias) => format!(": alias {alias} inactive"),
                };
                let label = mermaid_text(&format!("{signal} (dropped{why})"));
                writeln!(out, "    p{a}-xp{b}: {label}")
            }
            TraceEntry::Spawn {
                parent,
                child,
                linked,
            } => {
                let (a, b) = (self.id(parent), self.id(child));
                let how = if *linked { "spawn_link" } else { "spawn" };
                writeln!(out, "    p{a}-->>p{b}: {how}")
            }
            TraceEntry::Exit { pid, reason } => {
                let a = self.id(pid);
                let label = mermaid_text(&format!("exit {reason}"));
                writeln!(out, "    Note over p{a}: {label}")
            }
            TraceEntry::Note { pid, text } => {
                let a = self.id(pid);
                writeln!(out, "    Note over p{a}: {}", mermaid_text(text))
            }
            _ => Ok(()),
        };
    }
}

/// The text rendering of one entry: one line, whatever the names and
/// data in it hold ([`text_safe`]).
fn text_line(entry: &TraceEntry, out: &mut String) {
    let t = text_safe;
    let _ = match entry {
        TraceEntry::Step {
            step,
            time_ms,
            key,
            event,
        } => {
            // A key's own form is printable ASCII: it stays as it is.
            writeln!(out, "#{step} t={time_ms} [{}] {}", t(key), t(event))
        }
        TraceEntry::Spawn {
            parent,
            child,
            linked,
        } => {
            let how = if *linked { "spawn_link" } else { "spawn" };
            writeln!(out, "    {} {how} {}", t(parent), t(child))
        }
        TraceEntry::Send { from, to, signal } => {
            writeln!(out, "    {} -> {}: {}", t(from), t(to), t(signal))
        }
        TraceEntry::Drop {
            from,
            to,
            signal,
            why,
        } => {
            let why = match why {
                DropCause::Dead => format!("{} is dead", t(to)),
                DropCause::AliasInactive(alias) => format!("alias {alias} inactive"),
            };
            writeln!(
                out,
                "    {} -> {}: {} (dropped: {why})",
                t(from),
                t(to),
                t(signal)
            )
        }
        TraceEntry::Deliver { from, to, signal } => {
            writeln!(out, "    {} <- {}: {}", t(to), t(from), t(signal))
        }
        TraceEntry::Link { from, to } => writeln!(out, "    {} links {}", t(from), t(to)),
        TraceEntry::Unlink { from, to } => writeln!(out, "    {} unlinks {}", t(from), t(to)),
        TraceEntry::Monitor {
            watcher,
            target,
            mref,
        } => {
            writeln!(
                out,
                "    {} monitors {} (ref {mref})",
                t(watcher),
                t(target)
            )
        }
        TraceEntry::Demonitor {
            watcher,
            target,
            mref,
            flushed,
        } => {
            let flush = if *flushed { " with flush" } else { "" };
            writeln!(
                out,
                "    {} demonitors {} (ref {mref}){flush}",
                t(watcher),
                t(target)
            )
        }
        TraceEntry::Exit { pid, reason } => writeln!(out, "    {} exits: {}", t(pid), t(reason)),
        TraceEntry::TimerStart {
            owner,
            timer,
            deadline_ms,
        } => {
            writeln!(
                out,
                "    {} starts timer {timer} (fires at t={deadline_ms})",
                t(owner)
            )
        }
        TraceEntry::TimerCancel { owner, timer } => {
            writeln!(out, "    {} cancels timer {timer}", t(owner))
        }
        TraceEntry::Note { pid, text } => writeln!(out, "    {}: {}", t(pid), t(text)),
    };
}

/// `text` as the text trace prints it: a line feed, carriage return or
/// tab as `\\n`, `\\r`, `\\t`, and every other control character (C0,
/// DEL, C1) and the Unicode line and paragraph separators (U+2028,
/// U+2029) as `\\u{XX}`, its code point in hex, the way Rust's `{:?}`
/// writes them inside the quoted strings of a message; everything else,
/// a backslash included, as it is. So a trace line is one line for any
/// reader; where a name's own backslash must be told from an escape, the
/// JSON trace gives every string exactly.
pub fn text_safe(text: &str) -> Cow<'_, str> {
    let escaped = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    if !text.contains(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if escaped(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The first lines of a Mermaid diagram: `sequenceDiagram` and every
/// participant, numbered in order.
pub fn mermaid_header(participants: &[String]) -> String {
    let mut out = String::from("sequenceDiagram\n");
    for (i, name) in participants.iter().enumerate() {
        let _ = writeln!(out, "    participant p{i} as {}", mermaid_text(name));
    }
    out
}

/// `text` as Mermaid label text (a participant's alias, a message, a
/// note, a comment's key), so that the rendered diagram shows exactly
/// `text` and nothing in it is read as syntax. Every character Mermaid
/// gives a meaning is written as a numeric entity (`#59;` for `;`), which
/// Mermaid turns back into the character when it draws the label:
/// - `#` (a comment, or an entity) and `;` (the end of a statement), and
///   every control or line-separator character (the end of a line);
/// - `%` (`%%` comments, and `%%{…}%%` directives, found anywhere in the
///   text), `<` and `&` (HTML tags and entities: `<br>` breaks the line);
/// - `ﬂ` and `¶`, the placeholders of Mermaid's own entity pass;
/// - the first character of a label that Mermaid would trim (whitespace)
///   or read as an option (`:`, `wrap:`, `nowrap:`), and the last when it
///   is whitespace;
/// - the first character of `style` and `classDef`: a line with either
///   word, then a `:`, then a `#` loses its last `;` before it is parsed.
///
/// The result has no `#` outside entities, no `;` outside entities, and
/// decodes (every `#N;` to the character N) back to `text`.
pub fn mermaid_text(text: &str) -> String {
    let trimmed = |c: char| c.is_whitespace() || c == '\u{feff}';
    let lower = text.to_ascii_lowercase();
    let option = ["wrap:", "nowrap:", ":"]
        .iter()
        .any(|prefix| lower.starts_with(prefix));
    let mut out = String::with_capacity(text.len());
    let last = text.char_indices().last().map_or(0, |(at, _)| at);
    for (at, c) in text.char_indices() {
        let rest = &lower[at..];
        let escape = matches!(
            c,
            '#' | ';' | '%' | '<' | '&' | '\u{fb02}' | '\u{b6}' | '\u{2028}' | '\u{2029}'
        ) || c.is_control()
            || (at == 0 && (option || trimmed(c)))
            || (at == last && trimmed(c))
            || rest.starts_with("style")
            || rest.starts_with("classdef");
        if escape {
            let _ = write!(out, "#{};", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_safe_escapes_what_breaks_a_line_and_nothing_else() {
        for (raw, shown) in [
            (
                "plain bucket:a#0 <0.1.0> ;\"é名",
                "plain bucket:a#0 <0.1.0> ;\"é名",
            ),
            ("a\nb", "a\\nb"),
            ("\r\t", "\\r\\t"),
            ("back\\slash \\n", "back\\slash \\n"),
            (
                "nul\0 esc\u{1b} del\u{7f} nel\u{85}",
                "nul\\u{0} esc\\u{1b} del\\u{7f} nel\\u{85}",
            ),
            ("ls\u{2028}ps\u{2029}", "ls\\u{2028}ps\\u{2029}"),
        ] {
            assert_eq!(text_safe(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn a_note_with_a_line_break_is_one_line() {
        let trace = Trace {
            entries: vec![TraceEntry::Note {
                pid: "client0".into(),
                text: "PUT a k line\nbreak".into(),
            }],
            ..Trace::default()
        };
        assert_eq!(trace.to_text(), "    client0: PUT a k line\\nbreak\n");
    }
}
