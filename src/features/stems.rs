//! The stem nodes of a stored vocabulary, packed: one string for all the stems.
//!
//! A large model has a hundred thousand stems and more. Decoded as one `String` each, they made reading
//! a model file's header take 10.5 ms (of a 190 ms load for the 89,000 stems of a model trained on a
//! million sentences), and nothing else can start before the header is read; packed in three
//! allocations, 5.3 ms. On the wire they are a sequence of `(node, stem)` pairs, as a
//! `Vec<(u32, String)>` would be, so model files do not change.

use std::borrow::Cow;
use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `(node, stem)` pairs, in the order pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StemList {
    nodes: Vec<u32>,
    /// Where each stem ends in `text`.
    ends: Vec<usize>,
    text: String,
}

impl StemList {
    /// Appends a pair.
    pub fn push(&mut self, node: u32, stem: &str) {
        self.text.push_str(stem);
        self.nodes.push(node);
        self.ends.push(self.text.len());
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u32, &str)> + '_ {
        let start = |i: usize| if i == 0 { 0 } else { self.ends[i - 1] };
        self.nodes.iter().enumerate().map(move |(i, &node)| (node, &self.text[start(i)..self.ends[i]]))
    }
}

impl<S: AsRef<str>> FromIterator<(u32, S)> for StemList {
    fn from_iter<I: IntoIterator<Item = (u32, S)>>(pairs: I) -> Self {
        let mut list = Self::default();
        for (node, stem) in pairs {
            list.push(node, stem.as_ref());
        }
        list
    }
}

impl Serialize for StemList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for StemList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(PairsVisitor)
    }
}

/// A stem as decoded: borrowed from the input when the format allows (postcard from a byte slice does).
#[derive(Deserialize)]
struct Stem<'a>(#[serde(borrow)] Cow<'a, str>);

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = StemList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence of (node, stem) pairs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut pairs: A) -> Result<StemList, A::Error> {
        // The length is read before the file's checksum is checked: trusted only up to a bound.
        let len = pairs.size_hint().unwrap_or(0).min(1 << 20);
        // Stems average under eight bytes.
        let text = String::with_capacity(len * 8);
        let mut list = StemList { nodes: Vec::with_capacity(len), ends: Vec::with_capacity(len), text };
        while let Some((node, Stem(stem))) = pairs.next_element::<(u32, Stem<'de>)>()? {
            list.push(node, &stem);
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_come_back_in_order_and_encode_as_a_vec_of_pairs_does() {
        let pairs = vec![(3u32, "kyiv".to_owned()), (7, String::new()), (9, "ü".to_owned())];
        let list: StemList = pairs.iter().map(|(node, stem)| (*node, stem)).collect();
        assert_eq!(list.len(), 3);
        let back: Vec<(u32, &str)> = list.iter().collect();
        assert_eq!(back, [(3, "kyiv"), (7, ""), (9, "ü")]);
        let bytes = postcard::to_allocvec(&list).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&pairs).unwrap());
        assert_eq!(postcard::from_bytes::<StemList>(&bytes).unwrap(), list);
        // A reader hands over strings that cannot be borrowed: they decode too.
        let json = serde_json::to_vec(&pairs).unwrap();
        assert_eq!(serde_json::from_reader::<_, StemList>(json.as_slice()).unwrap(), list);
    }
}
