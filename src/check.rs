//! Cases, properties and their checking (docs/design.md § Checking). The only
//! layer that knows about generation: it turns a [`Case`] into a run of a
//! KV system, watches the run online for the six properties, and shrinks a
//! failing case to a minimal one. Also runs plain `.kv` scripts for the CLI.

pub mod bytes;
mod case;
mod checker;
mod explore;
pub mod generate;
pub mod linearizability;
pub mod oracle;
mod property;
mod replay;
mod report;
mod runner;
pub mod schedule;
mod search;
mod shorten;
mod shrink;
pub mod slice;
pub mod verify;

pub use case::{
    CASE_FORMAT_VERSION, Case, CaseClient, CaseFault, CaseFileError, CaseFileErrorKind, CaseMeta,
    PCT_DEPTH_MAX,
};
pub use checker::{
    CaseRun, CheckConfig, Failure, HistoryOp, LinearizabilityCheck, RegistryFactory, Undecided,
    Verdict, choice_source, explicit, fifo_length, run_case, run_case_with,
};
pub use explore::{
    Coverage, Divergence, ExploreConfig, ExploreFailure, ExploreReport, ExploreResult, FailureText,
    FaultBudget, MergeError, NoVerdict, Progress, REPORT_FORMAT_VERSION, RunInfo, Shard, Silent,
    Timing, explore, explore_with, fnv1a, merge,
};
pub use property::{
    BUILTIN_PROPERTIES, CustomProperty, CustomPropertyFactory, P1_LOOKUP_IS_ALIVE,
    P2_NAMES_MATCH_BUCKETS, P3_REGISTRY_DIES_ONLY_WHEN_TOLD, P4_LINEARIZABLE,
    P5_ONE_BUCKET_PER_NAME, P6_NO_CALL_TIMES_OUT, Property, PropertySet,
};
pub use replay::{
    CASE_FILE_SUFFIX, Regressions, ReplayError, ReplayOptions, ReplayReport, read_case,
    regressions, regressions_with, replay, replay_case, replay_with, verdict_lines,
};
pub(crate) use report::replay_command;
pub use report::{CASE_FILE_SUFFIX_MAX, FailureReport, save_case};
pub use runner::{
    PctRun, Played, RunConfig, RunReport, Schedule, ScriptClients, ScriptPlayer, Sinks, TraceSink,
    fifo_steps, run_script,
};
pub use schedule::{Strategy, StrategyKind, case_seed};
pub use search::{
    CaseSource, Counterexample, SearchConfig, SearchSummary, ShrinkTarget, case_tree,
    check_registry, counterexample_at, find_failure, finish, nth_case,
};
pub use shrink::{ShrinkConfig, shrink, shrink_case, shrink_case_with};
pub use slice::{Slice, SliceRoot};
pub use verify::{
    Reduction, VERIFIED_MEANS, VERIFY_REPORT_FORMAT_VERSION, VerifyConfig, VerifyFailure,
    VerifyProgress, VerifyReport, VerifyResult, fault_plans, verify, verify_with,
};

#[cfg(test)]
mod tests {
    /// A compile-time assertion: this test fails to build, not to run, if a
    /// configuration stops being shareable between threads.
    #[test]
    fn configs_and_factories_can_be_shared_between_threads() {
        fn shared<T: Send + Sync + ?Sized>() {}
        shared::<super::SearchConfig>();
        shared::<super::CheckConfig>();
        shared::<super::PropertySet>();
        shared::<super::RegistryFactory<'static>>();
        shared::<super::CustomPropertyFactory>();
        shared::<super::linearizability::LinearizabilityModel>();
    }
}
