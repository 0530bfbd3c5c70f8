#!/usr/bin/env python3
"""An analyst's script against Updog, with a client generated from the committed openapi.yaml:

    openapi-python-client generate --path openapi.yaml --meta none --output-path updog_client
    PYTHONPATH=. python3 examples/analyst.py --base http://127.0.0.1:8080 --key <admin key>

It builds a fund, records companies, rounds and lots, captures a snapshot and waits for its
calculation, then prints MOIC by company and the reserve ranking. Every create carries an
Idempotency-Key, so the script can be re-run after a network error without doubling anything.
"""

import argparse
import datetime
import time
import uuid

from updog_client import AuthenticatedClient
from updog_client.api.companies import create_company
from updog_client.api.funds import create_fund
from updog_client.api.investments import create_investment
from updog_client.api.lots import create_lot
from updog_client.api.metrics import get_fund_moic
from updog_client.api.reserves import get_reserve_rankings
from updog_client.api.snapshots import create_snapshot, get_snapshot
from updog_client.models import (CreateCompany, CreateFund, CreateInvestment, CreateLot, CreateSnapshot,
                                 FundMoic, LotType, Problem, Rankings, Snapshot, SnapshotStatus, Stage)


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
    a = args.parse_args()
    client = AuthenticatedClient(base_url=a.base, token=a.key, raise_on_unexpected_status=True)
    key = lambda what: f"analyst-{a.run}-{what}"  # noqa: E731

    fund = created(create_fund.sync(client=client, idempotency_key=key("fund"), body=CreateFund(
        name=f"Analyst Fund {a.run}", size_cents=5_000_000_000, vintage_year=2024, reserve_ratio_bps=4000)), "fund")
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


if __name__ == "__main__":
    main()
