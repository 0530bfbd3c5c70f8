//! Optimization of an S × B scenario matrix (default 10,000 × 10; `optimization_bench S B [α]`), both
//! passes, for each objective, with the solver's iteration counts and the process's peak RSS. SPEC §16:
//! under 2 s for 10,000 × 10; issue #27: ≤ 0.5 s there, and ≤ 10 s and ≤ 500 MB for 100,000 × 10.
//! Run with `bench/optimization.sh`.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use service::matrices::{Bucket, MatrixConfig, generate};
use service::optimizations::model::{Metrics, Model, Objective, Scenarios, solve};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count = |i: usize, default| args.get(i).map_or(default, |a| a.parse().expect("a count"));
    let scenarios = count(0, 10_000);
    let buckets = count(1, 10);
    let alpha: f64 = args
        .get(2)
        .map_or(0.95, |a| a.parse().expect("a confidence"));
    let config = MatrixConfig {
        buckets: (0..buckets)
            .map(|i| Bucket {
                name: format!("bucket_{i:02}"),
                capital_allocation_pct: 100.0 / buckets as f64,
                // Ten shapes, repeated when there are more buckets.
                moic_median: 0.8 + (i % 10) as f64 * 0.15 + (i / 10) as f64 * 0.01,
                moic_p90: 2.5 + (i % 10) as f64 * 0.6,
                moic_cap: None,
            })
            .collect(),
        ..MatrixConfig::sample(1, scenarios as u32, 2026)
    };
    let values = generate(&config).values;
    let m = Scenarios {
        buckets,
        values: &values,
    };
    let base = Model {
        objective: Objective::MaximizeReturn,
        // At most 0.4 per bucket; with more than ten buckets, four uniform shares (0.08 of 50).
        bounds: vec![
            (
                0.0,
                0.4f64.min(4.0 / buckets as f64).max(1.0 / buckets as f64)
            );
            buckets
        ],
        cvar_confidence: alpha,
        cvar_limit: None,
        min_expected_moic: None,
        epsilon: None,
    };
    println!(
        "{scenarios} x {buckets} matrix, alpha {alpha}, both passes, bounds [0, {:.2}] per bucket",
        base.bounds[0].1
    );
    // The limits are placed between the matrix's own extremes, so that they bind whatever the
    // generator's version: halfway between the least CVaR and the CVaR of the unconstrained optimum,
    // and halfway between their expected multiples. The extremes are cases too.
    let least_risk = run(
        &m,
        "minimize_risk, unconstrained".into(),
        &Model {
            objective: Objective::MinimizeRisk,
            ..base.clone()
        },
    )
    .expect("the least-risk portfolio");
    let most_return =
        run(&m, "maximize_return, unconstrained".into(), &base).expect("the unconstrained optimum");
    let cvar_limit = (least_risk.cvar + most_return.cvar) / 2.0;
    let min_moic = (least_risk.expected_moic + most_return.expected_moic) / 2.0;
    let cases = [
        (
            format!("maximize_return, CVaR <= {cvar_limit:.4} (binding)"),
            Model {
                cvar_limit: Some(cvar_limit),
                ..base.clone()
            },
        ),
        (
            format!("minimize_risk, E >= {min_moic:.4}"),
            Model {
                objective: Objective::MinimizeRisk,
                min_expected_moic: Some(min_moic),
                ..base.clone()
            },
        ),
        (
            "risk_adjusted, lambda = 0.5".to_owned(),
            Model {
                objective: Objective::RiskAdjusted { risk_aversion: 0.5 },
                ..base.clone()
            },
        ),
    ];
    for (name, model) in cases {
        run(&m, name, &model);
    }
    println!("{}", support::rss::peak_rss());
}

/// Solves and times one case, and prints it.
fn run(m: &Scenarios, name: String, model: &Model) -> Option<Metrics> {
    let started = Instant::now();
    let s = match solve(m, model) {
        Ok(s) => s,
        Err(e) => {
            println!(
                "{name}: FAILED after {:.0} ms: {e}",
                started.elapsed().as_secs_f64() * 1e3
            );
            return None;
        }
    };
    let took = started.elapsed();
    println!(
        "{name}: {:.0} ms; pass 1 {} iterations, {} cuts, {} tail scenarios, {:.0} ms in the solver ({}); pass 2 {} iterations, {} cuts, {} tail scenarios, {:.0} ms in the solver ({}); E {:.4}, CVaR {:.4}, max violation {:.1e}, gap {:.1e}",
        took.as_secs_f64() * 1e3,
        s.pass1.iterations,
        s.pass1.cuts,
        s.pass1.tail_scenarios,
        s.pass1.solve_time_ms,
        s.pass1.status,
        s.pass2.iterations,
        s.pass2.cuts,
        s.pass2.tail_scenarios,
        s.pass2.solve_time_ms,
        s.pass2.status,
        s.metrics.expected_moic,
        s.metrics.cvar,
        s.metrics.max_violation,
        s.pass2.duality_gap,
    );
    Some(s.metrics)
}
