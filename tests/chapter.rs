//! The guide's own ExUnit tests, ported to `.kv` dialogues and run under
//! `fifo` against every registry stage they apply to:
//!
//! ```elixir
//! # KV.BucketTest (the previous chapter)
//! test "stores values by key", %{bucket: bucket} do
//!   assert KV.Bucket.get(bucket, "milk") == nil
//!   KV.Bucket.put(bucket, "milk", 3)
//!   assert KV.Bucket.get(bucket, "milk") == 3
//! end
//!
//! # KV.RegistryTest, section 3.2
//! test "spawns buckets", %{registry: registry} do
//!   assert KV.Registry.lookup(registry, "shopping") == :error
//!   KV.Registry.create(registry, "shopping")
//!   assert {:ok, bucket} = KV.Registry.lookup(registry, "shopping")
//!   KV.Bucket.put(bucket, "milk", 1)
//!   assert KV.Bucket.get(bucket, "milk") == 1
//! end
//!
//! # section 3.3: fails on the registry of 3.1 (naive), passes once
//! # buckets are monitored
//! test "removes buckets on exit", %{registry: registry} do
//!   KV.Registry.create(registry, "shopping")
//!   {:ok, bucket} = KV.Registry.lookup(registry, "shopping")
//!   Agent.stop(bucket)
//!   assert KV.Registry.lookup(registry, "shopping") == :error
//! end
//! ```
//!
//! A `nil` value reads as an empty line; `lookup == :error` as `NOT FOUND`.

mod common;

use common::play;
use kvsim::kv::Stage;

/// "stores values by key": through the registry, a new bucket has no
/// `milk` (`nil`, an empty line), then stores 3.
#[test]
fn bucket_stores_values_by_key() {
    let script = "CREATE shopping\nGET shopping milk\nPUT shopping milk 3\nGET shopping milk\n";
    for stage in Stage::ALL {
        assert_eq!(
            play(stage, script),
            "CREATE shopping\nOK\n\nGET shopping milk\n\nOK\n\nPUT shopping milk 3\nOK\n\nGET shopping milk\n3\nOK\n\n",
            "{stage}"
        );
    }
}

/// "spawns buckets": every stage passes it.
#[test]
fn registry_spawns_buckets() {
    let script = "LOOKUP shopping\nCREATE shopping\nLOOKUP shopping\nPUT shopping milk 1\nGET shopping milk\n";
    for stage in Stage::ALL {
        assert_eq!(
            play(stage, script),
            "LOOKUP shopping\nNOT FOUND\n\nCREATE shopping\nOK\n\nLOOKUP shopping\nOK\n\n\
             PUT shopping milk 1\nOK\n\nGET shopping milk\n1\nOK\n\n",
            "{stage}"
        );
    }
}

const REMOVES_ON_EXIT: &str = "CREATE shopping\nLOOKUP shopping\nSTOP shopping\nLOOKUP shopping\n";

/// "removes buckets on exit" passes under `fifo` (the common BEAM outcome,
/// docs/semantics.md S33) on every stage that monitors its buckets.
#[test]
fn registry_removes_buckets_on_exit() {
    for stage in [
        Stage::Monitored,
        Stage::NoCatchAll,
        Stage::Unlinked,
        Stage::Fixed,
    ] {
        assert_eq!(
            play(stage, REMOVES_ON_EXIT),
            "CREATE shopping\nOK\n\nLOOKUP shopping\nOK\n\nSTOP shopping\nOK\n\nLOOKUP shopping\nNOT FOUND\n\n",
            "{stage}"
        );
    }
}

/// ... and fails on section 3.1's registry, as the chapter says it will: the
/// name stays in the registry's state after the bucket has stopped.
#[test]
fn registry_removes_buckets_on_exit_fails_for_naive() {
    assert_eq!(
        play(Stage::Naive, REMOVES_ON_EXIT),
        "CREATE shopping\nOK\n\nLOOKUP shopping\nOK\n\nSTOP shopping\nOK\n\nLOOKUP shopping\nOK\n\n"
    );
}
