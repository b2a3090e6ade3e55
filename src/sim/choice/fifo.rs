//! The canonical schedule (docs/design.md § The `fifo` order). Owns
//! nothing but the decision to defer: the scheduler computes the `fifo`
//! event, and this source always takes it, which lets the scheduler skip
//! building candidates and keys altogether.

use crate::sim::choice::{Choice, ChoiceSource};

/// Always runs the `fifo` event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fifo;

impl ChoiceSource for Fifo {
    fn choose(&mut self, choice: &Choice<'_>) -> usize {
        choice.fifo
    }

    fn is_fifo(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::choice::{Candidate, CandidateKind};
    use crate::sim::key::{EventKey, KeyArena};
    use crate::sim::pid::Pid;

    #[test]
    fn takes_the_fifo_event_whatever_it_is() {
        let mut keys = KeyArena::new();
        let candidates: Vec<Candidate> = (0..4)
            .map(|client| Candidate {
                key: keys.intern(&EventKey::client(client, 0)),
                actor: Pid(u64::from(client) + 1),
                kind: CandidateKind::Client,
            })
            .collect();
        let mut fifo = Fifo;
        for expected in 0..candidates.len() {
            let choice = Choice {
                step: 0,
                candidates: &candidates,
                fifo: expected,
                keys: &keys,
            };
            assert_eq!(fifo.choose(&choice), expected);
        }
        assert!(fifo.is_fifo());
    }
}
