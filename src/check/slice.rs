//! A failure's causal slice: the events that explain it. The causal past
//! ([`Causality`]: program order, send → deliver, spawn, link, monitor,
//! death → `DOWN` / exit, death → a later liveness read) of the violating
//! event and of every event the property's verdict reads, so that a reader
//! sees the few events that matter, not every event of the run.
//!
//! What each property's verdict reads, besides the violating event:
//! - P1 (lookup is alive): the death of the pid the reply names;
//! - P2 (names match buckets): the registry's last event (its names and
//!   monitor refs are its state) and, for every bucket the registry names
//!   or that is alive, its death if it died, else its spawn;
//! - P3 (registry dies only when told): nothing more: the violating event
//!   is the registry's death, and what would have licensed it (a `STOP`, a
//!   registry fault) is absent, and an absence has no event;
//! - P4 (linearizable): every operation in its explanation (the longest
//!   linearizable prefix and the operations that cannot come next): each
//!   one's invocation and response, a death (a model event) at its step;
//! - P5 (one bucket per name): the spawn of each live bucket of the name;
//! - P6 (no call times out): the call's invocation (the violating event is
//!   its timer firing);
//! - a custom property: nothing more.
//!
//! Owns the slice's value and its renderings; the checker
//! ([`crate::check::run_case`]) picks the roots when a run is traced.

use crate::check::property::Property;
use crate::sim::trace::{Renderer, Rendering, mermaid_header};
use crate::sim::{Causality, Trace, TraceEntry};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

/// An event a slice starts from, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceRoot {
    pub step: u64,
    /// What the verdict reads there (`bucket:a#0 dies`).
    pub why: String,
}

impl SliceRoot {
    pub fn new(step: u64, why: impl Into<String>) -> SliceRoot {
        SliceRoot {
            step,
            why: why.into(),
        }
    }
}

/// The causal slice of one failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slice {
    pub property: Property,
    /// The event at which the property broke: the events considered are
    /// those up to it.
    pub step: u64,
    /// Where the slice starts: the violating event first, then the events
    /// the verdict reads, in that order, without repeats.
    pub roots: Vec<SliceRoot>,
    /// The slice's events (steps), the roots included.
    pub events: BTreeSet<u64>,
}

impl Slice {
    /// The causal past of `roots` in `causality`, for `property` broken at
    /// event `step`. A root repeated, or naming no recorded event, is
    /// dropped.
    pub fn new(
        causality: &Causality,
        property: Property,
        step: u64,
        roots: Vec<SliceRoot>,
    ) -> Slice {
        let mut seen = BTreeSet::new();
        let roots: Vec<SliceRoot> = roots
            .into_iter()
            .filter(|root| root.step >= 1 && root.step <= step && seen.insert(root.step))
            .collect();
        let events = causality.past(roots.iter().map(|root| root.step));
        Slice {
            property,
            step,
            roots,
            events,
        }
    }

    pub fn contains(&self, step: u64) -> bool {
        self.events.contains(&step)
    }

    /// One line: how many of the run's events the slice keeps, and where it
    /// starts: `5 of 5 events, the causal past of #5 (the lookup reply
    /// names bucket:a#0) and #4 (bucket:a#0 dies)`. Past
    /// [`Slice::SUMMARY_REASONS_MAX`] roots, the ones after the violating
    /// event are listed by number only.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "{} of {} events, the causal past of ",
            self.events.len(),
            self.step
        );
        let Some((first, rest)) = self.roots.split_first() else {
            text.push_str("nothing");
            return text;
        };
        let _ = write!(text, "#{} ({})", first.step, first.why);
        if self.roots.len() > Slice::SUMMARY_REASONS_MAX {
            let steps: Vec<String> = rest.iter().map(|r| format!("#{}", r.step)).collect();
            let _ = write!(
                text,
                " and of the {} events the verdict reads: {}",
                rest.len(),
                steps.join(", ")
            );
            return text;
        }
        for (i, root) in rest.iter().enumerate() {
            text.push_str(if i + 1 == rest.len() { " and " } else { ", " });
            let _ = write!(text, "#{} ({})", root.step, root.why);
        }
        text
    }

    /// How many roots [`Slice::summary`] gives with their reasons.
    pub const SUMMARY_REASONS_MAX: usize = 4;

    /// `trace` with only the slice's events: each kept event's line and
    /// everything inside it, nothing of setup. The step numbers stay those
    /// of the whole run, so a gap shows where events were left out.
    pub fn trace(&self, trace: &Trace) -> Trace {
        let mut keep = false;
        let entries = trace
            .entries
            .iter()
            .filter(|entry| {
                if let TraceEntry::Step { step, .. } = entry {
                    keep = self.contains(*step);
                }
                keep
            })
            .cloned()
            .collect();
        Trace {
            entries,
            pid_names: trace.pid_names.clone(),
        }
    }

    /// The slice as text: a `--- slice (<summary>)` line, then the kept
    /// events as [`Trace::to_text`] renders them.
    pub fn to_text(&self, trace: &Trace) -> String {
        let mut text = format!("--- slice ({})\n", self.summary());
        text.push_str(&self.trace(trace).to_text());
        text
    }

    /// The slice as a Mermaid sequence diagram (GitHub draws one inline in
    /// a ```` ```mermaid ```` block): the kept events only, an arrow per
    /// delivery as [`Trace::to_mermaid`] draws them, plus a dotted open
    /// arrow for each signal a kept event sent that the run never
    /// delivered (the lookup reply that breaks property 1, a `DOWN` still
    /// queued), and the summary as a `%%` comment after the header.
    pub fn to_mermaid(&self, trace: &Trace) -> String {
        let undelivered = undelivered(trace);
        let mut renderer = Renderer::new(Rendering::Mermaid);
        let mut body = String::new();
        let mut keep = false;
        for (index, entry) in trace.entries.iter().enumerate() {
            if let TraceEntry::Step { step, .. } = entry {
                keep = self.contains(*step);
            }
            if !keep {
                continue;
            }
            renderer.render(entry, &mut body);
            if let TraceEntry::Send { from, to, signal } = entry
                && undelivered.contains(&index)
            {
                renderer.mermaid_undelivered(from, to, signal, &mut body);
            }
        }
        let header = mermaid_header(renderer.participants());
        let (first, participants) = header.split_once('\n').unwrap_or((&header, ""));
        let summary = self.summary().replace(['\n', '\r'], " ");
        format!("{first}\n    %% slice: {summary}\n{participants}{body}")
    }
}

/// The indices of the `Send` entries of `trace` that no later `Deliver` or
/// `Drop` of the same signal on the same pair consumed: signals still
/// queued when the run stopped (or removed unseen, as a flushed `DOWN`).
/// Each pair is FIFO, so the k-th delivery of a signal text on a pair is
/// its k-th send.
fn undelivered(trace: &Trace) -> BTreeSet<usize> {
    let mut queued: BTreeMap<(&str, &str, &str), VecDeque<usize>> = BTreeMap::new();
    for (index, entry) in trace.entries.iter().enumerate() {
        match entry {
            TraceEntry::Send { from, to, signal } => {
                queued
                    .entry((from, to, signal))
                    .or_default()
                    .push_back(index);
            }
            TraceEntry::Deliver { from, to, signal }
            | TraceEntry::Drop {
                from, to, signal, ..
            } => {
                if let Some(sends) = queued.get_mut(&(from.as_str(), to.as_str(), signal.as_str()))
                {
                    sends.pop_front();
                }
            }
            _ => {}
        }
    }
    queued.into_values().flatten().collect()
}
