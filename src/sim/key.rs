//! Event keys: the stable names of scheduler events (docs/design.md §
//! Stable ids and event keys). Owns their meaning, their text form
//! (grammar, printing, parsing, serde) and their interning within a run;
//! the scheduler decides which enabled key runs.
//!
//! A key is a root (where a causal chain starts) followed by a path of
//! segments, each naming one event caused by the event its prefix names.
//! Keys name events by the ids of the case and by logical names, never by
//! "the i-th enabled event" or by a position among deaths, so deleting one
//! command, client or fault leaves the others' keys unchanged.
//!
//! # Grammar
//!
//! ```text
//! key     = root *( "/" segment )
//! root    = "client" nat ".cmd" nat      ; client <id> starting its command <id>
//!         | "fault" nat                  ; fault <id> firing
//!         | "timer(" name "," nat ")"    ; the n-th timer (from 0) set by process <name>
//!         | "setup"                      ; what happened before the first event
//! segment = nat                          ; the n-th signal (from 0) sent during the prefix's event
//!         | "exit"                       ; the pending exit of the process whose handler
//!                                        ;   ended (in a stop or a crash) in the prefix's event
//!         | kind "(" name ">" name ")" [ "#" pos ]
//!                                        ; a signal sent at a death in the prefix's event:
//!                                        ;   kind, (dead sender > recipient); "#k" = the k-th
//!                                        ;   (from 0) equal one of that event; #0 is not written
//! kind    = "DOWN" | "EXIT"              ; a monitor's DOWN | a link's exit signal
//! name    = bare | quoted
//! bare    = 1*( ALPHA / DIGIT / "_" / "-" / "." / ":" )
//! quoted  = DQUOTE *char DQUOTE          ; a JSON string
//! nat     = "0" | pos                    ; decimal, at most 2^32 - 1
//! pos     = %x31-39 *DIGIT
//! ```
//!
//! Names are logical names (docs/design.md § Words). In a death segment they
//! lose their generation number (only a final `#<digits>`: `bucket:a#0` is
//! `bucket:a`), so that the key of a `DOWN` does not depend on how many
//! buckets of that name came before; the ordinal tells apart equal ones
//! from one event (two deaths in one step, two monitors by one watcher on
//! one process), counted in the order the signals are sent (the runtime
//! sends a death's link exit signals in pid order, then its `DOWN`s in ref
//! order; a signal to a process already dead is dropped and takes no
//! ordinal). A timer's owner keeps its generation number.
//!
//! A name is printed bare when it is non-empty and every character is in
//! `bare`'s set, and quoted otherwise: `"` and `\` escaped with `\`, every
//! character outside printable ASCII as `\uXXXX` (a surrogate pair above
//! U+FFFF). So a printed key is always printable ASCII, and no character of
//! a bucket name (`/`, `#`, `(`, `)`, `>`, `"`, `\`, a space, a control
//! character, any Unicode) can end a name early. The parser takes any JSON
//! string (`\n`, `\/`, raw non-ASCII, …), a quoted name whose characters
//! would all be bare, and timer owners written the old way when they are
//! bare.
//!
//! Examples: `client0.cmd1` (client 0 starting its command 1);
//! `client0.cmd1/1/0` (the first signal sent while handling the second
//! signal sent by that command); `client0.cmd1/1/0/DOWN(bucket:a>registry)`
//! (the `DOWN` that bucket `a` sent the registry when it died in that
//! event); `fault0/EXIT(registry>"bucket:a b")#1` (the second exit signal
//! from the registry, killed by fault 0, to buckets named `a b`);
//! `client0.cmd2/1/exit` (the exit of the process whose handler stopped in
//! `client0.cmd2/1`); `timer(client0,0)`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// Where a causal chain of events starts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

/// The kind of a signal sent at a death.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeathKind {
    /// A monitor's `DOWN` (also the `DOWN noproc` answering a monitor
    /// request still queued to the dead process, docs/semantics.md S17).
    Down,
    /// A link's exit signal.
    Exit,
}

impl DeathKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeathKind::Down => "DOWN",
            DeathKind::Exit => "EXIT",
        }
    }
}

/// One step of a key's path: which event, caused by the event the prefix
/// names, this is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// The delivery of the `n`-th signal (from 0) sent during the prefix's
    /// event, counting every operation that may send (docs/design.md's
    /// `Deliver{cause, n}`).
    Send(u32),
    /// The pending exit event of the process whose handler ended in a stop
    /// or a crash during the prefix's event (docs/design.md § Behaviours).
    Exit,
    /// The delivery of a signal sent at a death during the prefix's event.
    Death {
        kind: DeathKind,
        /// The dead process, by logical name without generation number.
        from: String,
        /// The recipient, by logical name without generation number.
        to: String,
        /// Among the signals of this event with equal kind, `from` and
        /// `to`: which one (from 0), in sending order.
        ordinal: u32,
    },
}

/// The stable name of one event.
///
/// Its text form follows the grammar in the [module doc](self); its serde
/// form is that text (a string, e.g. `"fault0/DOWN(bucket:a>registry)"`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub root: Root,
    /// `path[i]` names an event caused by the event `path[..i]` names;
    /// empty for the root itself.
    pub path: Vec<Segment>,
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

    /// This key followed by `segment`.
    pub fn then(&self, segment: Segment) -> EventKey {
        let mut path = Vec::with_capacity(self.path.len() + 1);
        path.extend_from_slice(&self.path);
        path.push(segment);
        EventKey {
            root: self.root.clone(),
            path,
        }
    }

    /// `Deliver{cause: self, n}`: the n-th signal sent during this event.
    pub fn deliver(&self, n: u32) -> EventKey {
        self.then(Segment::Send(n))
    }

    /// The pending exit event of the process whose handler ended in this event.
    pub fn exit(&self) -> EventKey {
        self.then(Segment::Exit)
    }

    /// The first `DOWN` from `from` to `to` sent at a death in this event
    /// (names as written in the key: without generation numbers).
    pub fn down(&self, from: &str, to: &str) -> EventKey {
        self.death(DeathKind::Down, from, to, 0)
    }

    /// The first link exit signal from `from` to `to` sent at a death in
    /// this event (names without generation numbers).
    pub fn exit_signal(&self, from: &str, to: &str) -> EventKey {
        self.death(DeathKind::Exit, from, to, 0)
    }

    /// The `ordinal`-th (from 0) signal of `kind` from `from` to `to` sent
    /// at a death in this event (names without generation numbers).
    pub fn death(&self, kind: DeathKind, from: &str, to: &str, ordinal: u32) -> EventKey {
        self.then(Segment::Death {
            kind,
            from: from.to_string(),
            to: to.to_string(),
            ordinal,
        })
    }

    /// Parses a key at the start of `text` and returns it with the text
    /// after it (the key ends where the grammar cannot go on), e.g. to read
    /// the key in a trace line's brackets.
    pub fn parse_prefix(text: &str) -> Result<(EventKey, &str), KeyError> {
        let mut parser = Parser { text, at: 0 };
        let key = parser.key()?;
        Ok((key, &text[parser.at..]))
    }
}

/// A logical name without its generation number: a final `#<digits>` is
/// removed (`bucket:a#0` → `bucket:a`, `bucket:x#1#0` → `bucket:x#1`); any
/// other name is unchanged.
pub fn without_generation(name: &str) -> &str {
    match name.rfind('#') {
        Some(at) if at + 1 < name.len() && name[at + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &name[..at]
        }
        _ => name,
    }
}

fn is_bare_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// Writes `name` bare or quoted (see the module doc).
fn write_name(out: &mut impl fmt::Write, name: &str) -> fmt::Result {
    if !name.is_empty() && name.chars().all(is_bare_char) {
        return out.write_str(name);
    }
    out.write_char('"')?;
    for c in name.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            ' '..='~' => out.write_char(c)?,
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(out, "\\u{unit:04x}")?;
                }
            }
        }
    }
    out.write_char('"')
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Root::Client { client, cmd } => write!(f, "client{client}.cmd{cmd}"),
            Root::Fault { fault } => write!(f, "fault{fault}"),
            Root::Timer { owner, n } => {
                f.write_str("timer(")?;
                write_name(f, owner)?;
                write!(f, ",{n})")
            }
            Root::Setup => f.write_str("setup"),
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Send(n) => write!(f, "{n}"),
            Segment::Exit => f.write_str("exit"),
            Segment::Death {
                kind,
                from,
                to,
                ordinal,
            } => {
                f.write_str(kind.as_str())?;
                f.write_char('(')?;
                write_name(f, from)?;
                f.write_char('>')?;
                write_name(f, to)?;
                f.write_char(')')?;
                if *ordinal > 0 {
                    write!(f, "#{ordinal}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.root)?;
        for segment in &self.path {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

/// Why a text is not an event key, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    /// The text that was parsed.
    pub text: String,
    /// Where parsing stopped: a character index (from 0) into `text`.
    pub column: usize,
    /// What was expected or what is wrong there.
    pub why: String,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an event key: at character {}: {}",
            self.text,
            self.column + 1,
            self.why
        )
    }
}

impl std::error::Error for KeyError {}

/// A recursive-descent parser over the grammar in the module doc; `at` is
/// a byte offset into `text`, always on a character boundary.
struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn error_at(&self, at: usize, why: impl Into<String>) -> KeyError {
        KeyError {
            text: self.text.to_string(),
            column: self.text[..at].chars().count(),
            why: why.into(),
        }
    }

    fn error(&self, why: impl Into<String>) -> KeyError {
        self.error_at(self.at, why)
    }

    /// What is at the cursor, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("found {c:?}"),
            None => "found the end".to_string(),
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str, context: &str) -> Result<(), KeyError> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.error(format!("expected {token:?} {context}, {}", self.found())))
        }
    }

    fn key(&mut self) -> Result<EventKey, KeyError> {
        let root = self.root()?;
        let mut path = Vec::new();
        while self.eat("/") {
            path.push(self.segment()?);
        }
        Ok(EventKey { root, path })
    }

    fn root(&mut self) -> Result<Root, KeyError> {
        if self.eat("client") {
            let client = self.nat("a client id after \"client\"")?;
            self.expect(".cmd", "after the client id")?;
            let cmd = self.nat("a command id after \".cmd\"")?;
            Ok(Root::Client { client, cmd })
        } else if self.eat("fault") {
            let fault = self.nat("a fault id after \"fault\"")?;
            Ok(Root::Fault { fault })
        } else if self.eat("timer(") {
            let owner = self.name("the timer's owner")?;
            self.expect(",", "after the timer's owner")?;
            let n = self.nat("the timer's number")?;
            self.expect(")", "after the timer's number")?;
            Ok(Root::Timer { owner, n })
        } else if self.eat("setup") {
            Ok(Root::Setup)
        } else {
            Err(self.error(format!(
                "expected a root (clientN.cmdM, faultN, timer(OWNER,N) or setup), {}",
                self.found()
            )))
        }
    }

    fn segment(&mut self) -> Result<Segment, KeyError> {
        let kind = if self.eat("DOWN") {
            DeathKind::Down
        } else if self.eat("EXIT") {
            DeathKind::Exit
        } else if self.eat("exit") {
            return Ok(Segment::Exit);
        } else if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Ok(Segment::Send(self.nat("a send index")?));
        } else {
            return Err(self.error(format!(
                "expected a segment after '/' (a send index, exit, DOWN(FROM>TO) or EXIT(FROM>TO)), {}",
                self.found()
            )));
        };
        let kind_name = kind.as_str();
        self.expect("(", &format!("after {kind_name}"))?;
        let from = self.name(&format!("the sender of the {kind_name}"))?;
        self.expect(">", &format!("after the sender of the {kind_name}"))?;
        let to = self.name(&format!("the recipient of the {kind_name}"))?;
        self.expect(")", &format!("after the recipient of the {kind_name}"))?;
        let ordinal = if self.eat("#") {
            let start = self.at;
            let ordinal = self.nat("an ordinal after '#'")?;
            if ordinal == 0 {
                return Err(self.error_at(start, "the first one is written without \"#0\""));
            }
            ordinal
        } else {
            0
        };
        Ok(Segment::Death {
            kind,
            from,
            to,
            ordinal,
        })
    }

    fn nat(&mut self, what: &str) -> Result<u32, KeyError> {
        let start = self.at;
        let digits = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(self.error(format!(
                "expected {what} (decimal digits), {}",
                self.found()
            )));
        }
        let text = &self.rest()[..digits];
        if digits > 1 && text.starts_with('0') {
            return Err(self.error(format!("{what} {text:?} has a leading zero")));
        }
        let value = text
            .parse::<u32>()
            .map_err(|_| self.error(format!("{what} {text} is larger than 4294967295")))?;
        self.at = start + digits;
        Ok(value)
    }

    fn name(&mut self, what: &str) -> Result<String, KeyError> {
        if self.peek() == Some('"') {
            return self.quoted(what);
        }
        let len: usize = self
            .rest()
            .chars()
            .take_while(|&c| is_bare_char(c))
            .map(char::len_utf8)
            .sum();
        if len == 0 {
            return Err(self.error(format!(
                "expected {what} (a name of letters, digits, '_', '-', '.', ':', or a quoted \
                 string), {}",
                self.found()
            )));
        }
        let name = self.rest()[..len].to_string();
        self.at += len;
        Ok(name)
    }

    /// A JSON string at the cursor.
    fn quoted(&mut self, what: &str) -> Result<String, KeyError> {
        let open = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(open, format!("{what}: this quote is never closed")));
            };
            match c {
                '"' => {
                    self.at += 1;
                    return Ok(out);
                }
                '\\' => {
                    let escape = self.at;
                    self.at += 1;
                    let Some(e) = self.peek() else {
                        return Err(
                            self.error_at(open, format!("{what}: this quote is never closed"))
                        );
                    };
                    self.at += e.len_utf8();
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => out.push(self.unicode_escape(escape)?),
                        other => {
                            return Err(self.error_at(
                                escape,
                                format!("unknown escape \"\\{other}\" in {what}"),
                            ));
                        }
                    }
                }
                c if c.is_control() => {
                    return Err(self.error(format!(
                        "a raw control character {c:?} in {what} (write it as \\u{:04x})",
                        c as u32
                    )));
                }
                c => {
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
    }

    /// The rest of a `\uXXXX` escape (and of its low surrogate, if it is a
    /// high one) that starts at `escape`.
    fn unicode_escape(&mut self, escape: usize) -> Result<char, KeyError> {
        let high = self.hex4(escape)?;
        let code = if (0xD800..0xDC00).contains(&high) {
            let second = self.at;
            if !self.eat("\\u") {
                return Err(self.error_at(
                    escape,
                    "a high surrogate escape must be followed by a low one (\\uDC00-\\uDFFF)",
                ));
            }
            let low = self.hex4(second)?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.error_at(second, "expected a low surrogate (\\uDC00-\\uDFFF)"));
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code)
            .ok_or_else(|| self.error_at(escape, "a lone low surrogate is not a character"))
    }

    fn hex4(&mut self, escape: usize) -> Result<u32, KeyError> {
        let digits = self
            .rest()
            .get(..4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(self.error_at(escape, "\\u must be followed by 4 hex digits"));
        };
        let value = u32::from_str_radix(digits, 16).expect("4 hex digits");
        self.at += 4;
        Ok(value)
    }
}

impl std::str::FromStr for EventKey {
    type Err = KeyError;

    /// Parses the text form (grammar in the module doc); the whole text
    /// must be one key.
    fn from_str(text: &str) -> Result<EventKey, KeyError> {
        let mut parser = Parser { text, at: 0 };
        let key = parser.key()?;
        if parser.at < text.len() {
            return Err(parser.error(format!(
                "expected '/' or the end after a key, {}",
                parser.found()
            )));
        }
        Ok(key)
    }
}

impl Serialize for EventKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventKey, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A key interned in one run's [`KeyArena`]; equal ids mean equal keys,
/// and an id is never handed out twice in a run, even once its key is
/// freed (so a source may remember ids of events long gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u64);

impl KeyId {
    /// The slot this id's node lives in (the low 32 bits; the high ones
    /// count the slot's reuses).
    fn slot(self) -> usize {
        (self.0 & u64::from(u32::MAX)) as usize
    }
}

#[derive(Clone, Debug)]
enum Node {
    Root(Root),
    Child { parent: KeyId, segment: Segment },
}

#[derive(Clone, Debug)]
struct Slot {
    /// The id of the key in it (its generation in the high bits).
    id: KeyId,
    /// Holders: child keys, plus every [`KeyArena::retain`] not yet
    /// released.
    refs: u32,
    /// `None` once freed.
    node: Option<Node>,
    /// Its live `Send(n)` children, as (n, child): an event sends a few
    /// signals, so finding one here is a short scan where a map over every
    /// live key would be a search (the slot keeps the buffer when reused).
    sends: Vec<(u32, KeyId)>,
}

/// Hash-consed event keys of one run: every key (of an event that ran, or of
/// an override waiting for its event) has exactly one id, so matching an
/// override against an enabled event is an id comparison.
///
/// Keys are reference-counted: a key lives while a holder (a queued signal,
/// a pending event, the event running, a recorded schedule, an override
/// list) has [retained](KeyArena::retain) it or a key caused by it does, and
/// is freed at its last [release](KeyArena::release), so a long run keeps
/// only the keys that something can still refer to. A key nobody ever
/// retained is kept for the whole run.
#[derive(Clone, Debug, Default)]
pub struct KeyArena {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    roots: BTreeMap<Root, KeyId>,
    /// The `client<k>.cmd<n>` roots, by plain integers (most roots).
    client_roots: BTreeMap<(u32, u32), KeyId>,
    children: BTreeMap<(KeyId, Segment), KeyId>,
    /// The `Send(n)` children of a cause that is not alive (never in a
    /// run: the scheduler holds the key of the event that sends); a live
    /// cause lists its own in its slot.
    orphan_sends: BTreeMap<(KeyId, u32), KeyId>,
    // Death signals handed out so far per (cause, kind, from, to), for
    // their ordinals. An event runs at most once per run, so this counts
    // within one event (setup, which may come in several phases, goes on
    // counting, which keeps its keys distinct); the scheduler forgets the
    // counts when the next event starts.
    deaths: BTreeMap<(KeyId, DeathKind, String, String), u32>,
}

impl KeyArena {
    pub fn new() -> KeyArena {
        KeyArena::default()
    }

    pub fn root(&mut self, root: Root) -> KeyId {
        if let Root::Client { client, cmd } = root {
            if let Some(&id) = self.client_roots.get(&(client, cmd)) {
                return id;
            }
            let id = self.push(Node::Root(root));
            self.client_roots.insert((client, cmd), id);
            return id;
        }
        if let Some(&id) = self.roots.get(&root) {
            return id;
        }
        let id = self.push(Node::Root(root.clone()));
        self.roots.insert(root, id);
        id
    }

    /// `parent` followed by `segment`.
    pub fn segment(&mut self, parent: KeyId, segment: Segment) -> KeyId {
        if let Segment::Send(n) = segment {
            return self.child(parent, n);
        }
        let edge = (parent, segment);
        if let Some(&id) = self.children.get(&edge) {
            return id;
        }
        let id = self.push(Node::Child {
            parent,
            segment: edge.1.clone(),
        });
        if let Some(slot) = self.slot_mut(parent) {
            slot.refs += 1;
        }
        self.children.insert(edge, id);
        id
    }

    /// `Deliver{cause, n}`: the n-th signal sent during the event `cause`.
    pub fn child(&mut self, cause: KeyId, n: u32) -> KeyId {
        let live = match self.slot_mut(cause) {
            Some(slot) => {
                if let Some(&(_, id)) = slot.sends.iter().find(|&&(m, _)| m == n) {
                    return id;
                }
                true
            }
            None => {
                if let Some(&id) = self.orphan_sends.get(&(cause, n)) {
                    return id;
                }
                false
            }
        };
        let id = self.push(Node::Child {
            parent: cause,
            segment: Segment::Send(n),
        });
        match self.slot_mut(cause) {
            Some(slot) if live => {
                slot.refs += 1;
                slot.sends.push((n, id));
            }
            _ => {
                self.orphan_sends.insert((cause, n), id);
            }
        }
        id
    }

    /// `<cause>/exit`: the pending exit event of the process whose handler
    /// ended in a stop or a crash during the event `cause`.
    pub fn exit(&mut self, cause: KeyId) -> KeyId {
        self.segment(cause, Segment::Exit)
    }

    /// The key of the next signal of `kind` sent from `from` to `to` at a
    /// death during the event `cause`. `from` and `to` are logical names;
    /// their generation numbers are dropped here, and the ordinal is the
    /// count of equal ones this arena has handed out for `cause` before, so
    /// call this once per signal, in sending order.
    pub fn death(&mut self, cause: KeyId, kind: DeathKind, from: &str, to: &str) -> KeyId {
        let (from, to) = (without_generation(from), without_generation(to));
        let count = self
            .deaths
            .entry((cause, kind, from.to_string(), to.to_string()))
            .or_insert(0);
        let ordinal = *count;
        *count += 1;
        self.segment(
            cause,
            Segment::Death {
                kind,
                from: from.to_string(),
                to: to.to_string(),
                ordinal,
            },
        )
    }

    /// Forgets the death-signal counts: the event they counted for is over
    /// (its keys, and those of the signals it sent, stay).
    pub fn forget_death_counts(&mut self) {
        if !self.deaths.is_empty() {
            self.deaths.clear();
        }
    }

    /// Interns a whole key.
    pub fn intern(&mut self, key: &EventKey) -> KeyId {
        let mut id = self.root(key.root.clone());
        for segment in &key.path {
            id = self.segment(id, segment.clone());
        }
        id
    }

    /// The key an id stands for.
    ///
    /// # Panics
    ///
    /// If the key was freed: whoever holds an id to read it back must
    /// retain it.
    pub fn key(&self, id: KeyId) -> EventKey {
        let mut path = Vec::new();
        let mut at = id;
        loop {
            match self.node(at).expect("the key of a freed id was read") {
                Node::Root(root) => {
                    path.reverse();
                    return EventKey {
                        root: root.clone(),
                        path,
                    };
                }
                Node::Child { parent, segment } => {
                    path.push(segment.clone());
                    at = *parent;
                }
            }
        }
    }

    /// The root of the key an id stands for (`None` for a freed id), without
    /// building the key.
    pub fn root_of(&self, id: KeyId) -> Option<&Root> {
        let mut at = id;
        loop {
            match self.node(at)? {
                Node::Root(root) => return Some(root),
                Node::Child { parent, .. } => at = *parent,
            }
        }
    }

    /// One more holder of `id`.
    pub fn retain(&mut self, id: KeyId) {
        if let Some(slot) = self.slot_mut(id) {
            slot.refs += 1;
        }
    }

    /// One holder of `id` fewer; at the last, the key is freed, and so is
    /// its parent if that was its last holder, and so on.
    pub fn release(&mut self, id: KeyId) {
        let mut at = id;
        loop {
            let Some(slot) = self.slot_mut(at) else {
                return;
            };
            slot.refs = slot.refs.saturating_sub(1);
            if slot.refs > 0 {
                return;
            }
            let Some(node) = slot.node.take() else {
                return;
            };
            let index = at.slot();
            self.free.push(index as u32);
            self.live -= 1;
            match node {
                Node::Root(Root::Client { client, cmd }) => {
                    self.client_roots.remove(&(client, cmd));
                    return;
                }
                Node::Root(root) => {
                    self.roots.remove(&root);
                    return;
                }
                Node::Child { parent, segment } => {
                    match segment {
                        Segment::Send(n) => match self.slot_mut(parent) {
                            Some(slot) => {
                                if let Some(at) = slot.sends.iter().position(|&(m, _)| m == n) {
                                    slot.sends.swap_remove(at);
                                }
                            }
                            None => {
                                self.orphan_sends.remove(&(parent, n));
                            }
                        },
                        segment => {
                            self.children.remove(&(parent, segment));
                        }
                    }
                    at = parent;
                }
            }
        }
    }

    /// Keys alive now.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn slot_mut(&mut self, id: KeyId) -> Option<&mut Slot> {
        self.slots
            .get_mut(id.slot())
            .filter(|slot| slot.id == id && slot.node.is_some())
    }

    fn node(&self, id: KeyId) -> Option<&Node> {
        self.slots
            .get(id.slot())
            .filter(|slot| slot.id == id)
            .and_then(|slot| slot.node.as_ref())
    }

    fn push(&mut self, node: Node) -> KeyId {
        self.live += 1;
        match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                // Next generation in the high bits: ids are never reused.
                let generation = (slot.id.0 >> 32) + 1;
                slot.id = KeyId(generation << 32 | u64::from(index));
                slot.refs = 0;
                slot.node = Some(node);
                slot.sends.clear();
                slot.id
            }
            None => {
                let index =
                    u32::try_from(self.slots.len()).expect("more than 2^32 event keys alive");
                let id = KeyId(u64::from(index));
                self.slots.push(Slot {
                    id,
                    refs: 0,
                    node: Some(node),
                    sends: Vec::new(),
                });
                id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EventKey, KeyError> {
        text.parse()
    }

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
        let exit = arena.exit(built);
        assert_eq!(arena.key(exit), a.exit());
        assert_eq!(arena.intern(&a.exit()), exit);
    }

    #[test]
    fn death_keys_drop_generations_and_count_equal_ones() {
        let mut arena = KeyArena::new();
        let cause = arena.intern(&EventKey::fault(0));
        let first = arena.death(cause, DeathKind::Down, "bucket:a#0", "registry");
        let to_client = arena.death(cause, DeathKind::Down, "bucket:a#0", "client0");
        let second = arena.death(cause, DeathKind::Down, "bucket:a#3", "registry");
        let link = arena.death(cause, DeathKind::Exit, "bucket:a#3", "registry");
        let keys: Vec<String> = [first, to_client, second, link]
            .iter()
            .map(|&id| arena.key(id).to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "fault0/DOWN(bucket:a>registry)",
                "fault0/DOWN(bucket:a>client0)",
                "fault0/DOWN(bucket:a>registry)#1",
                "fault0/EXIT(bucket:a>registry)",
            ]
        );
        // An override names the same event before it has happened.
        let mut fresh = KeyArena::new();
        let wanted =
            fresh.intern(&EventKey::fault(0).death(DeathKind::Down, "bucket:a", "registry", 1));
        let cause = fresh.intern(&EventKey::fault(0));
        fresh.death(cause, DeathKind::Down, "bucket:a#0", "registry");
        assert_eq!(
            fresh.death(cause, DeathKind::Down, "bucket:a#1", "registry"),
            wanted
        );
    }

    #[test]
    fn without_generation_strips_only_a_final_number() {
        assert_eq!(without_generation("bucket:a#0"), "bucket:a");
        assert_eq!(without_generation("bucket:a#12"), "bucket:a");
        assert_eq!(without_generation("bucket:x#1#0"), "bucket:x#1");
        assert_eq!(without_generation("bucket:a#"), "bucket:a#");
        assert_eq!(without_generation("bucket:a#0/1"), "bucket:a#0/1");
        assert_eq!(without_generation("bucket:a#x"), "bucket:a#x");
        assert_eq!(without_generation("registry"), "registry");
    }

    #[test]
    fn display_follows_the_grammar() {
        let cases = [
            (
                EventKey::client(1, 2).deliver(0).deliver(3),
                "client1.cmd2/0/3",
            ),
            (EventKey::fault(4), "fault4"),
            (
                EventKey::timer("client0", 1).deliver(2),
                "timer(client0,1)/2",
            ),
            (EventKey::timer("bucket:a#0", 0), "timer(\"bucket:a#0\",0)"),
            (
                EventKey::client(0, 1)
                    .deliver(1)
                    .deliver(0)
                    .down("bucket:a", "registry"),
                "client0.cmd1/1/0/DOWN(bucket:a>registry)",
            ),
            (
                EventKey::fault(0).death(DeathKind::Down, "bucket:a", "registry", 1),
                "fault0/DOWN(bucket:a>registry)#1",
            ),
            (
                EventKey::fault(0).exit_signal("registry", "bucket:a b"),
                "fault0/EXIT(registry>\"bucket:a b\")",
            ),
            (
                EventKey::client(0, 2).deliver(1).exit(),
                "client0.cmd2/1/exit",
            ),
            (
                EventKey::fault(0).down("bucket:é/\"\\\n😀", "client0/0"),
                "fault0/DOWN(\"bucket:\\u00e9/\\\"\\\\\\u000a\\ud83d\\ude00\">\"client0/0\")",
            ),
            (EventKey::fault(0).down("", "x"), "fault0/DOWN(\"\">x)"),
            (
                EventKey {
                    root: Root::Setup,
                    path: vec![Segment::Send(5)],
                },
                "setup/5",
            ),
        ];
        for (key, text) in cases {
            assert_eq!(key.to_string(), text);
            assert_eq!(parse(text), Ok(key), "{text}");
        }
    }

    #[test]
    fn parser_takes_other_spellings_of_the_same_key() {
        let key = EventKey::fault(0).down("bucket:a b/", "registry");
        for text in [
            "fault0/DOWN(\"bucket:a b\\/\">\"registry\")",
            "fault0/DOWN(\"bucket:a\\u0020b/\">registry)",
        ] {
            assert_eq!(parse(text), Ok(key.clone()), "{text}");
        }
        assert_eq!(
            parse("fault0/DOWN(\"bucket:é\">registry)"),
            Ok(EventKey::fault(0).down("bucket:é", "registry"))
        );
        assert_eq!(
            parse("fault0/DOWN(\"\\uD83D\\uDE00\">registry)"),
            Ok(EventKey::fault(0).down("😀", "registry"))
        );
        // The pre-grammar form of a large send index still reads (as a send index).
        assert_eq!(
            parse("client0.cmd1/1/0/1/3833311950"),
            Ok(EventKey::client(0, 1)
                .deliver(1)
                .deliver(0)
                .deliver(1)
                .deliver(3_833_311_950))
        );
    }

    #[test]
    fn bad_keys_say_where_and_why() {
        let cases = [
            ("", 1, "expected a root"),
            ("client0", 8, "expected \".cmd\""),
            ("client0.cmd", 12, "expected a command id"),
            ("fault", 6, "expected a fault id"),
            ("fault1/", 8, "expected a segment"),
            ("fault1/x", 8, "expected a segment"),
            ("fault-1", 6, "expected a fault id"),
            ("x/1", 1, "expected a root"),
            ("timer(a)", 8, "expected \",\""),
            ("fault01", 6, "leading zero"),
            ("fault4294967296", 6, "larger than"),
            ("fault1 ", 7, "expected '/' or the end"),
            ("fault1/DOWN", 12, "expected \"(\" after DOWN"),
            ("fault1/DOWN(a)", 14, "expected \">\""),
            ("fault1/DOWN(a>)", 15, "expected the recipient"),
            ("fault1/DOWN(a>b", 16, "expected \")\""),
            ("fault1/DOWN(a>b)#0", 18, "without \"#0\""),
            ("fault1/DOWN(a>b)#", 18, "expected an ordinal"),
            ("fault1/DOWN(a/b>c)", 14, "expected \">\""),
            ("fault1/DOWN(\"a>c)", 13, "never closed"),
            ("fault1/DOWN(\"a\\q\">c)", 15, "unknown escape"),
            ("fault1/DOWN(\"a\\u12\">c)", 15, "4 hex digits"),
            ("fault1/DOWN(\"\\ud800\">c)", 14, "low one"),
            ("fault1/DOWN(\"\\udc00\">c)", 14, "lone low surrogate"),
            ("fault1/DOWN(\"a\nb\">c)", 15, "raw control character"),
            ("fault1/Exit", 8, "expected a segment"),
            ("fault1/exit/", 13, "expected a segment"),
        ];
        for (text, column, why) in cases {
            let error = parse(text).expect_err(text);
            assert_eq!(error.column + 1, column, "{text:?}: {error}");
            assert!(error.why.contains(why), "{text:?}: {error}");
            let message = error.to_string();
            assert!(
                message.contains(&format!("at character {column}")),
                "{message}"
            );
        }
    }

    #[test]
    fn parse_prefix_stops_where_the_key_ends() {
        let (key, rest) =
            EventKey::parse_prefix("fault0/DOWN(\"a] b\">registry)] bucket:a] b#0 -> registry")
                .expect("a key");
        assert_eq!(key, EventKey::fault(0).down("a] b", "registry"));
        assert_eq!(rest, "] bucket:a] b#0 -> registry");
    }

    #[test]
    fn serde_uses_the_text_form() {
        let keys = vec![
            EventKey::fault(0),
            EventKey::client(0, 1)
                .deliver(1)
                .down("bucket:a", "registry"),
        ];
        let json = serde_json::to_string(&keys).expect("serialises");
        assert_eq!(
            json,
            r#"["fault0","client0.cmd1/1/DOWN(bucket:a>registry)"]"#
        );
        assert_eq!(
            serde_json::from_str::<Vec<EventKey>>(&json).ok(),
            Some(keys)
        );
        let error = serde_json::from_str::<EventKey>(r#""fault""#).expect_err("bad key");
        assert!(error.to_string().contains("at character 6"), "{error}");
    }

    #[test]
    fn a_released_key_is_freed_with_the_parents_only_it_held() {
        let mut arena = KeyArena::new();
        let root = arena.root(Root::Client { client: 0, cmd: 0 });
        arena.retain(root);
        let first = arena.child(root, 0);
        let deep = arena.child(first, 0);
        arena.retain(deep);
        let sibling = arena.child(root, 1);
        arena.retain(sibling);
        assert_eq!(arena.len(), 4);
        arena.release(deep);
        // `first` had no holder but `deep`: both go; the root stays.
        assert_eq!(arena.len(), 2);
        assert_eq!(arena.key(sibling), EventKey::client(0, 0).deliver(1));
        arena.release(root);
        assert_eq!(arena.len(), 2, "the sibling still holds the root");
        arena.release(sibling);
        assert!(arena.is_empty());
    }

    #[test]
    fn ids_are_never_handed_out_twice() {
        let mut arena = KeyArena::new();
        let mut seen = std::collections::BTreeSet::new();
        for round in 0..100u32 {
            let id = arena.root(Root::Client {
                client: 0,
                cmd: round % 3,
            });
            arena.retain(id);
            assert!(seen.insert(id), "{id:?} again");
            let child = arena.child(id, 0);
            arena.retain(child);
            assert!(seen.insert(child));
            arena.release(id);
            arena.release(child);
            assert!(arena.is_empty());
        }
        // Freed slots are reused, under new ids.
        assert_eq!(arena.slots.len(), 2);
        // The same key interned again gets a fresh id.
        let again = arena.root(Root::Client { client: 0, cmd: 0 });
        assert!(!seen.contains(&again));
    }

    #[test]
    fn a_retained_key_keeps_its_id() {
        let mut arena = KeyArena::new();
        let key = EventKey::client(1, 2).deliver(0).exit();
        let id = arena.intern(&key);
        arena.retain(id);
        let root = arena.root(Root::Client { client: 1, cmd: 2 });
        let cause = arena.child(root, 0);
        assert_eq!(arena.exit(cause), id);
    }
}
