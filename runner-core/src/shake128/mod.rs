//! SHAKE-128 (FIPS 202) for row ids: one input at a time around
//! `keccak::f1600`, or many short inputs four at a time in AVX2 registers.

#[cfg(target_arch = "x86_64")]
mod avx2;

use std::sync::OnceLock;

/// Bytes SHAKE-128 absorbs per Keccak-f\[1600\] permutation.
pub(crate) const RATE: usize = 168;

/// Implementation of SHAKE-128 for [`shake128_many`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `keccak::f1600` once per input, on any CPU.
    Scalar,
    /// Four states at a time in the 64-bit elements of AVX2 registers.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// The `Avx2` code compiled for AVX-512F and AVX-512VL, which adds
    /// 64-bit rotations and three-input logic instructions.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Backend {
    /// Returns the fastest backend this CPU supports, detected on the first
    /// call and cached.
    pub(crate) fn detect() -> Backend {
        static DETECTED: OnceLock<Backend> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                if has_avx512() {
                    return Backend::Avx512;
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    return Backend::Avx2;
                }
            }
            Backend::Scalar
        })
    }
}

/// Returns the backends this CPU can run, slowest first.
#[cfg(test)]
pub(crate) fn available_backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            backends.push(Backend::Avx2);
        }
        if has_avx512() {
            backends.push(Backend::Avx512);
        }
    }
    backends
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
}

/// Returns the first `N` bytes (`N` at most 168) of SHAKE-128 over `input`.
///
/// Every nested row needs one of these, so it is written out rather than
/// taken from the sha3 crate: its reader permutes the state once more before
/// handing out the first block, which doubled the cost of a row id.
pub(crate) fn shake128<const N: usize>(input: &[u8]) -> [u8; N] {
    const { assert!(N <= RATE) };
    let mut state = [0u64; 25];

    let mut blocks = input.chunks_exact(RATE);
    for block in &mut blocks {
        absorb(&mut state, block);
        keccak::f1600(&mut state);
    }

    // SHAKE's domain bits 1111 and the pad10*1 rule close the last block.
    let rest = blocks.remainder();
    let mut last = [0u8; RATE];
    last[..rest.len()].copy_from_slice(rest);
    pad(&mut last, rest.len());
    absorb(&mut state, &last);
    keccak::f1600(&mut state);

    squeeze(&state)
}

/// Returns the first `N` bytes of SHAKE-128 over each input, in input order.
///
/// Inputs shorter than 168 bytes fit one block with SHAKE's padding, so on
/// the SIMD backends groups of four of them share one four-way permutation.
/// Longer inputs, and the last one to three short ones, go through
/// [`shake128`].
///
/// # Panics
///
/// Panics if the CPU lacks the instructions of `backend`.
pub(crate) fn shake128_many<const N: usize>(backend: Backend, inputs: &[&[u8]]) -> Vec<[u8; N]> {
    match backend {
        Backend::Scalar => inputs.iter().map(|input| shake128(input)).collect(),

        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 => {
            assert!(
                std::arch::is_x86_feature_detected!("avx2"),
                "the AVX2 backend of SHAKE-128 needs a CPU with AVX2"
            );
            // SAFETY: the assert above checked that the CPU supports AVX2.
            shake128_grouped(inputs, |blocks| unsafe { avx2::shake128_x4(blocks) })
        }

        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => {
            assert!(
                has_avx512(),
                "the AVX-512 backend of SHAKE-128 needs a CPU with AVX-512F and AVX-512VL"
            );
            // SAFETY: the assert above checked that the CPU supports AVX2,
            // AVX-512F and AVX-512VL.
            shake128_grouped(inputs, |blocks| unsafe { avx2::shake128_x4_avx512(blocks) })
        }
    }
}

/// Hashes inputs shorter than [`RATE`] four at a time with `permute_x4`, and
/// the others, plus the last one to three short ones, with [`shake128`].
///
/// `permute_x4` returns the first `N` bytes of SHAKE-128 for four padded
/// single blocks.
fn shake128_grouped<const N: usize>(
    inputs: &[&[u8]],
    mut permute_x4: impl FnMut(&[[u8; RATE]; 4]) -> [[u8; N]; 4],
) -> Vec<[u8; N]> {
    const { assert!(N <= RATE) };
    let mut outputs = vec![[0u8; N]; inputs.len()];
    let mut group = BlockGroup::new();

    for (position, input) in inputs.iter().enumerate() {
        if input.len() >= RATE {
            outputs[position] = shake128(input);
            continue;
        }

        group.push(position, input);
        if group.len == 4 {
            let digests = permute_x4(&group.blocks);
            for (lane, digest) in digests.into_iter().enumerate() {
                outputs[group.positions[lane]] = digest;
            }
            group.len = 0;
        }
    }

    for &position in &group.positions[..group.len] {
        outputs[position] = shake128(inputs[position]);
    }
    outputs
}

/// Up to four padded single-block inputs waiting for a four-way permutation.
struct BlockGroup {
    blocks: [[u8; RATE]; 4],
    /// Index in the caller's input list of each block's input.
    positions: [usize; 4],
    len: usize,
}

impl BlockGroup {
    fn new() -> Self {
        BlockGroup {
            blocks: [[0u8; RATE]; 4],
            positions: [0; 4],
            len: 0,
        }
    }

    /// Copies `input` (shorter than [`RATE`]) into the next block and pads it.
    fn push(&mut self, position: usize, input: &[u8]) {
        let block = &mut self.blocks[self.len];
        block.fill(0);
        block[..input.len()].copy_from_slice(input);
        pad(block, input.len());

        self.positions[self.len] = position;
        self.len += 1;
    }
}

/// Returns the first `N` bytes of SHAKE-128 for four padded single blocks,
/// one `keccak::f1600` each. Tests use it to check the grouping without AVX2.
#[cfg(test)]
fn scalar_x4<const N: usize>(blocks: &[[u8; RATE]; 4]) -> [[u8; N]; 4] {
    blocks.each_ref().map(|block| {
        let mut state = [0u64; 25];
        absorb(&mut state, block);
        keccak::f1600(&mut state);
        squeeze(&state)
    })
}

/// Appends SHAKE's domain bits 1111 and the pad10*1 rule to a block whose
/// first `length` bytes are input and whose other bytes are zero.
fn pad(block: &mut [u8; RATE], length: usize) {
    block[length] ^= 0x1f;
    block[RATE - 1] ^= 0x80;
}

/// XORs one block of little-endian lanes into the state.
fn absorb(state: &mut [u64; 25], block: &[u8]) {
    for (lane, bytes) in state.iter_mut().zip(block.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        *lane ^= u64::from_le_bytes(word);
    }
}

/// Returns the first `N` bytes of the state's little-endian lanes.
fn squeeze<const N: usize>(state: &[u64; 25]) -> [u8; N] {
    let mut output = [0u8; N];
    for (index, byte) in output.iter_mut().enumerate() {
        *byte = (state[index / 8] >> (8 * (index % 8))) as u8;
    }
    output
}

#[cfg(test)]
mod tests;
