//! Event keys: the stable names of scheduler events (docs/design.md § Stable ids
//! and event keys). Owns their meaning and their interning within a run; the
//! scheduler decides which enabled key runs.
//!
//! A key is a root (a client starting a command, a fault, a timer firing)
//! followed by a path: `Deliver{cause, n}` — the n-th signal sent during the
//! event `cause` — is `cause` with `n` appended. Keys name events by the ids
//! of the case (never "the i-th enabled event"), so deleting one command,
//! client or fault leaves the others' keys unchanged.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Where a causal chain of events starts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Root {
    /// Client `client` starting its command `cmd` (stable ids of the case).
    Client { client: u32, cmd: u32 },
    /// The fault with stable id `fault` firing.
    Fault { fault: u32 },
    /// The `n`-th timer (from 0) created by the process with logical name `owner`.
    Timer { owner: String, n: u32 },
    /// What happened while the system was being set up, before any event.
    Setup,
}

/// The stable name of one event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventKey {
    pub root: Root,
    /// `path[i]` = which signal (from 0) sent during the event named by the
    /// prefix `path[..i]` this event delivers. Empty for the root itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<u32>,
}

impl EventKey {
    pub fn client(client: u32, cmd: u32) -> EventKey {
        EventKey {
            root: Root::Client { client, cmd },
            path: Vec::new(),
        }
    }

    pub fn fault(fault: u32) -> EventKey {
        EventKey {
            root: Root::Fault { fault },
            path: Vec::new(),
        }
    }

    pub fn timer(owner: impl Into<String>, n: u32) -> EventKey {
        EventKey {
            root: Root::Timer {
                owner: owner.into(),
                n,
            },
            path: Vec::new(),
        }
    }

    /// `Deliver{cause: self, n}`.
    pub fn deliver(&self, n: u32) -> EventKey {
        let mut path = self.path.clone();
        path.push(n);
        EventKey {
            root: self.root.clone(),
            path,
        }
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Root::Client { client, cmd } => write!(f, "client{client}.cmd{cmd}")?,
            Root::Fault { fault } => write!(f, "fault{fault}")?,
            Root::Timer { owner, n } => write!(f, "timer({owner},{n})")?,
            Root::Setup => f.write_str("setup")?,
        }
        for n in &self.path {
            write!(f, "/{n}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for EventKey {
    type Err = String;

    /// Parses the text form: `client0.cmd3/1/0`, `fault2`, `timer(client0,1)/0`, `setup`.
    fn from_str(text: &str) -> Result<EventKey, String> {
        let bad = || {
            format!("{text:?} is not an event key (e.g. client0.cmd1/0, fault2, timer(client0,0))")
        };
        let (root_text, path_text) = if let Some(inner) = text.strip_prefix("timer(") {
            // An owner name may hold any character; the root ends at the last ')'.
            let close = inner.rfind(')').ok_or_else(bad)?;
            (&text[..close + 7], &inner[close + 1..])
        } else {
            match text.find('/') {
                Some(at) => (&text[..at], &text[at..]),
                None => (text, ""),
            }
        };
        let number = |digits: &str| -> Result<u32, String> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            digits.parse().map_err(|_| bad())
        };
        let root = if root_text == "setup" {
            Root::Setup
        } else if let Some(rest) = root_text.strip_prefix("fault") {
            Root::Fault {
                fault: number(rest)?,
            }
        } else if let Some(rest) = root_text.strip_prefix("client") {
            let (client, cmd) = rest.split_once(".cmd").ok_or_else(bad)?;
            Root::Client {
                client: number(client)?,
                cmd: number(cmd)?,
            }
        } else if let Some(inner) = root_text
            .strip_prefix("timer(")
            .and_then(|r| r.strip_suffix(')'))
        {
            let (owner, n) = inner.rsplit_once(',').ok_or_else(bad)?;
            Root::Timer {
                owner: owner.to_string(),
                n: number(n)?,
            }
        } else {
            return Err(bad());
        };
        let mut path = Vec::new();
        if !path_text.is_empty() {
            let steps = path_text.strip_prefix('/').ok_or_else(bad)?;
            for step in steps.split('/') {
                path.push(number(step)?);
            }
        }
        Ok(EventKey { root, path })
    }
}

/// A key interned in one run's [`KeyArena`]; equal ids mean equal keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

#[derive(Clone, Debug)]
enum Node {
    Root(Root),
    Child { parent: KeyId, n: u32 },
}

/// Hash-consed event keys of one run: every key (of an event that ran, or of
/// an override waiting for its event) has exactly one id, so matching an
/// override against an enabled event is an id comparison.
#[derive(Clone, Debug, Default)]
pub struct KeyArena {
    nodes: Vec<Node>,
    roots: BTreeMap<Root, KeyId>,
    children: BTreeMap<(KeyId, u32), KeyId>,
}

impl KeyArena {
    pub fn new() -> KeyArena {
        KeyArena::default()
    }

    pub fn root(&mut self, root: Root) -> KeyId {
        if let Some(&id) = self.roots.get(&root) {
            return id;
        }
        let id = self.push(Node::Root(root.clone()));
        self.roots.insert(root, id);
        id
    }

    pub fn child(&mut self, parent: KeyId, n: u32) -> KeyId {
        if let Some(&id) = self.children.get(&(parent, n)) {
            return id;
        }
        let id = self.push(Node::Child { parent, n });
        self.children.insert((parent, n), id);
        id
    }

    /// Interns a whole key.
    pub fn intern(&mut self, key: &EventKey) -> KeyId {
        let mut id = self.root(key.root.clone());
        for &n in &key.path {
            id = self.child(id, n);
        }
        id
    }

    /// The key an id stands for.
    pub fn key(&self, id: KeyId) -> EventKey {
        let mut path = Vec::new();
        let mut at = id;
        loop {
            match &self.nodes[at.0 as usize] {
                Node::Root(root) => {
                    path.reverse();
                    return EventKey {
                        root: root.clone(),
                        path,
                    };
                }
                Node::Child { parent, n } => {
                    path.push(*n);
                    at = *parent;
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push(&mut self, node: Node) -> KeyId {
        let id =
            KeyId(u32::try_from(self.nodes.len()).expect("more than 2^32 event keys in one run"));
        self.nodes.push(node);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_structural() {
        let mut arena = KeyArena::new();
        let a = EventKey::client(0, 3).deliver(1).deliver(0);
        let id = arena.intern(&a);
        let root = arena.root(Root::Client { client: 0, cmd: 3 });
        let inner = arena.child(root, 1);
        let built = arena.child(inner, 0);
        assert_eq!(id, built);
        assert_eq!(arena.key(id), a);
        assert_ne!(arena.intern(&EventKey::client(0, 3).deliver(0)), id);
    }

    #[test]
    fn text_form_round_trips() {
        let keys = [
            EventKey::client(1, 2).deliver(0).deliver(3),
            EventKey::fault(4),
            EventKey::timer("bucket:a/b,c)#0", 1).deliver(2),
            EventKey {
                root: Root::Setup,
                path: vec![5],
            },
            EventKey::fault(0).deliver(crate::sim::DEATH_INDEX_BASE + 7),
        ];
        for key in keys {
            assert_eq!(
                key.to_string().parse::<EventKey>(),
                Ok(key.clone()),
                "{key}"
            );
        }
        for bad in [
            "",
            "client0",
            "client0.cmd",
            "fault",
            "fault1/",
            "fault1/x",
            "timer(a)",
            "x/1",
            "fault-1",
        ] {
            assert!(bad.parse::<EventKey>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn display_is_a_path() {
        assert_eq!(
            EventKey::client(1, 2).deliver(0).deliver(3).to_string(),
            "client1.cmd2/0/3"
        );
        assert_eq!(EventKey::fault(4).to_string(), "fault4");
        assert_eq!(
            EventKey::timer("client0", 1).deliver(2).to_string(),
            "timer(client0,1)/2"
        );
    }
}
