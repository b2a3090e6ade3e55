//! The application (docs/design.md § The application): the chapter's buckets and
//! registry stages, the registry protocol they all speak, the `.kv` command
//! language, and the client driver that plays it. Knows nothing of
//! generation or properties ([`crate::check`] does).

mod bucket;
mod client;
mod command;
mod protocol;
pub mod script;
pub mod stage;
mod system;

pub use bucket::{Bucket, bucket};
pub use client::{Client, Exchange};
pub use command::{Command, Target};
pub use protocol::{KvMsg, Registry, spawn_bucket, spawn_custom_bucket};
pub use stage::Stage;
pub use system::{KvFault, KvSystem, Msg};
pub(crate) use system::{dialogue_of, push_dialogue_header};
