//! Serde support shared by [`super::Reference`] and [`super::Digest`]: both travel as strings.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

/// Deserializes a string and parses it with `T::from_str`, reporting parse errors as serde errors.
pub(super) struct ParseVisitor<T> {
    expecting: &'static str,
    target: PhantomData<T>,
}

impl<T> ParseVisitor<T> {
    pub(super) fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            target: PhantomData,
        }
    }
}

impl<T> serde::de::Visitor<'_> for ParseVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}
