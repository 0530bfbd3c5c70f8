use super::*;

/// How close a weight comes to its hand-computed value: pass 2 may trade up to ε (≈ 1e-6 × the
/// optimum) of pass 1's objective for diversification, which moves weights by about ε / spread.
const WEIGHT_TOLERANCE: f64 = 1e-5;

fn model(objective: Objective, buckets: usize) -> Model {
    Model {
        objective,
        bounds: vec![(0.0, 1.0); buckets],
        cvar_confidence: 0.95,
        cvar_limit: None,
        min_expected_moic: None,
        epsilon: None,
    }
}

/// Re-checks a solution from its weights alone: bounds, Σ = 1, the CVaR limit within 1e-6, E within ε
/// of E* (maximize_return).
fn assert_certified(m: &Scenarios, model: &Model, s: &Solution) {
    let again = evaluate(m, model, &s.weights);
    assert_eq!(again, s.metrics, "the stored metrics are the weights' own");
    assert!(
        again.max_violation <= 1e-6,
        "violation {}",
        again.max_violation
    );
    if model.objective == Objective::MaximizeReturn {
        assert!(
            again.expected_moic >= s.pass1_optimum - s.epsilon - 1e-9,
            "E {} vs E* {} − ε {}",
            again.expected_moic,
            s.pass1_optimum,
            s.epsilon
        );
    }
}

#[test]
fn one_dominant_bucket_takes_all_the_weight() {
    // Bucket 0 returns 3x in every scenario, bucket 1 returns 1x.
    let values: Vec<f32> = (0..100).flat_map(|_| [3.0f32, 1.0]).collect();
    let m = Scenarios {
        buckets: 2,
        values: &values,
    };
    let model = model(Objective::MaximizeReturn, 2);
    let s = solve(&m, &model).unwrap();
    assert!(
        (s.weights[0] - 1.0).abs() < WEIGHT_TOLERANCE,
        "{:?}",
        s.weights
    );
    assert!((s.pass1_optimum - 3.0).abs() < 1e-6);
    assert!((s.metrics.expected_moic - 3.0).abs() <= s.epsilon + 1e-7);
    assert_eq!(s.pass1.status, "solved");
    assert_certified(&m, &model, &s);
}

/// Bucket A returns 0x or 4x (one scenario each), bucket B 1x in both. With a weight w on A:
/// r = (1 − w, 1 + 3w), E = 1 + w, and at α = 0.5 the CVaR of the loss is its worse half: w.
fn risky_and_safe() -> Vec<f32> {
    vec![0.0, 1.0, 4.0, 1.0]
}

#[test]
fn a_binding_cvar_limit_gives_the_mix_computed_by_hand() {
    let values = risky_and_safe();
    let m = Scenarios {
        buckets: 2,
        values: &values,
    };
    let model = Model {
        cvar_confidence: 0.5,
        cvar_limit: Some(0.25),
        ..model(Objective::MaximizeReturn, 2)
    };
    let s = solve(&m, &model).unwrap();
    assert!(
        (s.weights[0] - 0.25).abs() < WEIGHT_TOLERANCE,
        "{:?}",
        s.weights
    );
    assert!((s.pass1_optimum - 1.25).abs() < 1e-6);
    assert!((s.metrics.cvar - 0.25).abs() < WEIGHT_TOLERANCE);
    // VaR is the loss's α-quantile, inf{l : P(loss ≤ l) ≥ α}: of the losses {−3w, w} at α = 0.5, −3w.
    assert!((s.metrics.var + 0.75).abs() < 4.0 * WEIGHT_TOLERANCE);
    assert!((s.metrics.loss_probability - 0.5).abs() < 1e-12);
    assert_certified(&m, &model, &s);
}

#[test]
fn minimize_risk_and_risk_adjusted_find_their_hand_computed_optima() {
    let values = risky_and_safe();
    let m = Scenarios {
        buckets: 2,
        values: &values,
    };
    let least_risk = Model {
        cvar_confidence: 0.5,
        min_expected_moic: Some(1.5),
        ..model(Objective::MinimizeRisk, 2)
    };
    let s = solve(&m, &least_risk).unwrap();
    assert!(
        (s.weights[0] - 0.5).abs() < WEIGHT_TOLERANCE,
        "{:?}",
        s.weights
    );
    assert!((s.pass1_optimum - 0.5).abs() < 1e-6);
    assert_certified(&m, &least_risk, &s);

    // E − λ·CVaR = 1 + w − λw: all on A when λ < 1, all on B when λ > 1.
    for (lambda, expected_a) in [(0.5, 1.0), (2.0, 0.0)] {
        let adjusted = Model {
            cvar_confidence: 0.5,
            ..model(
                Objective::RiskAdjusted {
                    risk_aversion: lambda,
                },
                2,
            )
        };
        let s = solve(&m, &adjusted).unwrap();
        assert!(
            (s.weights[0] - expected_a).abs() < WEIGHT_TOLERANCE,
            "λ {lambda}: {:?}",
            s.weights
        );
        assert_certified(&m, &adjusted, &s);
    }
}

#[test]
fn equal_buckets_get_uniform_weights_from_pass_two() {
    let values: Vec<f32> = (0..50)
        .flat_map(|s| {
            let v = 0.5 + (s % 7) as f32 * 0.4;
            [v, v, v]
        })
        .collect();
    let m = Scenarios {
        buckets: 3,
        values: &values,
    };
    for objective in [
        Objective::MaximizeReturn,
        Objective::MinimizeRisk,
        Objective::RiskAdjusted { risk_aversion: 0.3 },
    ] {
        let model = model(objective, 3);
        let s = solve(&m, &model).unwrap();
        for w in &s.weights {
            assert!(
                (w - 1.0 / 3.0).abs() < 1e-6,
                "{objective:?}: {:?}",
                s.weights
            );
        }
        assert_certified(&m, &model, &s);
    }
}

#[test]
fn bounds_are_kept() {
    let values: Vec<f32> = (0..20).flat_map(|_| [3.0f32, 1.0, 2.0]).collect();
    let m = Scenarios {
        buckets: 3,
        values: &values,
    };
    let model = Model {
        bounds: vec![(0.0, 0.6), (0.1, 1.0), (0.0, 1.0)],
        ..model(Objective::MaximizeReturn, 3)
    };
    let s = solve(&m, &model).unwrap();
    let expected = [0.6, 0.1, 0.3];
    for (w, e) in s.weights.iter().zip(expected) {
        assert!((w - e).abs() < WEIGHT_TOLERANCE, "{:?}", s.weights);
    }
    assert_certified(&m, &model, &s);
}

#[test]
fn an_unreachable_limit_is_infeasible_with_a_sentence_naming_it() {
    let values = risky_and_safe();
    let m = Scenarios {
        buckets: 2,
        values: &values,
    };
    let impossible = Model {
        cvar_confidence: 0.5,
        cvar_limit: Some(0.1),
        min_expected_moic: Some(1.5),
        ..model(Objective::MaximizeReturn, 2)
    };
    match solve(&m, &impossible) {
        Err(SolveError::Infeasible(why)) => {
            assert!(why.contains("CVaR at 0.5 confidence at most 0.1"), "{why}");
            assert!(why.contains("expected MOIC of at least 1.5"), "{why}");
        }
        other => panic!("expected infeasible, got {other:?}"),
    }
}

#[test]
fn the_same_matrix_and_config_give_the_same_weights() {
    let values: Vec<f32> = (0..400)
        .flat_map(|s| {
            let x = ((s * 7919) % 101) as f32 / 25.0;
            [x, 4.0 - x * 0.5, 1.0 + (s % 3) as f32 * 0.1]
        })
        .collect();
    let m = Scenarios {
        buckets: 3,
        values: &values,
    };
    let model = Model {
        cvar_limit: Some(0.4),
        ..model(Objective::MaximizeReturn, 3)
    };
    let a = solve(&m, &model).unwrap();
    let b = solve(&m, &model).unwrap();
    for (x, y) in a.weights.iter().zip(&b.weights) {
        assert!((x - y).abs() <= 1e-9);
    }
    assert_certified(&m, &model, &a);
}
