//! The `w4x2500` workload, shared by `benches/core.rs` (its timing) and
//! `examples/core_probe.rs` (its instruction count), so that both measure
//! the same run: 4 clients × 2,500 commands (40 % PUT, 30 % GET, 10 %
//! CREATE, 10 % DELETE, 10 % CRASH) over 100 bucket names and 8 keys.

use kvsim::kv::{Command, Target};
use kvsim::sim::{Limits, Prng};

pub const CLIENTS: u32 = 4;
pub const COMMANDS_PER_CLIENT: u32 = 2_500;
const BUCKET_NAMES: u64 = 100;
pub const KEYS: u64 = 8;
pub const SEED: u64 = 0x6b76_7369_6d00_0004; // "kvsim", 4 clients

/// Far above what the workload takes, so a run always ends quiescent.
pub const LIMITS: Limits = Limits {
    steps_max: 10_000_000,
    queue_len_max: 100_000,
};

/// One client's commands: (stable id, command), drawn from `prng`.
pub fn client_commands(prng: &mut Prng) -> Vec<(u32, Command)> {
    (0..COMMANDS_PER_CLIENT)
        .map(|cmd_id| {
            let bucket = format!("b{:02}", prng.below(BUCKET_NAMES));
            let key = format!("k{}", prng.below(KEYS));
            let command = match prng.below(10) {
                0..=3 => Command::Put {
                    bucket,
                    key,
                    value: format!("v{}", prng.below(1_000)),
                },
                4..=6 => Command::Get { bucket, key },
                7 => Command::Create { bucket },
                8 => Command::Delete { bucket, key },
                _ => Command::Crash {
                    target: Target::Bucket(bucket),
                    reason: None,
                },
            };
            (cmd_id, command)
        })
        .collect()
}
