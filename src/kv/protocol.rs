//! The registry protocol (docs/design.md § The application): the messages every stage — and a
//! user's own registry — speaks, the `Registry` trait that exposes its state
//! to properties, and `spawn_bucket`, through which buckets are started so
//! that the harness knows which bucket belongs to which name.

use crate::kv::bucket::bucket;
use crate::otp::{CallResult, Envelope, Flow, From, GenServer, Info, start, start_link};
use crate::sim::{Ctx, Naming, Pid, Reason, Ref, Spawned};
use std::fmt;

/// Every payload of the KV system. Names, keys and values are plain
/// strings: data, never interned.
#[derive(Clone, PartialEq, Eq)]
pub enum KvMsg {
    /// Registry call `{:lookup, name}`; answered by `Found`.
    Lookup(String),
    /// Registry cast `{:create, name}`.
    Create(String),
    /// Registry call `:stop`; answered `Ok`, then the registry stops normally.
    Stop,
    /// `{:ok, pid}` or `:error`.
    Found(Option<Pid>),
    /// `:ok`.
    Ok,
    /// Bucket call: get a key.
    Get(String),
    /// Bucket call: put a key; answered `Ok`.
    Put(String, String),
    /// Bucket call: delete a key; answered with the old value.
    Delete(String),
    /// A bucket's value, `nil` when absent.
    Value(Option<String>),
    /// A message nobody expects (`SEND registry <word>`).
    Stray(String),
}

impl fmt::Debug for KvMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvMsg::Lookup(name) => write!(f, "{{:lookup, {name:?}}}"),
            KvMsg::Create(name) => write!(f, "{{:create, {name:?}}}"),
            KvMsg::Stop => f.write_str(":stop"),
            KvMsg::Found(Some(pid)) => write!(f, "{{:ok, {pid:?}}}"),
            KvMsg::Found(None) => f.write_str(":error"),
            KvMsg::Ok => f.write_str(":ok"),
            KvMsg::Get(key) => write!(f, "{{:get, {key:?}}}"),
            KvMsg::Put(key, value) => write!(f, "{{:put, {key:?}, {value:?}}}"),
            KvMsg::Delete(key) => write!(f, "{{:delete, {key:?}}}"),
            KvMsg::Value(Some(value)) => write!(f, "{value:?}"),
            KvMsg::Value(None) => f.write_str("nil"),
            KvMsg::Stray(word) => write!(f, "{{:stray, {word:?}}}"),
        }
    }
}

/// A registry: a GenServer over [`KvMsg`] answering `Lookup` (call, reply
/// `Found`), `Create` (cast) and `Stop` (call, reply `Ok`, then stop
/// normally), starting buckets with [`spawn_bucket`], and exposing its state
/// for property 2.
pub trait Registry: GenServer<KvMsg> {
    /// The names it maps, with their bucket pids.
    fn names(&self) -> Vec<(String, Pid)>;
    /// Its monitor refs, with the name each one watches.
    fn monitor_refs(&self) -> Vec<(Ref, String)>;
}

impl GenServer<KvMsg> for Box<dyn Registry> {
    fn init(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>) -> Result<(), Reason> {
        (**self).init(ctx)
    }
    fn handle_call(
        &mut self,
        ctx: &mut Ctx<'_, Envelope<KvMsg>>,
        req: KvMsg,
        from: From,
    ) -> CallResult<KvMsg> {
        (**self).handle_call(ctx, req, from)
    }
    fn handle_cast(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, req: KvMsg) -> Flow {
        (**self).handle_cast(ctx, req)
    }
    fn handle_info(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, info: Info<KvMsg>) -> Flow {
        (**self).handle_info(ctx, info)
    }
    fn terminate(&mut self, ctx: &mut Ctx<'_, Envelope<KvMsg>>, reason: &Reason) {
        (**self).terminate(ctx, reason)
    }
}

/// Starts a bucket process of your own making for `name` (a test double, a
/// deliberately broken bucket): named and targeted like [`spawn_bucket`]'s.
pub fn spawn_custom_bucket<G: GenServer<KvMsg>>(
    ctx: &mut Ctx<'_, Envelope<KvMsg>>,
    name: &str,
    link: bool,
    monitor: bool,
    server: G,
) -> Result<Spawned, Reason> {
    let role = format!("bucket:{name}");
    let naming = Naming::Role(role.clone());
    if link {
        start_link(ctx, naming, Some(role), server, monitor)
    } else {
        start(ctx, naming, Some(role), server, monitor)
    }
}

/// Starts a bucket for `name` (`KV.Bucket.start_link` when `link`, else
/// `Agent.start`), monitored by the caller when `monitor`. Its logical name
/// is `bucket:<name>#<g>` and fault targets `bucket:<name>` find it.
pub fn spawn_bucket(
    ctx: &mut Ctx<'_, Envelope<KvMsg>>,
    name: &str,
    link: bool,
    monitor: bool,
) -> Result<Spawned, Reason> {
    spawn_custom_bucket(ctx, name, link, monitor, bucket())
}
