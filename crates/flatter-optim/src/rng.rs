//! One seed, separate random streams.
//!
//! Weight initialisation, data order, label noise and synthetic data each get
//! their own ChaCha8 stream of the same seed (ChaCha's native stream id), so
//! drawing more from one never shifts another: turning label noise off does
//! not change the data order. ChaCha8 is specified bit for bit, unlike
//! `StdRng`, whose algorithm rand reserves the right to change.

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

/// What a random stream is for. The discriminant is the ChaCha stream id and
/// is part of the results' reproducibility contract: never renumber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RandomStream {
    /// Weight initialisation (and the backend seed derived from it).
    Weights = 0,
    /// Shuffling and minibatch order.
    DataOrder = 1,
    /// Label noise, drawn fresh every step.
    LabelNoise = 2,
    /// Synthetic datasets (inputs, teachers, measurement matrices).
    Data = 3,
}

/// The streams of one seed.
///
/// ```
/// use flatter_optim::{RandomStream, Streams};
/// use rand::RngExt as _;
/// let streams = Streams::new(42);
/// // The same (seed, stream, epoch) always gives the same numbers; other
/// // streams are independent of it, so adding label noise never moves the
/// // data order.
/// let a: u64 = streams.epoch_rng(RandomStream::DataOrder, 3).random();
/// let b: u64 = Streams::new(42).epoch_rng(RandomStream::DataOrder, 3).random();
/// let c: u64 = streams.epoch_rng(RandomStream::LabelNoise, 3).random();
/// assert!(a == b && a != c);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    seed: u64,
}

impl Streams {
    /// The streams of `seed`.
    pub fn new(seed: u64) -> Self {
        Streams { seed }
    }

    /// The seed they derive from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A fresh generator positioned at the start of `stream`.
    pub fn rng(&self, stream: RandomStream) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream as u64);
        rng
    }

    /// A fresh generator for one epoch of `stream`: ChaCha stream id
    /// `((epoch + 1) << 8) | stream`, so no saved position is needed to resume
    /// a run at an epoch boundary, and no epoch's stream is another's. Part
    /// of the reproducibility contract, like the stream numbers.
    pub fn epoch_rng(&self, stream: RandomStream, epoch: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(((epoch + 1) << 8) | stream as u64);
        rng
    }

    /// A 64-bit seed for Burn's backend RNG (`Device::seed`), from the weights stream.
    pub fn backend_seed(&self) -> u64 {
        use rand::Rng as _;
        self.rng(RandomStream::Weights).next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    fn first(streams: Streams, stream: RandomStream) -> Vec<u64> {
        let mut rng = streams.rng(stream);
        (0..4).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn same_seed_same_draws() {
        let a = first(Streams::new(7), RandomStream::LabelNoise);
        let b = first(Streams::new(7), RandomStream::LabelNoise);
        assert_eq!(a, b);
    }

    #[test]
    fn streams_and_seeds_differ() {
        let s = Streams::new(7);
        assert_ne!(first(s, RandomStream::LabelNoise), first(s, RandomStream::DataOrder));
        assert_ne!(first(s, RandomStream::Weights), first(s, RandomStream::Data));
        assert_ne!(first(Streams::new(8), RandomStream::LabelNoise), first(s, RandomStream::LabelNoise));
    }

    /// Epoch streams are the documented ChaCha stream ids, differ between
    /// epochs and streams, and never coincide with a plain stream.
    #[test]
    fn epoch_streams_are_distinct_and_as_documented() {
        let s = Streams::new(7);
        let draw = |mut r: ChaCha8Rng| (0..4).map(|_| r.next_u64()).collect::<Vec<_>>();
        let mut want = ChaCha8Rng::seed_from_u64(7);
        want.set_stream((3 << 8) | 2);
        assert_eq!(draw(s.epoch_rng(RandomStream::LabelNoise, 2)), draw(want));
        assert_ne!(draw(s.epoch_rng(RandomStream::LabelNoise, 0)), draw(s.epoch_rng(RandomStream::LabelNoise, 1)));
        assert_ne!(draw(s.epoch_rng(RandomStream::LabelNoise, 0)), draw(s.epoch_rng(RandomStream::DataOrder, 0)));
        assert_ne!(draw(s.epoch_rng(RandomStream::DataOrder, 0)), first(s, RandomStream::DataOrder));
    }
}
