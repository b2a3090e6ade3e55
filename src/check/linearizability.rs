//! Linearizability of KV histories (placeholder; being written).
