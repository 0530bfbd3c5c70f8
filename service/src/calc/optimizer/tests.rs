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

/// A matrix from the generator, its buckets of rising medians and spreads.
fn generated(scenarios: u32, buckets: usize) -> Vec<f32> {
    use crate::calc::scenarios::{Bucket, MatrixConfig, generate};
    let config = MatrixConfig {
        buckets: (0..buckets)
            .map(|i| Bucket {
                name: format!("b{i}"),
                capital_allocation_pct: 100.0 / buckets as f64,
                moic_median: 0.7 + i as f64 * 0.2,
                moic_p90: 2.0 + i as f64 * 0.7,
                moic_cap: None,
            })
            .collect(),
        ..crate::calc::scenarios::MatrixConfig::sample(1, scenarios, 11)
    };
    generate(&config).values
}

/// Pass 1 of SPEC §10 written out whole, as the Rockafellar–Uryasev program over every scenario and
/// solved once: the independent optimum the rounds must reach.
fn full_program_optimum(m: &Scenarios, model: &Model) -> f64 {
    let (b, s) = (m.buckets, m.count());
    let (t, u) = (b, |k: usize| b + 1 + k);
    let kappa = 1.0 / ((1.0 - model.cvar_confidence) * s as f64);
    let cvar: Vec<(usize, f64)> = std::iter::once((t, 1.0))
        .chain((0..s).map(|k| (u(k), kappa)))
        .collect();
    let means = m.column_means();
    let mut lp = lp::Lp::new(b + 1 + s);
    lp.equalities
        .push(((0..b).map(|j| (j, 1.0)).collect(), 1.0));
    for (j, &(lo, hi)) in model.bounds.iter().enumerate() {
        lp.inequalities.push((vec![(j, 1.0)], hi));
        lp.inequalities.push((vec![(j, -1.0)], -lo));
    }
    for k in 0..s {
        let mut row: Vec<(usize, f64)> = m
            .row(k)
            .iter()
            .enumerate()
            .map(|(j, v)| (j, -f64::from(*v)))
            .collect();
        row.extend([(t, -1.0), (u(k), -1.0)]);
        lp.inequalities.push((row, -1.0));
        lp.inequalities.push((vec![(u(k), -1.0)], 0.0));
    }
    if let Some(limit) = model.cvar_limit {
        lp.inequalities.push((cvar.clone(), limit));
    }
    if let Some(min) = model.min_expected_moic {
        lp.inequalities.push((
            means.iter().enumerate().map(|(j, m)| (j, -m)).collect(),
            -min,
        ));
    }
    let (sign, terms): (f64, Vec<(usize, f64)>) = match model.objective {
        Objective::MaximizeReturn => (
            -1.0,
            means.iter().enumerate().map(|(j, m)| (j, -m)).collect(),
        ),
        Objective::MinimizeRisk => (1.0, cvar),
        Objective::RiskAdjusted { risk_aversion } => (
            -1.0,
            means
                .iter()
                .enumerate()
                .map(|(j, m)| (j, -m))
                .chain(cvar.iter().map(|&(j, c)| (j, c * risk_aversion)))
                .collect(),
        ),
    };
    for (j, c) in &terms {
        lp.q[*j] += c;
    }
    let solved = lp.solve();
    assert!(solved.answered(), "the full program: {:?}", solved.status);
    sign * terms.iter().map(|&(j, c)| c * solved.x[j]).sum::<f64>()
}

#[test]
fn cuts_and_the_scenario_form_both_reach_the_full_programs_optimum() {
    let values = generated(1_500, 8);
    let m = Scenarios {
        buckets: 8,
        values: &values,
    };
    let bounded = |objective| Model {
        bounds: vec![(0.0, 0.35); 8],
        ..model(objective, 8)
    };
    // A CVaR limit halfway between the least CVaR and that of the unconstrained maximum return.
    let least = full_program_optimum(&m, &bounded(Objective::MinimizeRisk));
    let loosest = solve(&m, &bounded(Objective::MaximizeReturn))
        .unwrap()
        .metrics
        .cvar;
    let models = [
        Model {
            cvar_limit: Some((least + loosest) / 2.0),
            ..bounded(Objective::MaximizeReturn)
        },
        Model {
            min_expected_moic: Some(1.5),
            ..bounded(Objective::MinimizeRisk)
        },
        bounded(Objective::RiskAdjusted { risk_aversion: 0.7 }),
    ];
    for model in models {
        let expected = full_program_optimum(&m, &model);
        // 0 rounds: the scenario form at once; 10,000: cuts until they converge.
        for cut_rounds in [0, 10_000] {
            let s = solve_with(&m, &model, cut_rounds).unwrap();
            assert!(
                (s.pass1_optimum - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                "{:?} with {cut_rounds} cut rounds: {} against the full program's {expected}",
                model.objective,
                s.pass1_optimum
            );
            let (pass1, pass2) = (&s.pass1, &s.pass2);
            if cut_rounds == 0 {
                assert!(pass1.tail_scenarios >= 50 && pass1.cuts == 0, "{pass1:?}");
                assert!(pass2.tail_scenarios >= 50 && pass2.cuts == 0, "{pass2:?}");
            } else {
                assert!(pass1.cuts > 9 && pass1.tail_scenarios == 0, "{pass1:?}");
            }
            assert_certified(&m, &model, &s);
        }
    }
}

#[test]
fn at_any_confidence_both_forms_agree_with_the_full_program() {
    // A tail of half the scenarios, of a tenth, of a hundredth; the band and the deep tail differ.
    for (alpha, buckets) in [(0.5, 5), (0.9, 6), (0.99, 7)] {
        let values = generated(1_000, buckets);
        let m = Scenarios {
            buckets,
            values: &values,
        };
        let least = Model {
            cvar_confidence: alpha,
            bounds: vec![(0.0, 0.5); buckets],
            ..model(Objective::MinimizeRisk, buckets)
        };
        let expected = full_program_optimum(&m, &least);
        for cut_rounds in [0, 10_000] {
            let s = solve_with(&m, &least, cut_rounds).unwrap();
            assert!(
                (s.pass1_optimum - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                "α {alpha}, {cut_rounds} cut rounds: {} against {expected}",
                s.pass1_optimum
            );
            assert_certified(&m, &least, &s);
        }
    }
}
