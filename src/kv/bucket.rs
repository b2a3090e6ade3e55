//! `KV.Bucket`: an Agent over an ordered map of strings (the guide's
//! previous chapter), answering get, put and delete.

use crate::kv::protocol::KvMsg;
use crate::otp::Agent;
use crate::sim::Reason;
use std::collections::BTreeMap;

/// A bucket process's behaviour.
pub type Bucket = Agent<BTreeMap<String, String>, KvMsg>;

/// A new, empty bucket.
pub fn bucket() -> Bucket {
    Agent::new(BTreeMap::new(), apply)
}

fn apply(map: &mut BTreeMap<String, String>, req: KvMsg) -> Result<KvMsg, Reason> {
    match req {
        KvMsg::Get(key) => Ok(KvMsg::Value(map.get(&key).cloned())),
        KvMsg::Put(key, value) => {
            map.insert(key, value);
            Ok(KvMsg::Ok)
        }
        KvMsg::Delete(key) => Ok(KvMsg::Value(map.remove(&key))),
        _ => Err(Reason::FunctionClause),
    }
}
