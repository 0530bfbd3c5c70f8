#!/usr/bin/env python3
"""An analyst's script against Updog, with a client generated from the committed openapi.yaml:

    openapi-python-client generate --path openapi.yaml --meta none --output-path updog_client
    PYTHONPATH=. python3 examples/analyst.py --base http://127.0.0.1:8080 --key <admin key>

It builds a fund, records companies, rounds and lots, captures a snapshot and waits for its
calculation, then prints MOIC by company and the reserve ranking. Then it generates a scenario matrix,
forecasts the fund's net returns over it, prints P10 / P50 / P90 of net TVPI and draws the distribution
and the J-curve bands to a PNG (--png, default forecast.png) with matplotlib: an analyst looks at a
distribution. Every create carries an Idempotency-Key, so the script can be re-run after a network error
without doubling anything.
"""

import argparse
import datetime
import time
import uuid

import matplotlib

matplotlib.use("Agg")  # no display: the figure goes to a file
import matplotlib.pyplot as plt  # noqa: E402

from updog_client import AuthenticatedClient
from updog_client.api.companies import create_company
from updog_client.api.forecasts import create_forecast, get_forecast
from updog_client.api.matrices import create_scenario_matrix
from updog_client.api.funds import create_fund
from updog_client.api.investments import create_investment
from updog_client.api.lots import create_lot
from updog_client.api.metrics import get_fund_moic
from updog_client.api.reserves import get_reserve_rankings
from updog_client.api.snapshots import create_snapshot, get_snapshot
from updog_client.models import (CorrelationWeights, CreateCompany, CreateForecast, CreateFund, CreateInvestment,
                                 CreateLot, CreateScenarioMatrix, CreateSnapshot, Forecast, ForecastStatus, FundMoic,
                                 LotType, MatrixBucket, Problem, Rankings, Snapshot, SnapshotStatus, Stage)


def created(response, what):
    """The parsed body of a 2xx, or a clear failure naming the problem."""
    if isinstance(response, Problem) or response is None:
        raise SystemExit(f"{what} failed: {response}")
    return response


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--base", required=True)
    args.add_argument("--key", required=True)
    args.add_argument("--run", default=uuid.uuid4().hex[:8], help="a label that makes the keys of this run")
    args.add_argument("--png", default="forecast.png", help="where the forecast's figure is drawn")
    a = args.parse_args()
    client = AuthenticatedClient(base_url=a.base, token=a.key, raise_on_unexpected_status=True)
    key = lambda what: f"analyst-{a.run}-{what}"  # noqa: E731

    fund = created(create_fund.sync(client=client, idempotency_key=key("fund"), body=CreateFund(
        name=f"Analyst Fund {a.run}", size_cents=5_000_000_000, vintage_year=2024, reserve_ratio_bps=4000,
        management_fee_bps=200, carry_bps=2000, hurdle_bps=800)), "fund")
    companies = {}
    for name, stage, mark, exit_bps, probability in [
        ("Atlas Bio", Stage.SEED, 300, 60_000, "0.3"),
        ("Beacon Energy", Stage.SERIES_A, 900, 40_000, "0.4"),
        ("Cirrus Logistics", Stage.SERIES_B, 1_100, 25_000, "0.5"),
    ]:
        companies[name] = created(create_company.sync(fund.id, client=client, idempotency_key=key(name.replace(" ", "-")), body=CreateCompany(
            name=name, stage=stage, current_share_price_cents=mark, exit_moic_bps=exit_bps,
            exit_probability=probability, reserve_exit_moic_bps=exit_bps // 2,
            planned_reserves_cents=50_000_000, marked_at=datetime.datetime(2026, 9, 30, tzinfo=datetime.timezone.utc))), name)
    lots = [
        ("Atlas Bio", "Seed", datetime.date(2024, 3, 1), LotType.INITIAL, 100, "1000000"),
        ("Atlas Bio", "Series A", datetime.date(2025, 5, 1), LotType.FOLLOW_ON, 250, "200000"),
        ("Beacon Energy", "Series A", datetime.date(2024, 6, 1), LotType.INITIAL, 700, "300000"),
        ("Cirrus Logistics", "Series B", datetime.date(2024, 9, 1), LotType.INITIAL, 1_200, "150000"),
    ]
    for i, (name, round_name, on, lot_type, price, shares) in enumerate(lots):
        investment = created(create_investment.sync(fund.id, client=client, idempotency_key=key(f"inv-{i}"), body=CreateInvestment(
            company_id=companies[name].id, round_name=round_name, invested_on=on)), f"investment {i}")
        created(create_lot.sync(fund.id, investment.id, client=client, idempotency_key=key(f"lot-{i}"), body=CreateLot(
            lot_type=lot_type, share_price_cents=price, shares_acquired=shares, acquired_on=on)), f"lot {i}")

    snapshot = created(create_snapshot.sync(fund.id, client=client, idempotency_key=key("snapshot"),
                                            body=CreateSnapshot(name="Q3 review")), "snapshot")
    for _ in range(100):
        snapshot = created(get_snapshot.sync(snapshot.id, client=client), "snapshot read")
        if snapshot.status in (SnapshotStatus.COMPLETE, SnapshotStatus.ERROR):
            break
        time.sleep(0.1)
    assert isinstance(snapshot, Snapshot)
    print(f"snapshot {snapshot.id}: {snapshot.status.value}")

    moic = created(get_fund_moic.sync(fund.id, client=client), "MOIC")
    assert isinstance(moic, FundMoic)
    print(f"fund {fund.id}: invested {moic.fund.invested_cents / 100:,.2f}, gross MOIC {moic.fund.gross_moic}")
    print("MOIC by company:")
    for c in sorted(moic.companies, key=lambda c: c.name):
        print(f"  {c.name:<18} invested {c.invested_cents / 100:>14,.2f}  current MOIC {c.current_moic}")
    rankings = created(get_reserve_rankings.sync(fund.id, client=client), "rankings")
    assert isinstance(rankings, Rankings)
    print("reserve ranking:")
    for r in rankings.data:
        print(f"  {r.rank}. {r.name:<18} score {r.allocation_score}")
    forecast_and_draw(client, fund.id, key, a.png)


def forecast_and_draw(client, fund_id, key, png):
    """A 5,000-scenario matrix of the fund's three stages, a forecast over it, its figures and a PNG."""
    buckets = [("seed", "30", "1.3", "5"), ("series_a", "40", "1.6", "4"), ("series_b", "30", "1.8", "3.5")]
    matrix = created(create_scenario_matrix.sync(fund_id, client=client, body=CreateScenarioMatrix(
        taxonomy_version="analyst", num_scenarios=5_000, seed=16,
        buckets=[MatrixBucket(name=n, capital_allocation_pct=c, moic_median=m, moic_p90=p) for n, c, m, p in buckets],
        correlation_weights=CorrelationWeights(macro="0.3", systematic="0.3", idiosyncratic="0.4"))), "matrix")
    forecast = created(create_forecast.sync(fund_id, client=client, idempotency_key=key("forecast"), body=CreateForecast(
        matrix_key=matrix.matrix_key, as_of=datetime.date(2026, 9, 30))), "forecast")
    for _ in range(300):
        forecast = created(get_forecast.sync(forecast.id, client=client), "forecast read")
        if forecast.status in (ForecastStatus.COMPLETE, ForecastStatus.ERROR):
            break
        time.sleep(0.1)
    assert isinstance(forecast, Forecast)
    print(f"forecast {forecast.id}: {forecast.status.value}")
    r = forecast.results
    tvpi = r.net_tvpi
    print(f"net TVPI over {r.scenarios} scenarios: P10 {tvpi.p10}  P50 {tvpi.p50}  P90 {tvpi.p90}")
    print(f"net IRR P50 {r.net_irr.p50}; P(net TVPI < 1) {r.probabilities.net_tvpi_below_1}")

    edges = [float(e) for e in r.histogram.edges]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.stairs(r.histogram.counts, edges, fill=True)
    left.set(title="Net TVPI across scenarios", xlabel="net TVPI (final DPI)", ylabel="scenarios")
    for label, value in (("P10", tvpi.p10), ("P50", tvpi.p50), ("P90", tvpi.p90)):
        left.axvline(float(value), linestyle="--", linewidth=1)
        left.annotate(label, (float(value), max(r.histogram.counts)), rotation=90, va="top")
    years = [p.date.year for p in r.j_curve]
    right.fill_between(years, [float(p.p10) for p in r.j_curve], [float(p.p90) for p in r.j_curve], alpha=0.3,
                       label="P10–P90")
    right.plot(years, [float(p.p50) for p in r.j_curve], label="P50")
    right.axhline(0, color="black", linewidth=0.5)
    right.set(title="J-curve: (distributions − calls) ÷ commitments", xlabel="year end")
    right.legend()
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    print(f"figure written to {png}")


if __name__ == "__main__":
    main()
