//! A bucket's data in [`super::KvModel`]: a sorted map from key to value
//! that is cheap to copy and to change, so that a model state with many
//! keys costs the same to step as one with a few.
//!
//! A persistent treap (C. R. Aragon and R. Seidel, "Randomized search
//! trees", FOCS 1989) whose nodes are shared between copies: a copy is one
//! reference count, an insert or a removal copies the O(log n) nodes on
//! its path. Each node's priority is a fixed hash of its key, so a set of
//! keys has one shape whatever the order it was built in, and two equal
//! maps can be told equal by walking only the nodes they do not share.
//! Maps are ordered first by size and a running hash of their entries,
//! which makes comparing two different maps O(1) almost always.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// A bucket's key-value pairs (see the module doc).
#[derive(Clone, Default)]
pub struct BucketData {
    root: Link,
    len: usize,
    /// Wrapping sum of the entries' hashes.
    fingerprint: u64,
}

type Link = Option<Arc<Node>>;

#[derive(Clone)]
struct Node {
    // Shared, so that copying a node on a changed path allocates nothing
    // but the node.
    key: Arc<str>,
    value: Arc<str>,
    priority: u64,
    left: Link,
    right: Link,
}

/// FNV-1a, then SplitMix64's finaliser: fixed, so the shapes and the
/// order of maps are the same on every run and every machine.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &byte in bytes {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

fn entry_hash(key: &str, value: &str) -> u64 {
    let h = hash(key.as_bytes()) ^ hash(value.as_bytes()).rotate_left(29);
    hash(&h.to_le_bytes())
}

/// Whether `a` belongs above `b`: priorities, ties broken by key.
fn above(a: &Node, b: &Node) -> bool {
    (a.priority, &a.key) > (b.priority, &b.key)
}

fn insert_at(
    link: &Link,
    key: Arc<str>,
    value: Arc<str>,
    priority: u64,
) -> (Arc<Node>, Option<Arc<str>>) {
    let Some(node) = link else {
        let leaf = Node {
            key,
            value,
            priority,
            left: None,
            right: None,
        };
        return (Arc::new(leaf), None);
    };
    match key.cmp(&node.key) {
        Ordering::Equal => {
            let old = node.value.clone();
            let replaced = Node {
                value,
                ..Node::clone(node)
            };
            (Arc::new(replaced), Some(old))
        }
        Ordering::Less => {
            let (left, old) = insert_at(&node.left, key, value, priority);
            let top = if above(&left, node) {
                // Rotate right: the new left child comes up.
                let down = Node {
                    left: left.right.clone(),
                    ..Node::clone(node)
                };
                Node {
                    right: Some(Arc::new(down)),
                    ..Node::clone(&left)
                }
            } else {
                Node {
                    left: Some(left),
                    ..Node::clone(node)
                }
            };
            (Arc::new(top), old)
        }
        Ordering::Greater => {
            let (right, old) = insert_at(&node.right, key, value, priority);
            let top = if above(&right, node) {
                let down = Node {
                    right: right.left.clone(),
                    ..Node::clone(node)
                };
                Node {
                    left: Some(Arc::new(down)),
                    ..Node::clone(&right)
                }
            } else {
                Node {
                    right: Some(right),
                    ..Node::clone(node)
                }
            };
            (Arc::new(top), old)
        }
    }
}

/// The two subtrees joined, every key of `a` below every key of `b`.
fn merge(a: &Link, b: &Link) -> Link {
    match (a, b) {
        (None, other) | (other, None) => other.clone(),
        (Some(x), Some(y)) => {
            let top = if above(x, y) {
                Node {
                    right: merge(&x.right, b),
                    ..Node::clone(x)
                }
            } else {
                Node {
                    left: merge(a, &y.left),
                    ..Node::clone(y)
                }
            };
            Some(Arc::new(top))
        }
    }
}

fn remove_at(link: &Link, key: &str) -> Option<(Link, Arc<str>)> {
    let node = link.as_ref()?;
    match key.cmp(&*node.key) {
        Ordering::Equal => Some((merge(&node.left, &node.right), node.value.clone())),
        Ordering::Less => {
            let (left, old) = remove_at(&node.left, key)?;
            Some((
                Some(Arc::new(Node {
                    left,
                    ..Node::clone(node)
                })),
                old,
            ))
        }
        Ordering::Greater => {
            let (right, old) = remove_at(&node.right, key)?;
            Some((
                Some(Arc::new(Node {
                    right,
                    ..Node::clone(node)
                })),
                old,
            ))
        }
    }
}

/// Same entries, walking only the nodes the two trees do not share (one
/// shape per key set makes that exact).
fn same_entries(a: &Link, b: &Link) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            Arc::ptr_eq(x, y)
                || (x.key == y.key
                    && x.value == y.value
                    && same_entries(&x.left, &y.left)
                    && same_entries(&x.right, &y.right))
        }
        _ => false,
    }
}

impl BucketData {
    /// No keys.
    pub fn new() -> BucketData {
        BucketData::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        let mut link = &self.root;
        while let Some(node) = link {
            link = match key.cmp(&*node.key) {
                Ordering::Equal => return Some(&node.value),
                Ordering::Less => &node.left,
                Ordering::Greater => &node.right,
            };
        }
        None
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key` to `value`; the value it replaced, if any.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        let added = entry_hash(&key, &value);
        let removed = self.get(&key).map(|old| entry_hash(&key, old));
        let priority = hash(key.as_bytes());
        let (root, old) = insert_at(&self.root, key.into(), value.into(), priority);
        match removed {
            Some(removed) => self.fingerprint = self.fingerprint.wrapping_sub(removed),
            None => self.len += 1,
        }
        self.fingerprint = self.fingerprint.wrapping_add(added);
        self.root = Some(root);
        old.map(|old| old.to_string())
    }

    /// Removes `key`; its value, if it had one.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let (root, old) = remove_at(&self.root, key)?;
        self.root = root;
        self.len -= 1;
        self.fingerprint = self.fingerprint.wrapping_sub(entry_hash(key, &old));
        Some(old.to_string())
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        let mut iter = Iter { stack: Vec::new() };
        iter.descend(&self.root);
        iter
    }
}

/// [`BucketData::iter`]: in-order, with a stack of the nodes whose left
/// side is done.
pub struct Iter<'a> {
    stack: Vec<&'a Node>,
}

impl<'a> Iter<'a> {
    fn descend(&mut self, mut link: &'a Link) {
        while let Some(node) = link {
            self.stack.push(node);
            link = &node.left;
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.stack.pop()?;
        self.descend(&node.right);
        Some((&node.key, &node.value))
    }
}

impl<'a> IntoIterator for &'a BucketData {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<(String, String)> for BucketData {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(entries: I) -> BucketData {
        let mut data = BucketData::new();
        for (key, value) in entries {
            data.insert(key, value);
        }
        data
    }
}

impl std::ops::Index<&str> for BucketData {
    type Output = str;

    /// # Panics
    ///
    /// If `key` has no value.
    fn index(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("no value under key {key:?}"))
    }
}

impl fmt::Debug for BucketData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Ord for BucketData {
    /// By size, then by the hash of the entries, then entry by entry: a
    /// total order (equal maps have equal hashes) that is not the
    /// lexicographic one, and costs O(1) for maps of different contents
    /// almost always.
    fn cmp(&self, other: &BucketData) -> Ordering {
        self.len
            .cmp(&other.len)
            .then(self.fingerprint.cmp(&other.fingerprint))
            .then_with(|| {
                if same_entries(&self.root, &other.root) {
                    Ordering::Equal
                } else {
                    self.iter().cmp(other.iter())
                }
            })
    }
}

impl PartialOrd for BucketData {
    fn partial_cmp(&self, other: &BucketData) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for BucketData {
    fn eq(&self, other: &BucketData) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for BucketData {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    /// Insert (`Some(value)`) or remove (`None`) of one of a few keys.
    fn edits() -> impl Strategy<Value = Vec<(u8, Option<u8>)>> {
        proptest::collection::vec((0u8..12, proptest::option::of(0u8..3)), 0..40)
    }

    fn apply(edits: &[(u8, Option<u8>)]) -> (BucketData, BTreeMap<String, String>) {
        let mut data = BucketData::new();
        let mut reference = BTreeMap::new();
        for (key, value) in edits {
            let key = format!("k{key}");
            match value {
                Some(value) => {
                    let value = format!("v{value}");
                    assert_eq!(
                        data.insert(key.clone(), value.clone()),
                        reference.insert(key, value)
                    );
                }
                None => assert_eq!(data.remove(&key), reference.remove(&key)),
            }
        }
        (data, reference)
    }

    proptest! {
        /// The map answers as a `BTreeMap` does, and a copy taken midway is
        /// not changed by later edits.
        #[test]
        fn behaves_as_a_btreemap(edits in edits(), cut in 0usize..40) {
            let cut = cut.min(edits.len());
            let (early, early_reference) = apply(&edits[..cut]);
            let mut data = early.clone();
            let mut reference = early_reference.clone();
            for (key, value) in &edits[cut..] {
                let key = format!("k{key}");
                match value {
                    Some(value) => {
                        data.insert(key.clone(), format!("v{value}"));
                        reference.insert(key, format!("v{value}"));
                    }
                    None => {
                        data.remove(&key);
                        reference.remove(&key);
                    }
                }
            }
            for (data, reference) in [(&early, &early_reference), (&data, &reference)] {
                prop_assert_eq!(data.len(), reference.len());
                prop_assert!(data.iter().eq(reference.iter().map(|(k, v)| (k.as_str(), v.as_str()))));
                for key in 0..12 {
                    let key = format!("k{key}");
                    prop_assert_eq!(data.get(&key), reference.get(&key).map(String::as_str));
                }
            }
        }

        /// Equal exactly when the entries are, whatever the order they
        /// came in; the order is total and consistent with equality.
        #[test]
        fn equality_and_order_follow_the_entries(a in edits(), b in edits()) {
            let (data_a, reference_a) = apply(&a);
            let (data_b, reference_b) = apply(&b);
            prop_assert_eq!(data_a == data_b, reference_a == reference_b);
            prop_assert_eq!(data_a.cmp(&data_b), data_b.cmp(&data_a).reverse());
            let rebuilt: BucketData = reference_a.clone().into_iter().rev().collect();
            prop_assert_eq!(&rebuilt, &data_a);
            prop_assert_eq!(rebuilt.cmp(&data_a), Ordering::Equal);
        }
    }
}
