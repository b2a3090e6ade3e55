//! The properties of docs/design.md § Checking, as named values, and the trait
//! through which a user adds their own. Which step each one is checked at
//! is the checker's business ([`crate::check::run_case`]).

use crate::kv::KvSystem;
use std::fmt;
use std::sync::Arc;

/// A property, by its docs/design.md number and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Property {
    pub number: u8,
    pub name: &'static str,
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{} {}", self.number, self.name)
    }
}

/// 1: when the registry sends a lookup reply naming a pid, that pid is
/// alive at that step.
pub const P1_LOOKUP_IS_ALIVE: Property = Property {
    number: 1,
    name: "lookup-is-alive",
};
/// 2: at quiescence (no signal queued), while the registry is alive, its
/// names are exactly the live buckets it started and its monitor refs are
/// the inverse of its names (a registry holding no ref at all does not
/// monitor, and is held to the first clause only).
pub const P2_NAMES_MATCH_BUCKETS: Property = Property {
    number: 2,
    name: "names-match-buckets",
};
/// 3: the registry dies only when stopped, or by a kill-registry or
/// crash-registry fault.
pub const P3_REGISTRY_DIES_ONLY_WHEN_TOLD: Property = Property {
    number: 3,
    name: "registry-dies-only-when-told",
};
/// 4: the history of all clients is linearizable against the configured
/// sequential model ([`CheckConfig::model`](crate::check::CheckConfig::model),
/// the chapter's `KvModel` by default).
pub const P4_LINEARIZABLE: Property = Property {
    number: 4,
    name: "linearizable",
};
/// 5: at most one live bucket per name.
pub const P5_ONE_BUCKET_PER_NAME: Property = Property {
    number: 5,
    name: "one-bucket-per-name",
};
/// 6: no call ends by timeout.
pub const P6_NO_CALL_TIMES_OUT: Property = Property {
    number: 6,
    name: "no-call-times-out",
};

/// The built-in properties, in number order.
pub const BUILTIN_PROPERTIES: [Property; 6] = [
    P1_LOOKUP_IS_ALIVE,
    P2_NAMES_MATCH_BUCKETS,
    P3_REGISTRY_DIES_ONLY_WHEN_TOLD,
    P4_LINEARIZABLE,
    P5_ONE_BUCKET_PER_NAME,
    P6_NO_CALL_TIMES_OUT,
];

/// A property of a user's own, checked after every step. Each run gets a
/// fresh instance from the property's factory ([`PropertySet::with_custom`]),
/// so a property may keep state across the steps of one run (hence
/// `&mut self`) and one instance never serves two runs.
pub trait CustomProperty {
    /// Its name, e.g. `"at-most-three-buckets"`; reported with number 0.
    fn name(&self) -> &'static str;
    /// `Err(why)` when the system, as it stands after a step, breaks it.
    fn check(&mut self, system: &KvSystem) -> Result<(), String>;
}

/// What builds a fresh [`CustomProperty`] for each run. `Send + Sync` so
/// that threads running cases can share one configuration.
pub type CustomPropertyFactory = dyn Fn() -> Box<dyn CustomProperty> + Send + Sync;

/// Which properties a run checks.
#[derive(Clone)]
pub struct PropertySet {
    builtin: Vec<Property>,
    custom: Vec<Arc<CustomPropertyFactory>>,
}

impl Default for PropertySet {
    /// All six built-in properties.
    fn default() -> PropertySet {
        PropertySet {
            builtin: BUILTIN_PROPERTIES.to_vec(),
            custom: Vec::new(),
        }
    }
}

impl fmt::Debug for PropertySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PropertySet")
            .field("builtin", &self.builtin)
            .field("custom_factories", &self.custom.len())
            .finish()
    }
}

impl std::str::FromStr for PropertySet {
    type Err = String;

    /// What `--properties` takes: `all`, or a comma-separated list of
    /// numbers (`1,4`), `P`-numbers (`P1`) or names (`lookup-is-alive`).
    /// Errors name the word not understood and list the properties.
    fn from_str(text: &str) -> Result<PropertySet, String> {
        if text == "all" {
            return Ok(PropertySet::only(&BUILTIN_PROPERTIES));
        }
        let mut chosen = PropertySet::none();
        for word in text.split(',') {
            let word = word.trim();
            let number = word.strip_prefix('P').unwrap_or(word);
            let property = BUILTIN_PROPERTIES
                .into_iter()
                .find(|p| p.name == word || p.number.to_string() == number)
                .ok_or_else(|| {
                    let names: Vec<String> = BUILTIN_PROPERTIES
                        .iter()
                        .map(|p| format!("{} {}", p.number, p.name))
                        .collect();
                    format!(
                        "unknown property {word:?} (expected all, or numbers or names of: {})",
                        names.join(", ")
                    )
                })?;
            chosen = chosen.with(property);
        }
        Ok(chosen)
    }
}

impl PropertySet {
    /// No property at all (add some with [`PropertySet::with`]).
    pub fn none() -> PropertySet {
        PropertySet {
            builtin: Vec::new(),
            custom: Vec::new(),
        }
    }

    /// Only these built-in properties.
    pub fn only(properties: &[Property]) -> PropertySet {
        PropertySet {
            builtin: properties.to_vec(),
            custom: Vec::new(),
        }
    }

    /// Adds a built-in property.
    pub fn with(mut self, property: Property) -> PropertySet {
        if !self.builtin.contains(&property) {
            self.builtin.push(property);
        }
        self
    }

    /// Adds a property of your own, built afresh for every run by
    /// `factory` (e.g. `|| Box::new(AtMostOneName)`).
    pub fn with_custom(
        mut self,
        factory: impl Fn() -> Box<dyn CustomProperty> + Send + Sync + 'static,
    ) -> PropertySet {
        self.custom.push(Arc::new(factory));
        self
    }

    pub fn contains(&self, property: Property) -> bool {
        self.builtin.contains(&property)
    }

    /// The built-in properties checked, in the order added.
    pub fn builtin(&self) -> &[Property] {
        &self.builtin
    }

    /// The built-in properties checked as the command line lists them
    /// (`1,3`, in number order), or `None` for every built-in one (the
    /// command line's default) or none of them (which `--properties`
    /// cannot say). Properties of your own have no number.
    pub fn subset_text(&self) -> Option<String> {
        let mut numbers: Vec<u8> = self.builtin.iter().map(|p| p.number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.is_empty() || numbers.len() == BUILTIN_PROPERTIES.len() {
            return None;
        }
        let list: Vec<String> = numbers.iter().map(u8::to_string).collect();
        Some(list.join(","))
    }

    /// The `--properties` flag that selects this set on the command line
    /// (`--properties 1,3`), or `None` when none is needed (see
    /// [`PropertySet::subset_text`]).
    pub fn cli_flag(&self) -> Option<String> {
        self.subset_text()
            .map(|list| format!("--properties {list}"))
    }

    /// How many properties of your own are checked.
    pub fn custom_count(&self) -> usize {
        self.custom.len()
    }

    /// One fresh instance of each custom property, for one run.
    pub(crate) fn instantiate_custom(&self) -> Vec<Box<dyn CustomProperty>> {
        self.custom.iter().map(|factory| factory()).collect()
    }
}
