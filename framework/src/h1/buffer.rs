//! Connection buffers and the per-worker pool they come from.
//!
//! Idle keep-alive connections hold no buffers: a connection takes an input and an output
//! buffer from its worker's [`BufferPool`] when bytes arrive and gives them back once every
//! request is answered and written. A server holding 10,000 idle connections therefore holds a
//! handful of buffers, not 10,000.

/// Size of a fresh input or output buffer. Requests and responses larger than this grow the
/// buffer for their lifetime; grown buffers are freed, not pooled.
pub(crate) const BUFFER_SIZE: usize = 8 * 1024;

/// The most buffers of each kind the pool keeps; beyond that, returned buffers are freed.
const MAX_POOLED: usize = 64;

/// Size of the scratch space for bytes read and dropped.
const SCRATCH_SIZE: usize = 4096;

/// Received bytes: `data[start..end]` is received but not yet consumed.
///
/// `data` is always fully initialised (`len() == capacity()`), so reads go straight into its
/// spare tail without zeroing it again on every read.
#[derive(Debug, Default)]
pub(crate) struct InputBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl InputBuffer {
    /// The received, unconsumed bytes.
    pub(crate) fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// The received, unconsumed bytes, mutable (chunked bodies are decoded in place).
    pub(crate) fn filled_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.start..self.end]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Marks the first `n` unconsumed bytes as used.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Drops unconsumed bytes beyond the first `len` (after an in-place chunked compaction).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.end = self.start + len;
    }

    /// Records that `n` bytes were read into [`spare`](Self::spare).
    pub(crate) fn commit(&mut self, n: usize) {
        self.end += n;
        debug_assert!(self.end <= self.data.len());
    }

    /// Space to read into, making room for a message of `want` bytes in total (head and body),
    /// but never growing the buffer beyond `want`. Empty when the buffer holds `want` bytes.
    pub(crate) fn spare(&mut self, pool: &mut BufferPool, want: usize) -> &mut [u8] {
        if self.data.is_empty() {
            self.data = pool.take_input();
        }
        if self.end == self.data.len() {
            self.make_room(want);
        }
        &mut self.data[self.end..]
    }

    /// The buffer is full to its end: move the unconsumed tail (a pipelined request) to the
    /// front, or grow. Out of line: most reads find room.
    #[cold]
    fn make_room(&mut self, want: usize) {
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let filled = self.end - self.start;
        if self.end == self.data.len() && filled < want {
            // Grow straight to the known size of a Content-Length body, else double.
            // At least one byte more: `filled < want`, and both terms of the max exceed it.
            let grown = (self.data.len() * 2).max(filled + BUFFER_SIZE).min(want);
            self.data.resize(grown, 0);
        }
    }

    /// Gives the buffer back to the pool if nothing is left in it.
    pub(crate) fn release_if_empty(&mut self, pool: &mut BufferPool) {
        if self.is_empty() {
            self.give_back(pool);
        }
    }

    /// Gives the buffer, known to be empty, back to the pool, if it holds one.
    #[inline]
    pub(crate) fn give_back(&mut self, pool: &mut BufferPool) {
        debug_assert!(self.is_empty());
        if !self.data.is_empty() {
            pool.give_input(std::mem::take(&mut self.data));
        }
    }

    /// Gives the buffer back, discarding anything unconsumed (the connection is closing).
    pub(crate) fn release(&mut self, pool: &mut BufferPool) {
        self.start = 0;
        self.end = 0;
        self.release_if_empty(pool);
    }
}

/// Bytes to send: `data[sent..]` is still to be written to the socket.
///
/// Bytes already sent are dropped once they are half the buffer (moving the unsent rest to
/// the front, at most as many bytes as were sent, so each byte is moved once on average):
/// a socket that never takes everything at once must not keep what it took.
#[derive(Debug, Default)]
pub(crate) struct OutputBuffer {
    data: Vec<u8>,
    sent: usize,
}

impl OutputBuffer {
    /// Appends `bytes` without a pooled buffer at hand (an allocation of its own if empty).
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
    }

    /// The buffer to append a response to.
    pub(crate) fn writer(&mut self, pool: &mut BufferPool) -> &mut Vec<u8> {
        if self.data.capacity() == 0 {
            self.data = pool.take_output();
        }
        &mut self.data
    }

    /// Bytes waiting to be written.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.data[self.sent..]
    }

    /// Whether every byte is written: [`pending`](Self::pending) is empty. Asked several
    /// times per event, so without making the slice.
    pub(crate) fn is_written(&self) -> bool {
        self.sent >= self.data.len()
    }

    /// Bytes held: the pending ones, and sent ones not yet dropped (fewer than the pending).
    /// What output limits count.
    pub(crate) fn held(&self) -> usize {
        self.data.len()
    }

    /// Records that `n` pending bytes were written.
    pub(crate) fn advance(&mut self, n: usize) {
        self.sent += n;
        debug_assert!(self.sent <= self.data.len());
        if self.sent == self.data.len() {
            self.data.clear();
            self.sent = 0;
        } else if self.sent >= self.data.len() / 2 {
            self.data.drain(..self.sent);
            self.sent = 0;
        }
    }

    /// Gives the buffer back to the pool if everything was written.
    pub(crate) fn release_if_empty(&mut self, pool: &mut BufferPool) {
        if self.data.is_empty() {
            self.give_back(pool);
        }
    }

    /// Gives the buffer, known to be written out (and so emptied), back to the pool, if it
    /// holds one.
    #[inline]
    pub(crate) fn give_back(&mut self, pool: &mut BufferPool) {
        debug_assert!(self.data.is_empty());
        if self.data.capacity() > 0 {
            pool.give_output(std::mem::take(&mut self.data));
        }
    }

    /// Gives the buffer back, discarding anything unsent (the connection is closing).
    pub(crate) fn release(&mut self, pool: &mut BufferPool) {
        self.data.clear();
        self.sent = 0;
        self.release_if_empty(pool);
    }
}

/// Free buffers of one worker. Not shared between threads: each worker owns its pool.
///
/// Most turns of a connection take one buffer of each kind and give both back before the
/// next connection's turn, so a buffer given back while its kind's slot is free waits there,
/// and is the first taken: a move and one test, instead of a trip through the stack behind.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    /// The input buffer given back last, or an empty `Vec` (taken).
    input: Vec<u8>,
    /// The output buffer given back last, or an empty `Vec` (taken).
    output: Vec<u8>,
    inputs: Vec<Vec<u8>>,
    outputs: Vec<Vec<u8>>,
    /// Where bytes that are read only to be dropped go (from lingering connections).
    scratch: Vec<u8>,
}

impl BufferPool {
    /// How many input and output buffers wait in the pool.
    #[cfg(test)]
    pub(crate) fn pooled(&self) -> (usize, usize) {
        (
            self.inputs.len() + usize::from(!self.input.is_empty()),
            self.outputs.len() + usize::from(self.output.capacity() > 0),
        )
    }

    /// Space for bytes read only to be dropped, shared by every connection of the worker.
    pub(crate) fn scratch(&mut self) -> &mut [u8] {
        if self.scratch.is_empty() {
            self.scratch = vec![0; SCRATCH_SIZE];
        }
        &mut self.scratch
    }

    #[inline]
    fn take_input(&mut self) -> Vec<u8> {
        if self.input.is_empty() {
            return self.take_pooled_input();
        }
        std::mem::take(&mut self.input)
    }

    #[inline(never)]
    fn take_pooled_input(&mut self) -> Vec<u8> {
        self.inputs.pop().unwrap_or_else(|| vec![0; BUFFER_SIZE])
    }

    #[inline]
    fn take_output(&mut self) -> Vec<u8> {
        if self.output.capacity() == 0 {
            return self.take_pooled_output();
        }
        std::mem::take(&mut self.output)
    }

    #[inline(never)]
    fn take_pooled_output(&mut self) -> Vec<u8> {
        self.outputs
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_SIZE))
    }

    /// Keeps `buffer` (of the usual size only: a grown one is freed), in the slot if free.
    #[inline]
    fn give_input(&mut self, buffer: Vec<u8>) {
        if buffer.len() == BUFFER_SIZE && self.input.is_empty() {
            self.input = buffer;
        } else {
            self.pool_input(buffer);
        }
    }

    #[inline(never)]
    fn pool_input(&mut self, buffer: Vec<u8>) {
        // The slot holds one: the stack one fewer, so that at most `MAX_POOLED` are kept.
        if buffer.len() == BUFFER_SIZE && self.inputs.len() < MAX_POOLED - 1 {
            self.inputs.push(buffer);
        }
    }

    /// Keeps `buffer` (up to twice the usual size: larger is freed), in the slot if free.
    #[inline]
    fn give_output(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() <= 2 * BUFFER_SIZE && self.output.capacity() == 0 {
            self.output = buffer;
        } else {
            self.pool_output(buffer);
        }
    }

    #[inline(never)]
    fn pool_output(&mut self, buffer: Vec<u8>) {
        if buffer.capacity() <= 2 * BUFFER_SIZE && self.outputs.len() < MAX_POOLED - 1 {
            self.outputs.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_keeps_buffers_of_the_usual_size_and_at_most_max_pooled() {
        let mut pool = BufferPool::default();
        pool.give_input(vec![0; BUFFER_SIZE + 1]);
        pool.give_output(Vec::with_capacity(2 * BUFFER_SIZE + 1));
        assert_eq!(pool.pooled(), (0, 0), "grown buffers are dropped, not kept");
        pool.give_output(Vec::with_capacity(2 * BUFFER_SIZE));
        assert_eq!(
            pool.pooled(),
            (0, 1),
            "an output buffer up to twice the size is kept"
        );
        for _ in 0..MAX_POOLED + 3 {
            pool.give_input(vec![0; BUFFER_SIZE]);
            pool.give_output(Vec::with_capacity(BUFFER_SIZE));
        }
        assert_eq!(pool.pooled(), (MAX_POOLED, MAX_POOLED));
    }

    #[test]
    fn the_slot_is_given_to_and_taken_from_first() {
        let mut pool = BufferPool::default();
        let (first, second) = (vec![0; BUFFER_SIZE], vec![0; BUFFER_SIZE]);
        let first_at = first.as_ptr();
        pool.give_input(first);
        pool.give_input(second);
        assert_eq!(pool.pooled(), (2, 0));
        let taken = pool.take_input();
        assert_eq!(taken.as_ptr(), first_at, "the slot's, not the stack's");
        let output = Vec::with_capacity(BUFFER_SIZE);
        let output_at = output.as_ptr();
        pool.give_output(output);
        let taken_output = pool.take_output();
        assert_eq!(taken_output.as_ptr(), output_at);
        assert_eq!(pool.pooled(), (1, 0));
    }

    #[test]
    fn the_scratch_space_takes_large_reads() {
        // Lingering connections drop what they read into it: one read should take a lot.
        assert_eq!(BufferPool::default().scratch().len(), SCRATCH_SIZE);
    }

    #[test]
    fn input_reuses_pooled_buffers() {
        let mut pool = BufferPool::default();
        let mut input = InputBuffer::default();
        let space = input.spare(&mut pool, 100);
        space[..5].copy_from_slice(b"hello");
        input.commit(5);
        assert_eq!(input.filled(), b"hello");
        input.consume(5);
        input.release_if_empty(&mut pool);
        assert_eq!(pool.pooled(), (1, 0));
        input.spare(&mut pool, 100);
        assert_eq!(pool.pooled(), (0, 0), "the pooled buffer is taken again");
    }

    #[test]
    fn input_compacts_then_grows_up_to_want() {
        let mut pool = BufferPool::default();
        let mut input = InputBuffer::default();
        let space = input.spare(&mut pool, usize::MAX).len();
        input.commit(space);
        input.consume(space - 10);
        // Full with 10 unconsumed bytes: compaction makes room without growing.
        assert_eq!(input.spare(&mut pool, usize::MAX).len(), BUFFER_SIZE - 10);
        let space = input.spare(&mut pool, usize::MAX).len();
        input.commit(space);
        // Full with no consumed prefix: grow, but never past `want`.
        assert_eq!(input.spare(&mut pool, BUFFER_SIZE + 100).len(), 100);
        input.commit(100);
        assert_eq!(input.spare(&mut pool, BUFFER_SIZE + 100).len(), 0);
        // A grown buffer is freed, not pooled.
        input.release(&mut pool);
        assert!(pool.inputs.is_empty());
    }

    #[test]
    fn sent_bytes_are_dropped_while_output_is_still_pending() {
        // A socket that takes half of what is pending each time, while a response is
        // appended after every write: the buffer never empties, yet never holds more than
        // twice what is pending.
        let mut pool = BufferPool::default();
        let mut output = OutputBuffer::default();
        let response = [b'r'; 1000];
        let mut written = 0;
        for _ in 0..10_000 {
            output.writer(&mut pool).extend_from_slice(&response);
            let n = output.pending().len().div_ceil(2);
            output.advance(n);
            written += n;
            assert!(!output.pending().is_empty());
            assert!(
                output.held() <= 2 * output.pending().len(),
                "{} held for {} pending",
                output.held(),
                output.pending().len()
            );
        }
        assert!(written > 9_000_000);
        assert!(output.held() < 4 * response.len(), "{}", output.held());
        // What is still pending comes out unchanged.
        assert!(output.pending().iter().all(|&b| b == b'r'));
    }

    #[test]
    fn output_tracks_partial_writes() {
        let mut pool = BufferPool::default();
        let mut output = OutputBuffer::default();
        output.writer(&mut pool).extend_from_slice(b"abcdef");
        output.advance(2);
        assert_eq!(output.pending(), b"cdef");
        output.advance(4);
        assert!(output.pending().is_empty());
        output.release_if_empty(&mut pool);
        assert_eq!(pool.pooled(), (0, 1));
    }
}
