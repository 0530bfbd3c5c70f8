use sha2::{Digest, Sha256};

use super::*;

fn config() -> MatrixConfig {
    MatrixConfig::sample(1, 2_000, 42)
}

fn digest(m: &GeneratedMatrix) -> String {
    hex::encode(Sha256::digest(m.to_le_bytes()))
}

#[test]
fn the_same_config_gives_the_same_bytes_and_another_seed_others() {
    let c = config();
    assert!(c.validate().is_ok());
    let (a, b) = (generate(&c), generate(&c));
    assert_eq!(a, b);
    assert_eq!(a.values.len(), 2_000 * 2);
    assert_eq!(a.buckets, vec!["seed".to_owned(), "series_a".to_owned()]);
    let other = generate(&MatrixConfig { seed: 43, ..c });
    assert_ne!(digest(&a), digest(&other));
}

/// Pins the generator's numbers: any change to them (an RNG, an order of draws, a formula) shows here.
#[test]
fn the_generated_bytes_of_a_fixed_config_are_pinned() {
    assert_eq!(
        digest(&generate(&config())),
        "ab2487286acfa4ba8ee75fb3bf18c7e65f7ca16de77d136275faf6ea82577beb"
    );
}

#[test]
fn no_cell_is_negative_or_not_finite() {
    let m = generate(&config());
    assert!(m.values.iter().all(|v| v.is_finite() && *v >= 0.0));
}

/// The median of `x_min · U^(−1/α) · exp(0.5·Z)` with `Z ~ N(0, σ²)`, by bisection on
/// `P(X·Y ≤ m) = E_Z[F_X(m·exp(−0.5·Z))]` integrated over a fine grid of `Z`: independent of the
/// generator's random stream.
fn theoretical_median(median: f64, p90: f64, sigma2: f64) -> f64 {
    let alpha = 5f64.ln() / (p90 / median).ln();
    let x_min = median * 0.5f64.powf(1.0 / alpha);
    let cdf_x = |x: f64| {
        if x <= x_min {
            0.0
        } else {
            1.0 - (x_min / x).powf(alpha)
        }
    };
    let sigma = f64::sqrt(sigma2);
    let cdf = |m: f64| {
        let (mut total, mut weight) = (0.0, 0.0);
        let steps = 16_000;
        for i in 0..=steps {
            let z = -8.0 + 16.0 * i as f64 / steps as f64;
            let pdf = (-z * z / 2.0).exp();
            total += pdf * cdf_x(m * (-0.5 * sigma * z).exp());
            weight += pdf;
        }
        total / weight
    };
    let (mut lo, mut hi) = (1e-9_f64, 1e6_f64);
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if cdf(mid) < 0.5 { lo = mid } else { hi = mid }
    }
    lo
}

#[test]
fn each_column_follows_its_buckets_distribution_within_sampling_error() {
    let c = MatrixConfig {
        num_scenarios: 20_000,
        ..config()
    };
    let m = generate(&c);
    for (j, b) in c.buckets.iter().enumerate() {
        let mut column: Vec<f64> = (0..m.num_scenarios)
            .map(|s| f64::from(m.values[s * c.buckets.len() + j]))
            .collect();
        column.sort_by(f64::total_cmp);
        let sample = column[column.len() / 2];
        let expected = theoretical_median(b.moic_median, b.moic_p90, 1.0);
        // The sample median of 20,000 draws is within about 2% of the true one (a few standard errors).
        assert!(
            (sample / expected - 1.0).abs() < 0.03,
            "{}: sample median {sample}, expected {expected}",
            b.name
        );
    }
}

#[test]
fn the_key_ignores_bucket_order_and_noise_below_five_decimals() {
    let c = config();
    let key = matrix_key(&c).unwrap();
    let mut reordered = c.clone();
    reordered.buckets.reverse();
    assert_eq!(matrix_key(&reordered).unwrap(), key);
    let mut sixth = c.clone();
    sixth.buckets[0].moic_median += 0.000_001;
    assert_eq!(
        matrix_key(&sixth).unwrap(),
        key,
        "a change in the 6th decimal"
    );
    let mut fifth = c.clone();
    fifth.buckets[0].moic_median += 0.000_01;
    assert_ne!(
        matrix_key(&fifth).unwrap(),
        key,
        "a change in the 5th decimal"
    );
    let other_seed = MatrixConfig {
        seed: 7,
        ..c.clone()
    };
    assert_ne!(matrix_key(&other_seed).unwrap(), key);
    let mut disabled = c.clone();
    disabled.recycling = Recycling {
        enabled: false,
        mode: Some("fixed".into()),
        reinvestment_rate: Some(0.5),
    };
    assert_eq!(
        matrix_key(&disabled).unwrap(),
        key,
        "disabled recycling is one form"
    );
    let mut enabled = c.clone();
    enabled.recycling = Recycling {
        enabled: true,
        mode: Some("fixed".into()),
        reinvestment_rate: Some(0.5),
    };
    assert_ne!(matrix_key(&enabled).unwrap(), key);
    assert_eq!(canonical_config(&c)["key_version"], KEY_VERSION);
}

#[test]
fn every_bad_config_field_is_named() {
    let mut c = config();
    c.num_scenarios = 0;
    c.buckets[0].moic_p90 = 1.0;
    c.buckets[1].name = "seed".into();
    c.buckets[1].capital_allocation_pct = 10.0;
    c.correlation_weights.macro_ = 0.9;
    let Err(crate::Error::Validation(errors)) = c.validate() else {
        panic!("invalid config accepted");
    };
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        pointers,
        vec![
            "/num_scenarios",
            "/buckets/0/moic_p90",
            "/buckets/1/name",
            "/buckets",
            "/correlation_weights"
        ]
    );
    let mut too_many = config();
    too_many.num_scenarios = MAX_SCENARIOS + 1;
    assert!(too_many.validate().is_err());
}

#[test]
fn a_matrix_round_trips_through_its_stored_form_labelled_truthfully() {
    let m = generate(&config());
    let stored = codec::encode(&m.values).unwrap();
    // What the label says: a zstd frame (its magic number), smaller than the raw floats.
    assert_eq!(&stored[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    assert!(stored.len() < m.values.len() * 4);
    let back = codec::decode(codec::CODEC, &stored, m.num_scenarios, m.buckets.len()).unwrap();
    assert_eq!(back, m.values);
}

#[test]
fn a_wrong_label_corrupt_or_truncated_bytes_or_wrong_sizes_are_errors_not_numbers() {
    let m = generate(&config());
    let stored = codec::encode(&m.values).unwrap();
    let (s, b) = (m.num_scenarios, m.buckets.len());
    let unreadable = |r: crate::Result<Vec<f32>>| matches!(r, Err(crate::Error::CorruptMatrix(_)));
    assert!(unreadable(codec::decode("zlib", &stored, s, b)));
    assert!(unreadable(codec::decode(
        codec::CODEC,
        &stored[..stored.len() / 2],
        s,
        b
    )));
    let mut flipped = stored.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    // Without the frame's checksum a flipped byte could decode to other numbers of the right size.
    assert!(unreadable(codec::decode(codec::CODEC, &flipped, s, b)));
    assert!(unreadable(codec::decode(codec::CODEC, &stored, s + 1, b)));
    assert!(unreadable(codec::decode(codec::CODEC, &stored, s - 1, b)));
    let negative = codec::encode(&[1.0, -1.0]).unwrap();
    assert!(unreadable(codec::decode(codec::CODEC, &negative, 1, 2)));
    assert!(unreadable(codec::decode(
        codec::CODEC,
        b"not zstd at all",
        1,
        1
    )));
}

#[test]
fn configs_with_one_key_give_one_matrix_with_columns_in_name_order() {
    let c = config();
    let mut reordered = c.clone();
    reordered.buckets.reverse();
    reordered.buckets[0].moic_median += 0.000_001;
    assert_eq!(matrix_key(&reordered).unwrap(), matrix_key(&c).unwrap());
    let (a, b) = (generate(&c), generate(&reordered));
    assert_eq!(digest(&a), digest(&b));
    assert_eq!(b.buckets, vec!["seed".to_owned(), "series_a".to_owned()]);
}

#[test]
fn the_stored_canonical_config_reads_back_as_the_config_it_stands_for() {
    let mut c = config();
    c.buckets.reverse();
    c.seed = u64::MAX;
    c.recycling = Recycling {
        enabled: true,
        mode: Some("proceeds".into()),
        reinvestment_rate: Some(0.123_456_7),
    };
    let back = from_canonical(&canonical_config(&c)).expect("a canonical form");
    assert_eq!(back, c.canonical());
    assert_eq!(back.recycling.reinvestment_rate, Some(0.12346));
    assert_eq!(matrix_key(&back).unwrap(), matrix_key(&c).unwrap());
    assert!(from_canonical(&serde_json::json!({"key_version": 2})).is_none());
}

mod properties {
    use proptest::prelude::*;

    use super::super::*;

    fn arbitrary_config() -> impl Strategy<Value = MatrixConfig> {
        let bucket =
            (0u32..1000, 1u32..5_000_000, 1u32..5_000_000).prop_map(|(n, median, spread)| Bucket {
                name: format!("b{n}"),
                capital_allocation_pct: 1.0,
                moic_median: f64::from(median) / 100_000.0,
                moic_p90: f64::from(median + spread) / 100_000.0,
                moic_cap: None,
            });
        (
            proptest::collection::vec(bucket, 1..8),
            any::<u64>(),
            1u32..100_000,
        )
            .prop_map(|(mut buckets, seed, num_scenarios)| {
                // Names are unique in a valid config.
                for (i, b) in buckets.iter_mut().enumerate() {
                    b.name = format!("{}_{i}", b.name);
                }
                (buckets, seed, num_scenarios)
            })
            .prop_map(|(buckets, seed, num_scenarios)| MatrixConfig {
                fund_id: 1,
                taxonomy_version: "v1".into(),
                num_scenarios,
                seed,
                buckets,
                correlation_weights: CorrelationWeights {
                    macro_: 0.2,
                    systematic: 0.3,
                    idiosyncratic: 0.5,
                },
                recycling: Recycling {
                    enabled: false,
                    mode: Some("ignored".into()),
                    reinvestment_rate: None,
                },
            })
    }

    proptest! {
        /// The key does not see bucket order or noise below the 5th decimal, and the stored canonical
        /// form reads back to a config with the same key.
        #[test]
        fn the_key_is_invariant_under_order_and_sub_five_decimal_noise(
            config in arbitrary_config(),
            rotation in 0usize..8,
            noise in -4.0e-7f64..4.0e-7,
        ) {
            let key = matrix_key(&config).unwrap();
            let mut other = config.clone();
            let len = other.buckets.len();
            other.buckets.rotate_left(rotation % len);
            for b in &mut other.buckets {
                b.moic_median += noise;
            }
            prop_assert_eq!(matrix_key(&other).unwrap(), key.clone());
            let back = from_canonical(&canonical_config(&config)).unwrap();
            prop_assert_eq!(matrix_key(&back).unwrap(), key);
        }
    }
}
