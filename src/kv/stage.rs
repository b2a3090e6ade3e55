//! The registry stages: the chapter's registries as a developer following
//! it would have them, each a small complete module to read beside the
//! chapter, plus `fixed`. Owns the choice of stage by name.

mod fixed;
mod monitored;
mod naive;
mod no_catch_all;
mod unlinked;

pub use fixed::Fixed;
pub use monitored::Monitored;
pub use naive::Naive;
pub use no_catch_all::NoCatchAll;
pub use unlinked::Unlinked;

use crate::kv::protocol::Registry;
use std::fmt;
use std::str::FromStr;

/// A built-in registry implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Naive,
    Monitored,
    NoCatchAll,
    Unlinked,
    Fixed,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Naive,
        Stage::Monitored,
        Stage::NoCatchAll,
        Stage::Unlinked,
        Stage::Fixed,
    ];

    /// The name used on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Naive => "naive",
            Stage::Monitored => "monitored",
            Stage::NoCatchAll => "no-catch-all",
            Stage::Unlinked => "unlinked",
            Stage::Fixed => "fixed",
        }
    }

    /// A fresh registry of this stage.
    pub fn registry(self) -> Box<dyn Registry> {
        match self {
            Stage::Naive => Box::new(Naive::default()),
            Stage::Monitored => Box::new(Monitored::default()),
            Stage::NoCatchAll => Box::new(NoCatchAll::default()),
            Stage::Unlinked => Box::new(Unlinked::default()),
            Stage::Fixed => Box::new(Fixed::default()),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> Result<Stage, String> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown registry stage {text:?} (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}
