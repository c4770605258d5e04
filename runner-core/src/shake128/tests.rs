use sha3::digest::{ExtendableOutput, Update, XofReader};

use super::*;

/// Returns the first `N` bytes of SHAKE-128 from the sha3 crate.
fn sha3_shake128<const N: usize>(input: &[u8]) -> [u8; N] {
    let mut reference = sha3::Shake128::default();
    reference.update(input);
    let mut expected = [0u8; N];
    reference.finalize_xof().read(&mut expected);
    expected
}

/// Returns `length` bytes that differ between inputs of one length and
/// between `seed`s.
fn sample_input(length: usize, seed: usize) -> Vec<u8> {
    (0..length)
        .map(|i| ((i * 31 + seed * 97 + length) % 251) as u8)
        .collect()
}

#[test]
fn shake128_matches_sha3_crate_at_block_edges() {
    for length in [0, 1, 7, 8, 135, 166, 167, 168, 169, 335, 336, 337, 1000] {
        let input = sample_input(length, 0);
        assert_eq!(
            shake128::<32>(&input),
            sha3_shake128::<32>(&input),
            "input of {length} bytes"
        );
    }
}

#[test]
fn many_matches_sha3_for_lengths_0_to_400() {
    let inputs: Vec<Vec<u8>> = (0..=400).map(|length| sample_input(length, 1)).collect();
    let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();

    for backend in available_backends() {
        let digests = shake128_many::<32>(backend, &slices);
        assert_eq!(digests.len(), inputs.len(), "{backend:?}");
        for (input, digest) in inputs.iter().zip(&digests) {
            assert_eq!(
                *digest,
                sha3_shake128::<32>(input),
                "{backend:?}, input of {} bytes",
                input.len()
            );
        }
    }
}

#[test]
fn many_keeps_order_for_odd_batch_sizes() {
    // Short inputs mixed with ones of one block or more, so that groups of
    // four skip positions and the last group is partly filled.
    for count in [0, 1, 2, 3, 4, 5, 6, 7, 9, 13, 31] {
        let inputs: Vec<Vec<u8>> = (0..count)
            .map(|seed| sample_input([20, 167, 168, 40, 300][seed % 5], seed))
            .collect();
        let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();

        for backend in available_backends() {
            let digests = shake128_many::<10>(backend, &slices);
            let expected: Vec<[u8; 10]> = inputs.iter().map(|input| sha3_shake128(input)).collect();
            assert_eq!(digests, expected, "{backend:?}, batch of {count}");
        }
    }
}

#[test]
fn grouped_matches_scalar_without_simd() {
    // The grouping logic with a scalar four-way stand-in, so that it is
    // tested on CPUs without AVX2 too.
    let inputs: Vec<Vec<u8>> = (0..=400)
        .step_by(7)
        .map(|length| sample_input(length, 2))
        .collect();
    let slices: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();

    let grouped = shake128_grouped::<16>(&slices, scalar_x4);
    let expected: Vec<[u8; 16]> = inputs.iter().map(|input| shake128(input)).collect();
    assert_eq!(grouped, expected);
}

/// Returns four padded blocks of `length` input bytes each, all different,
/// so that a mix-up of states shows.
#[cfg(target_arch = "x86_64")]
fn padded_blocks(length: usize) -> [[u8; RATE]; 4] {
    let mut blocks = [[0u8; RATE]; 4];
    for (seed, block) in blocks.iter_mut().enumerate() {
        block[..length].copy_from_slice(&sample_input(length, seed));
        pad(block, length);
    }
    blocks
}

/// Block input lengths around the 32-byte tiles that the AVX2 code loads.
#[cfg(target_arch = "x86_64")]
const X4_LENGTHS: [usize; 12] = [0, 1, 8, 31, 32, 33, 100, 159, 160, 161, 166, 167];

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_x4_matches_scalar() {
    if !std::arch::is_x86_feature_detected!("avx2") {
        eprintln!("skipped: this CPU has no AVX2");
        return;
    }

    // The full 168-byte output, so that every lane of the rate is checked.
    for length in X4_LENGTHS {
        let blocks = padded_blocks(length);
        // SAFETY: AVX2 support is checked above.
        let digests = unsafe { avx2::shake128_x4::<RATE>(&blocks) };
        assert_eq!(
            digests,
            scalar_x4::<RATE>(&blocks),
            "blocks of {length} input bytes"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_x4_matches_scalar() {
    if !has_avx512() {
        eprintln!("skipped: this CPU has no AVX-512F and AVX-512VL");
        return;
    }

    for length in X4_LENGTHS {
        let blocks = padded_blocks(length);
        // SAFETY: AVX2, AVX-512F and AVX-512VL support is checked above.
        let digests = unsafe { avx2::shake128_x4_avx512::<RATE>(&blocks) };
        assert_eq!(
            digests,
            scalar_x4::<RATE>(&blocks),
            "blocks of {length} input bytes"
        );
    }
}

#[test]
fn detect_picks_fastest_backend() {
    let fastest = *available_backends()
        .last()
        .expect("scalar is always available");
    assert_eq!(Backend::detect(), fastest);
}
