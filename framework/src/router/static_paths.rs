//! The router's table of patterns without parameters, looked up before matchit's tree.
//!
//! An open-addressing table (linear probing, at most half full) built for one job: find a
//! request path among a fixed set of short strings. Each slot keeps its key's length and first
//! and last eight bytes, which are also what the lookup hashes, so a path of up to 16 bytes
//! (`/plaintext`, `/json`, most routes) is found or refused with a few word comparisons and no
//! call to `memcmp`; longer keys are compared in full once those agree. A general hash map
//! (FxHash behind hashbrown) cost about 90 instructions per lookup, this about a third.

/// One slot: empty (`len` 0: no pattern is empty, each starts with `/`) or a key's summary.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    len: usize,
    first: u64,
    last: u64,
    value: usize,
    /// Where the key is in `keys`, to compare a key longer than 16 bytes in full.
    key: usize,
}

/// Paths to values (indices into the router's path entries).
#[derive(Debug)]
pub(super) struct StaticPaths {
    /// A power of two in length, never more than half full.
    slots: Vec<Slot>,
    /// The keys and their values, in the order they were added.
    entries: Vec<(Box<str>, usize)>,
}

impl Default for StaticPaths {
    fn default() -> Self {
        Self {
            slots: vec![Slot::default(); 2],
            entries: Vec::new(),
        }
    }
}

impl StaticPaths {
    /// Adds `path` with `value`; the router adds each pattern once.
    pub(super) fn insert(&mut self, path: &str, value: usize) {
        debug_assert!(!path.is_empty() && self.get(path).is_none());
        self.entries.push((path.into(), value));
        if 2 * self.entries.len() > self.slots.len() {
            self.slots = vec![Slot::default(); 2 * self.slots.len()];
            for entry in 0..self.entries.len() {
                self.place(entry);
            }
        } else {
            self.place(self.entries.len() - 1);
        }
    }

    /// Puts entry `entry` in the first free slot from where its hash points.
    fn place(&mut self, entry: usize) {
        let (key, value) = &self.entries[entry];
        let key = key.as_bytes();
        let (first, last) = ends(key);
        let mask = self.slots.len() - 1;
        let mut at = hash(key, first, last) & mask;
        while self.slots[at].len != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = Slot {
            len: key.len(),
            first,
            last,
            value: *value,
            key: entry,
        };
    }

    /// The value of `path`, if it is a key. Up to 16 bytes (most paths), the two words that
    /// are hashed cover the whole path, and a slot with the same length and words is a match.
    #[inline]
    pub(super) fn get(&self, path: &str) -> Option<usize> {
        let bytes = path.as_bytes();
        if bytes.len() > 16 {
            return self.get_long(path);
        }
        let (first, last) = ends(bytes);
        let mask = self.slots.len() - 1;
        let mut at = hash(bytes, first, last) & mask;
        loop {
            let slot = self.slots.get(at)?;
            if slot.len == 0 {
                return None;
            }
            if slot.len == bytes.len() && slot.first == first && slot.last == last {
                return Some(slot.value);
            }
            at = (at + 1) & mask;
        }
    }

    /// [`get`](Self::get) for a path longer than 16 bytes: candidates are compared in full.
    /// Its probe loop repeats `get`'s on purpose: one loop shared through a key-check closure
    /// cost `/plaintext` 5 instructions per request (callgrind, 1,524 -> 1,529).
    #[inline(never)]
    fn get_long(&self, path: &str) -> Option<usize> {
        let bytes = path.as_bytes();
        let (first, last) = ends(bytes);
        let mask = self.slots.len() - 1;
        let mut at = hash(bytes, first, last) & mask;
        loop {
            let slot = self.slots.get(at)?;
            if slot.len == 0 {
                return None;
            }
            if slot.len == bytes.len()
                && slot.first == first
                && slot.last == last
                && self
                    .entries
                    .get(slot.key)
                    .is_some_and(|(key, _)| **key == *path)
            {
                return Some(slot.value);
            }
            at = (at + 1) & mask;
        }
    }
}

/// The first and the last eight bytes of `bytes` as words (overlapping when shorter than 16);
/// shorter than eight, the bytes padded with zeros, twice.
#[inline(always)]
fn ends(bytes: &[u8]) -> (u64, u64) {
    let len = bytes.len();
    if len >= 8 {
        (word_at(bytes, 0), word_at(bytes, len - 8))
    } else {
        // Byte by byte: a call to `memcpy` would cost more than the lookup.
        let word = bytes
            .iter()
            .enumerate()
            .fold(0, |word, (at, &b)| word | u64::from(b) << (8 * at));
        (word, word)
    }
}

fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// FxHash's mixing step over the length, the two end words and, for keys longer than 16
/// bytes, the words between: every byte counts, so keys that share their ends still spread.
#[inline(always)]
fn hash(bytes: &[u8], first: u64, last: u64) -> usize {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let mix = |hash: u64, word: u64| (hash.rotate_left(26) ^ word).wrapping_mul(K);
    let mut hash = mix(mix(bytes.len() as u64, first), last);
    if bytes.len() > 16 {
        for at in (8..bytes.len() - 8).step_by(8) {
            hash = mix(hash, word_at(bytes, at));
        }
    }
    // The multiplication leaves its best bits at the top.
    hash.rotate_left(26) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_nothing_else() {
        let keys = [
            "/",
            "/a",
            "/json",
            "/abcdefg",
            "/abcdefgh",
            "/plaintext",
            "/abcdefghijklmno",
            "/abcdefghijklmnop",
            "/static/css/site.css",
            "/static/css/sitf.css",
            "/api/v1/users/list",
            "/api/v1/items/list",
        ];
        let mut table = StaticPaths::default();
        for (value, key) in keys.iter().enumerate() {
            table.insert(key, value);
        }
        for (value, key) in keys.iter().enumerate() {
            assert_eq!(table.get(key), Some(value), "{key}");
        }
        let others = [
            "",
            "/b",
            "/jso",
            "/json/",
            "/JSON",
            "/abcdefgi",
            "/plaintexT",
            "/abcdefghijklmnq",
            "/static/css/site.csS",
            "/static/csz/site.css",
            "/api/v1/users/lis",
            "/user/42",
            "*",
        ];
        for other in others {
            assert_eq!(table.get(other), None, "{other}");
        }
    }

    #[test]
    fn keys_sharing_their_ends_are_told_apart() {
        // Same length, first and last eight bytes: only the middle differs.
        let mut table = StaticPaths::default();
        let key = |n: usize| format!("/aaaaaaa/{n:04}/zzzzzzzz");
        for n in 0..1000 {
            table.insert(&key(n), n);
        }
        for n in 0..1000 {
            assert_eq!(table.get(&key(n)), Some(n));
        }
        assert_eq!(table.get(&key(1000)), None);
        assert_eq!(table.get("/aaaaaaa/0000/zzzzzzz"), None);
    }

    #[test]
    fn an_empty_table_finds_nothing() {
        assert_eq!(StaticPaths::default().get("/"), None);
    }
}
