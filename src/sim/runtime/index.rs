//! Order-statistic indexes for the scheduler's enabled sets: a Fenwick
//! tree of 0/1 memberships over small dense ids (clients, faults) and an
//! ordered map with ranks (deliverable queue heads, by send number), so
//! that counting the enabled events, finding the `n`-th in `fifo` order and
//! updating one all take O(log n). Nothing here depends on a run's state:
//! the treap's balance comes from a fixed sequence, not from randomness.

use crate::sim::pid::Pid;
use std::hash::{BuildHasherDefault, Hasher};

/// Membership of ids `0..len` with prefix counts: add, remove, count and
/// find the `n`-th member in O(log len).
#[derive(Clone, Debug, Default)]
pub(super) struct Fenwick {
    /// 1-based partial sums.
    tree: Vec<u32>,
    members: Vec<bool>,
    count: usize,
}

impl Fenwick {
    pub(super) fn len(&self) -> usize {
        self.count
    }

    pub(super) fn contains(&self, id: usize) -> bool {
        self.members.get(id).copied().unwrap_or(false)
    }

    /// Makes room for ids below `len`.
    pub(super) fn grow(&mut self, len: usize) {
        if len <= self.members.len() {
            return;
        }
        let members: Vec<usize> = (0..self.members.len())
            .filter(|&i| self.members[i])
            .collect();
        let capacity = len.next_power_of_two();
        self.tree = vec![0; capacity + 1];
        self.members = vec![false; capacity];
        self.count = 0;
        for id in members {
            self.set(id, true);
        }
    }

    /// Adds or removes `id`; returns whether membership changed.
    pub(super) fn set(&mut self, id: usize, member: bool) -> bool {
        // The call only when it has work: a step sets several ids.
        if id >= self.members.len() {
            self.grow(id + 1);
        }
        if self.members[id] == member {
            return false;
        }
        self.members[id] = member;
        if member {
            self.count += 1;
        } else {
            self.count -= 1;
        }
        let mut at = id + 1;
        while at < self.tree.len() {
            if member {
                self.tree[at] += 1;
            } else {
                self.tree[at] -= 1;
            }
            at += at & at.wrapping_neg();
        }
        true
    }

    /// The `n`-th member (from 0) of `self ∪ other` when `with_other`,
    /// of `self` alone otherwise; the two must be disjoint and of equal
    /// capacity when combined (a node's range depends on the capacity).
    pub(super) fn nth_with(&self, other: &Fenwick, with_other: bool, n: usize) -> Option<usize> {
        debug_assert!(!with_other || self.tree.len() == other.tree.len());
        let total = self.count + if with_other { other.count } else { 0 };
        if n >= total {
            return None;
        }
        let len = self
            .tree
            .len()
            .max(if with_other { other.tree.len() } else { 0 });
        let at = |tree: &Vec<u32>, i: usize| tree.get(i).copied().unwrap_or(0) as usize;
        let mut position = 0;
        let mut remaining = n;
        let mut step = (len.max(2) - 1).next_power_of_two();
        while step > 0 {
            let next = position + step;
            if next < len {
                let here =
                    at(&self.tree, next) + if with_other { at(&other.tree, next) } else { 0 };
                if here <= remaining {
                    position = next;
                    remaining -= here;
                }
            }
            step /= 2;
        }
        // `position` is the 1-based index before the member, i.e. its id.
        Some(position)
    }

    pub(super) fn nth(&self, n: usize) -> Option<usize> {
        self.nth_with(self, false, n)
    }
}

/// A map from distinct ordered keys to values with ranks: insert, remove,
/// get the `n`-th entry and the first one, all in O(log n) (a treap whose
/// priorities come from a fixed mixing sequence).
#[derive(Clone, Debug)]
pub(super) struct RankMap<K, V> {
    nodes: Vec<Node<K, V>>,
    free: Vec<u32>,
    root: u32,
    next_priority: u64,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    priority: u64,
    left: u32,
    right: u32,
    size: u32,
}

impl<K: Ord + Copy, V: Copy> Default for RankMap<K, V> {
    fn default() -> Self {
        RankMap {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            next_priority: 0,
        }
    }
}

impl<K: Ord + Copy, V: Copy> RankMap<K, V> {
    pub(super) fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    fn size(&self, node: u32) -> u32 {
        if node == NIL {
            0
        } else {
            self.nodes[node as usize].size
        }
    }

    fn fix(&mut self, node: u32) {
        let (left, right) = {
            let n = &self.nodes[node as usize];
            (n.left, n.right)
        };
        self.nodes[node as usize].size = 1 + self.size(left) + self.size(right);
    }

    /// Splits `node` into keys `< key` and keys `>= key`.
    fn split(&mut self, node: u32, key: &K) -> (u32, u32) {
        if node == NIL {
            return (NIL, NIL);
        }
        if self.nodes[node as usize].key < *key {
            let right = self.nodes[node as usize].right;
            let (l, r) = self.split(right, key);
            self.nodes[node as usize].right = l;
            self.fix(node);
            (node, r)
        } else {
            let left = self.nodes[node as usize].left;
            let (l, r) = self.split(left, key);
            self.nodes[node as usize].left = r;
            self.fix(node);
            (l, node)
        }
    }

    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.nodes[a as usize].right;
            let merged = self.merge(right, b);
            self.nodes[a as usize].right = merged;
            self.fix(a);
            a
        } else {
            let left = self.nodes[b as usize].left;
            let merged = self.merge(a, left);
            self.nodes[b as usize].left = merged;
            self.fix(b);
            b
        }
    }

    fn priority(&mut self) -> u64 {
        // splitmix64 of a counter: well spread, and the same every run.
        self.next_priority = self.next_priority.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.next_priority;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Inserts `key` (which must not be present).
    pub(super) fn insert(&mut self, key: K, value: V) {
        let node = Node {
            key,
            value,
            priority: self.priority(),
            left: NIL,
            right: NIL,
            size: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                let id = u32::try_from(self.nodes.len()).expect("fewer than 2^32 entries");
                self.nodes.push(node);
                id
            }
        };
        let (l, r) = self.split(self.root, &key);
        let l = self.merge(l, id);
        self.root = self.merge(l, r);
    }

    /// Removes `key`; returns its value if it was present.
    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        let mut parent = NIL;
        let mut at = self.root;
        while at != NIL {
            let node = &self.nodes[at as usize];
            match key.cmp(&node.key) {
                std::cmp::Ordering::Less => {
                    parent = at;
                    at = node.left;
                }
                std::cmp::Ordering::Greater => {
                    parent = at;
                    at = node.right;
                }
                std::cmp::Ordering::Equal => break,
            }
        }
        if at == NIL {
            return None;
        }
        let (left, right, value) = {
            let node = &self.nodes[at as usize];
            (node.left, node.right, node.value)
        };
        let merged = self.merge(left, right);
        if parent == NIL {
            self.root = merged;
        } else if self.nodes[parent as usize].left == at {
            self.nodes[parent as usize].left = merged;
        } else {
            self.nodes[parent as usize].right = merged;
        }
        self.free.push(at);
        // Sizes on the path from the root to `parent` drop by one.
        let mut walk = self.root;
        while walk != NIL && walk != merged {
            self.nodes[walk as usize].size -= 1;
            let node = &self.nodes[walk as usize];
            walk = match key.cmp(&node.key) {
                std::cmp::Ordering::Less => node.left,
                _ => node.right,
            };
        }
        if self.root == NIL {
            self.nodes.clear();
            self.free.clear();
        }
        Some(value)
    }

    pub(super) fn get(&self, key: &K) -> Option<V> {
        let mut at = self.root;
        while at != NIL {
            let node = &self.nodes[at as usize];
            match key.cmp(&node.key) {
                std::cmp::Ordering::Less => at = node.left,
                std::cmp::Ordering::Greater => at = node.right,
                std::cmp::Ordering::Equal => return Some(node.value),
            }
        }
        None
    }

    /// The `n`-th entry (from 0) in key order.
    pub(super) fn nth(&self, mut n: usize) -> Option<(K, V)> {
        let mut at = self.root;
        while at != NIL {
            let node = &self.nodes[at as usize];
            let left = self.size(node.left) as usize;
            if n < left {
                at = node.left;
            } else if n == left {
                return Some((node.key, node.value));
            } else {
                n -= left + 1;
                at = node.right;
            }
        }
        None
    }

    pub(super) fn first(&self) -> Option<(K, V)> {
        let mut at = self.root;
        let mut found = None;
        while at != NIL {
            let node = &self.nodes[at as usize];
            found = Some((node.key, node.value));
            at = node.left;
        }
        found
    }

    /// Every entry in key order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (K, V)> + '_ {
        (0..self.len()).filter_map(|n| self.nth(n))
    }
}

/// An ordered map that ranks its entries (`nth`) only when asked to at
/// construction: the `fifo` order needs the first entry alone, which a
/// [`SmallMap`] gives for less than a [`RankMap`] costs.
#[derive(Clone, Debug)]
pub(super) enum OrderedMap<K, V> {
    Plain(SmallMap<K, V>),
    Ranked(RankMap<K, V>),
}

impl<K: Ord + Copy, V: Copy> OrderedMap<K, V> {
    pub(super) fn new(ranked: bool) -> OrderedMap<K, V> {
        if ranked {
            OrderedMap::Ranked(RankMap::default())
        } else {
            OrderedMap::Plain(SmallMap::default())
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            OrderedMap::Plain(map) => map.len(),
            OrderedMap::Ranked(map) => map.len(),
        }
    }

    pub(super) fn insert(&mut self, key: K, value: V) {
        match self {
            OrderedMap::Plain(map) => {
                map.insert(key, value);
            }
            OrderedMap::Ranked(map) => map.insert(key, value),
        }
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        match self {
            OrderedMap::Plain(map) => map.remove(key),
            OrderedMap::Ranked(map) => map.remove(key),
        }
    }

    pub(super) fn get(&self, key: &K) -> Option<V> {
        match self {
            OrderedMap::Plain(map) => map.get(key).copied(),
            OrderedMap::Ranked(map) => map.get(key),
        }
    }

    pub(super) fn first(&self) -> Option<(K, V)> {
        match self {
            OrderedMap::Plain(map) => map.first().map(|(&k, &v)| (k, v)),
            OrderedMap::Ranked(map) => map.first(),
        }
    }

    /// The `n`-th entry: O(log n) when ranked, O(n) otherwise.
    pub(super) fn nth(&self, n: usize) -> Option<(K, V)> {
        match self {
            OrderedMap::Plain(map) => map.iter().nth(n).map(|(&k, &v)| (k, v)),
            OrderedMap::Ranked(map) => map.nth(n),
        }
    }

    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = (K, V)> + '_> {
        match self {
            OrderedMap::Plain(map) => Box::new(map.iter().map(|(&k, &v)| (k, v))),
            OrderedMap::Ranked(map) => Box::new(map.iter()),
        }
    }
}

/// A map from ids handed out in order and never reused (pids, timer refs)
/// to values: kept in pages of consecutive ids, found by a map over the few
/// pages holding a live id (a lookup is a short search and an index, not a
/// walk through every live id), and a page goes once none of its ids lives.
#[derive(Debug)]
pub(super) struct SeqMap<V> {
    pages: std::collections::BTreeMap<u64, Page<V>>,
    len: usize,
}

#[derive(Debug)]
struct Page<V> {
    slots: Vec<Option<V>>,
    used: usize,
}

const PAGE: u64 = 64;

impl<V> Default for SeqMap<V> {
    fn default() -> Self {
        SeqMap {
            pages: std::collections::BTreeMap::new(),
            len: 0,
        }
    }
}

impl<V> SeqMap<V> {
    fn at(id: u64) -> (u64, usize) {
        (id / PAGE, (id % PAGE) as usize)
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, id: u64) -> Option<&V> {
        let (page, slot) = Self::at(id);
        self.pages.get(&page)?.slots[slot].as_ref()
    }

    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        let (page, slot) = Self::at(id);
        self.pages.get_mut(&page)?.slots[slot].as_mut()
    }

    pub(super) fn insert(&mut self, id: u64, value: V) {
        let (page, slot) = Self::at(id);
        let page = self.pages.entry(page).or_insert_with(|| Page {
            slots: (0..PAGE).map(|_| None).collect(),
            used: 0,
        });
        if page.slots[slot].replace(value).is_none() {
            page.used += 1;
            self.len += 1;
        }
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<V> {
        let (index, slot) = Self::at(id);
        let page = self.pages.get_mut(&index)?;
        let value = page.slots[slot].take()?;
        page.used -= 1;
        self.len -= 1;
        if page.used == 0 {
            self.pages.remove(&index);
        }
        Some(value)
    }

    /// Every (id, value), in id order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &V)> + '_ {
        self.pages.iter().flat_map(|(&page, p)| {
            p.slots
                .iter()
                .enumerate()
                .filter_map(move |(slot, v)| v.as_ref().map(|v| (page * PAGE + slot as u64, v)))
        })
    }
}

/// The process table: a [`SeqMap`] by pid number.
#[derive(Debug)]
pub(super) struct PidMap<V>(SeqMap<V>);

impl<V> Default for PidMap<V> {
    fn default() -> Self {
        PidMap(SeqMap::default())
    }
}

impl<V> PidMap<V> {
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn get(&self, pid: &Pid) -> Option<&V> {
        self.0.get(pid.0)
    }

    pub(super) fn get_mut(&mut self, pid: &Pid) -> Option<&mut V> {
        self.0.get_mut(pid.0)
    }

    pub(super) fn contains_key(&self, pid: &Pid) -> bool {
        self.0.get(pid.0).is_some()
    }

    pub(super) fn insert(&mut self, pid: Pid, value: V) {
        self.0.insert(pid.0, value);
    }

    pub(super) fn remove(&mut self, pid: &Pid) -> Option<V> {
        self.0.remove(pid.0)
    }

    /// Every (pid, value), in pid order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Pid, &V)> + '_ {
        self.0.iter().map(|(id, v)| (Pid(id), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::prng::Prng;
    use std::collections::BTreeMap;

    #[test]
    fn pid_map_agrees_with_a_btree_map() {
        let mut prng = Prng::new(11);
        let mut map = PidMap::<u64>::default();
        let mut model = BTreeMap::new();
        for round in 0..20_000u64 {
            let pid = Pid(prng.below(1_000));
            if prng.below(2) == 0 {
                map.insert(pid, round);
                model.insert(pid, round);
            } else {
                assert_eq!(map.remove(&pid), model.remove(&pid));
            }
            assert_eq!(map.len(), model.len());
            let probe = Pid(prng.below(1_000));
            assert_eq!(map.get(&probe), model.get(&probe));
        }
        let all: Vec<(Pid, u64)> = map.iter().map(|(p, &v)| (p, v)).collect();
        let expected: Vec<(Pid, u64)> = model.into_iter().collect();
        assert_eq!(all, expected);
        for (pid, _) in all {
            map.remove(&pid);
        }
        assert!(map.0.pages.is_empty(), "an empty page stayed");
    }

    #[test]
    fn rank_map_agrees_with_a_btree_map() {
        let mut prng = Prng::new(7);
        let mut map = RankMap::<u64, u64>::default();
        let mut model = BTreeMap::new();
        for round in 0..20_000u64 {
            let key = prng.below(500);
            match model.entry(key) {
                std::collections::btree_map::Entry::Occupied(entry) => {
                    assert_eq!(map.remove(&key), Some(entry.remove()));
                }
                std::collections::btree_map::Entry::Vacant(entry) => {
                    map.insert(key, round);
                    entry.insert(round);
                }
            }
            assert_eq!(map.len(), model.len());
            assert_eq!(map.first(), model.iter().next().map(|(&k, &v)| (k, v)));
            if !model.is_empty() {
                let n = prng.below(model.len() as u64) as usize;
                assert_eq!(map.nth(n), model.iter().nth(n).map(|(&k, &v)| (k, v)));
            }
            assert_eq!(map.nth(model.len()), None);
        }
        assert_eq!(map.remove(&1_000), None);
        let all: Vec<(u64, u64)> = map.iter().collect();
        let expected: Vec<(u64, u64)> = model.into_iter().collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn fenwick_agrees_with_a_set() {
        let mut prng = Prng::new(9);
        let (mut a, mut b) = (Fenwick::default(), Fenwick::default());
        let mut members = vec![0u8; 300];
        for _ in 0..10_000 {
            let id = prng.below(300) as usize;
            // 0: neither, 1: in a, 2: in b (disjoint, like ready and
            // ready-once-quiet clients).
            let state = prng.below(3) as u8;
            a.set(id, state == 1);
            b.set(id, state == 2);
            members[id] = state;
            a.grow(300);
            b.grow(300);
            let in_a: Vec<usize> = (0..300).filter(|&i| members[i] == 1).collect();
            let in_both: Vec<usize> = (0..300).filter(|&i| members[i] != 0).collect();
            assert_eq!(a.len(), in_a.len());
            for (n, &id) in in_a.iter().enumerate() {
                assert_eq!(a.nth(n), Some(id));
                assert_eq!(a.nth_with(&b, false, n), Some(id));
            }
            for (n, &id) in in_both.iter().enumerate() {
                assert_eq!(a.nth_with(&b, true, n), Some(id));
            }
            assert_eq!(a.nth_with(&b, true, in_both.len()), None);
            assert!(a.contains(id) == (state == 1));
        }
    }
}

/// Entries a [`SmallMap`] keeps in a sorted vector before it becomes a
/// B-tree.
const SMALL_MAX: usize = 16;

/// A map for tables that hold none to a few entries and change on nearly
/// every step (a process's aliases, its monitors either way and its
/// timers; the pending timers; the deliverable heads under `fifo`): a
/// sorted vector while small, where finding, adding and removing an entry
/// is a short scan and no node is searched, split or merged, and a B-tree
/// once it outgrows [`SMALL_MAX`] (a registry watching every bucket, a
/// thousand clients in flight), so that no operation costs more than
/// O(log n) plus a bounded shift. It never goes back, so a table at the
/// threshold does not convert to and fro. Iteration is in key order
/// either way.
#[derive(Clone, Debug)]
pub(super) enum SmallMap<K, V> {
    Small(Vec<(K, V)>),
    Large(std::collections::BTreeMap<K, V>),
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap::Small(Vec::new())
    }
}

impl<K: Ord + Copy, V> SmallMap<K, V> {
    pub(super) fn len(&self) -> usize {
        match self {
            SmallMap::Small(entries) => entries.len(),
            SmallMap::Large(map) => map.len(),
        }
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        match self {
            SmallMap::Small(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            SmallMap::Large(map) => map.get(key),
        }
    }

    pub(super) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Adds or replaces; the old value, if any.
    pub(super) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self {
            SmallMap::Small(entries) => {
                // Keys mostly arrive in increasing order (refs are handed
                // out so): look from the end.
                let at = entries
                    .iter()
                    .rposition(|(k, _)| *k <= key)
                    .map_or(0, |i| i + 1);
                if at > 0 && entries[at - 1].0 == key {
                    return Some(std::mem::replace(&mut entries[at - 1].1, value));
                }
                if entries.len() < SMALL_MAX {
                    entries.insert(at, (key, value));
                    return None;
                }
                let mut map: std::collections::BTreeMap<K, V> = entries.drain(..).collect();
                map.insert(key, value);
                *self = SmallMap::Large(map);
                None
            }
            SmallMap::Large(map) => map.insert(key, value),
        }
    }

    pub(super) fn remove(&mut self, key: &K) -> Option<V> {
        match self {
            SmallMap::Small(entries) => {
                let at = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(at).1)
            }
            SmallMap::Large(map) => map.remove(key),
        }
    }

    /// The entry with the least key.
    pub(super) fn first(&self) -> Option<(&K, &V)> {
        match self {
            SmallMap::Small(entries) => entries.first().map(|(k, v)| (k, v)),
            SmallMap::Large(map) => map.first_key_value(),
        }
    }

    /// The value with the least key, to change in place.
    pub(super) fn first_mut(&mut self) -> Option<&mut V> {
        match self {
            SmallMap::Small(entries) => entries.first_mut().map(|(_, v)| v),
            SmallMap::Large(map) => map.values_mut().next(),
        }
    }

    pub(super) fn pop_first(&mut self) -> Option<(K, V)> {
        match self {
            SmallMap::Small(entries) if entries.is_empty() => None,
            SmallMap::Small(entries) => Some(entries.remove(0)),
            SmallMap::Large(map) => map.pop_first(),
        }
    }

    /// Every (key, value), in key order.
    pub(super) fn iter(&self) -> SmallIter<'_, K, V> {
        match self {
            SmallMap::Small(entries) => SmallIter::Small(entries.iter()),
            SmallMap::Large(map) => SmallIter::Large(map.iter()),
        }
    }

    pub(super) fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }
}

/// A [`SmallMap`]'s entries by reference, in key order.
pub(super) enum SmallIter<'a, K, V> {
    Small(std::slice::Iter<'a, (K, V)>),
    Large(std::collections::btree_map::Iter<'a, K, V>),
}

impl<'a, K, V> Iterator for SmallIter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        match self {
            SmallIter::Small(entries) => entries.next().map(|(k, v)| (k, v)),
            SmallIter::Large(entries) => entries.next(),
        }
    }
}

/// A [`SmallMap`]'s entries by value, in key order.
pub(super) enum SmallIntoIter<K, V> {
    Small(std::vec::IntoIter<(K, V)>),
    Large(std::collections::btree_map::IntoIter<K, V>),
}

impl<K, V> Iterator for SmallIntoIter<K, V> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        match self {
            SmallIntoIter::Small(entries) => entries.next(),
            SmallIntoIter::Large(entries) => entries.next(),
        }
    }
}

impl<K, V> IntoIterator for SmallMap<K, V> {
    type Item = (K, V);
    type IntoIter = SmallIntoIter<K, V>;

    fn into_iter(self) -> SmallIntoIter<K, V> {
        match self {
            SmallMap::Small(entries) => SmallIntoIter::Small(entries.into_iter()),
            SmallMap::Large(map) => SmallIntoIter::Large(map.into_iter()),
        }
    }
}

/// A set kept like a [`SmallMap`] (see there).
#[derive(Clone, Debug)]
pub(super) struct SmallSet<T>(SmallMap<T, ()>);

impl<T> Default for SmallSet<T> {
    fn default() -> Self {
        SmallSet(SmallMap::default())
    }
}

impl<T: Ord + Copy> SmallSet<T> {
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }

    pub(super) fn contains(&self, value: &T) -> bool {
        self.0.contains_key(value)
    }

    /// Whether it was not already there.
    pub(super) fn insert(&mut self, value: T) -> bool {
        self.0.insert(value, ()).is_none()
    }

    /// Whether it was there.
    pub(super) fn remove(&mut self, value: &T) -> bool {
        self.0.remove(value).is_some()
    }
}

impl<T> IntoIterator for SmallSet<T> {
    type Item = T;
    type IntoIter = std::iter::Map<SmallIntoIter<T, ()>, fn((T, ())) -> T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter().map(|(value, ())| value)
    }
}

/// A fixed hasher for integer keys (pairs of pids): the multiply-rotate of
/// the Fx hash, with no seed, so a table's layout is the same in every run.
/// Nothing may depend on the order such a table iterates in; its one user
/// ([`PairMap`]) is only looked up by key, or read into a list that is
/// sorted before use.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct FixedHasher(u64);

impl FixedHasher {
    const K: u64 = 0xf135_7aea_2e62_a9c5;

    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FixedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    fn finish(&self) -> u64 {
        // The product's high bits mix every input bit; the table indexes
        // by the low ones.
        self.0.rotate_left(26)
    }
}

/// A map by (sender, receiver): the signal queues, looked up on every send
/// and delivery, where a hash lookup is a few instructions and a B-tree's
/// is a search through every pair. The hasher is fixed (no random seed),
/// and no caller depends on its iteration order (see [`FixedHasher`]).
#[allow(clippy::disallowed_types)]
pub(super) type PairMap<V> =
    std::collections::HashMap<(Pid, Pid), V, BuildHasherDefault<FixedHasher>>;
