//! What a company's position can hold (SPEC §6.1a): shares are bought by lots and sold by
//! distributions, and no sequence of them may sell what is not held. Pure: the resource modules load a
//! company's lots and distributions, ask [`first_breach`] about the sequence they are about to write,
//! and refuse the write when it answers.
//!
//! The rules, in the order a sequence is walked (distributions by date, then id — a new distribution is
//! last on its date, since its id is drawn after every existing one):
//! - a distribution of any kind needs a lot acquired on or before its date;
//! - a sale's `shares_sold` may not exceed the shares held on its date: the lots acquired on or before
//!   it, less what the earlier distributions sold;
//! - an `exit` sells every share held on its date, whatever else the sequence holds (so a lot entered
//!   later with an earlier date is sold by the exit too, and deleting a sale before an exit changes what
//!   the exit sold, not whether the sequence is possible).
//!
//! Deleting a distribution can only leave more shares held afterwards, so only deleting a lot can break
//! a later sale: the caller asks about the sequence without that lot.

use chrono::NaiveDate;
use entity::distribution::DistributionKind;
use rust_decimal::Decimal;

use super::money::{share_units, shares_decimal};

/// A purchase: shares acquired on a date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bought {
    pub on: NaiveDate,
    pub shares: Decimal,
}

/// A distribution: its order key (date, then id), its kind and the shares it sold (none for proceeds
/// without a sale). `id` is `None` for the distribution being created: last on its date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sold {
    pub id: Option<i64>,
    pub on: NaiveDate,
    pub kind: DistributionKind,
    pub shares_sold: Option<Decimal>,
}

/// Why a sequence cannot be held, naming the distribution that breaks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Breach {
    /// A distribution dated before the company's first lot (`first_lot_on` is `None` without lots).
    BeforeFirstLot {
        id: Option<i64>,
        on: NaiveDate,
        first_lot_on: Option<NaiveDate>,
    },
    /// A sale of more shares than were held on its date.
    Oversold {
        id: Option<i64>,
        on: NaiveDate,
        shares_sold: Decimal,
        shares_held_on_date: Decimal,
    },
}

/// The first distribution, in (date, id) order, that the lots cannot support; `None` when the whole
/// sequence can be held.
pub fn first_breach(lots: &[Bought], sales: &[Sold]) -> Option<Breach> {
    walk(lots, sales, |_, _| None::<()>).err()
}

/// The shares held on `sale`'s date just before it, when it is placed in the sequence (an exit sells
/// exactly these). The sequence before it must be possible (no breach).
pub fn held_before(lots: &[Bought], sales: &[Sold], sale: &Sold) -> Decimal {
    let mut all: Vec<Sold> = sales.to_vec();
    all.push(*sale);
    let found = walk(lots, &all, |s, held| (s == sale).then_some(held));
    match found {
        Ok(Some(held)) => held,
        // The sale itself breaches (before the first lot, or oversold): whatever it found held.
        Ok(None) | Err(_) => Decimal::ZERO,
    }
}

/// Walks the sequence in order, calling `at(sale, held)` before each sale until it answers; stops at the
/// first breach.
fn walk<T>(
    lots: &[Bought],
    sales: &[Sold],
    mut at: impl FnMut(&Sold, Decimal) -> Option<T>,
) -> Result<Option<T>, Breach> {
    let mut lots: Vec<(NaiveDate, i128)> =
        lots.iter().map(|l| (l.on, share_units(l.shares))).collect();
    lots.sort_unstable();
    let mut order: Vec<&Sold> = sales.iter().collect();
    // A new distribution (no id yet) is last on its date.
    order.sort_by_key(|s| (s.on, s.id.unwrap_or(i64::MAX)));

    let first_lot_on = lots.first().map(|(on, _)| *on);
    let mut next_lot = 0;
    let mut bought: i128 = 0;
    let mut sold: i128 = 0;
    for sale in order {
        while next_lot < lots.len() && lots[next_lot].0 <= sale.on {
            bought += lots[next_lot].1;
            next_lot += 1;
        }
        if first_lot_on.is_none_or(|first| sale.on < first) {
            return Err(Breach::BeforeFirstLot {
                id: sale.id,
                on: sale.on,
                first_lot_on,
            });
        }
        let held = bought - sold;
        if let Some(found) = at(sale, shares_decimal(held)) {
            return Ok(Some(found));
        }
        if sale.kind == DistributionKind::Exit {
            sold += held;
            continue;
        }
        let selling = sale.shares_sold.map_or(0, share_units);
        if selling > held {
            return Err(Breach::Oversold {
                id: sale.id,
                on: sale.on,
                shares_sold: shares_decimal(selling),
                shares_held_on_date: shares_decimal(held),
            });
        }
        sold += selling;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + chrono::Days::new(d.into())
    }

    fn lot(d: u32, shares: Decimal) -> Bought {
        Bought { on: day(d), shares }
    }

    fn sale(id: i64, d: u32, shares: Decimal) -> Sold {
        Sold {
            id: Some(id),
            on: day(d),
            kind: DistributionKind::PartialSale,
            shares_sold: Some(shares),
        }
    }

    #[test]
    fn a_sale_of_the_shares_held_on_its_date_is_possible() {
        let lots = [lot(0, d(900000)), lot(10, d(100000))];
        assert_eq!(first_breach(&lots, &[sale(1, 5, d(900000))]), None);
    }

    #[test]
    fn a_sale_of_more_than_is_held_names_the_shares_held_on_its_date() {
        let lots = [lot(0, d(900000)), lot(10, d(100000))];
        // The later lot does not count: it was bought after the sale.
        assert_eq!(
            first_breach(&lots, &[sale(1, 5, d(10000000))]),
            Some(Breach::Oversold {
                id: Some(1),
                on: day(5),
                shares_sold: d(10000000),
                shares_held_on_date: d(900000),
            })
        );
    }

    #[test]
    fn earlier_sales_reduce_what_a_later_sale_may_sell() {
        let lots = [lot(0, d(100))];
        let breach = first_breach(&lots, &[sale(2, 9, d(60)), sale(1, 3, d(50))]);
        assert_eq!(
            breach,
            Some(Breach::Oversold {
                id: Some(2),
                on: day(9),
                shares_sold: d(60),
                shares_held_on_date: d(50),
            })
        );
    }

    #[test]
    fn a_distribution_before_the_first_lot_is_refused_whatever_its_kind() {
        let lots = [lot(800, d(10))];
        let dividend = Sold {
            id: None,
            on: day(0),
            kind: DistributionKind::Dividend,
            shares_sold: None,
        };
        assert_eq!(
            first_breach(&lots, &[dividend]),
            Some(Breach::BeforeFirstLot {
                id: None,
                on: day(0),
                first_lot_on: Some(day(800)),
            })
        );
        assert_eq!(
            first_breach(&[], &[dividend]),
            Some(Breach::BeforeFirstLot {
                id: None,
                on: day(0),
                first_lot_on: None,
            })
        );
    }

    #[test]
    fn an_exit_sells_everything_held_on_its_date_and_a_sale_after_it_has_nothing_to_sell() {
        let lots = [lot(0, d(100)), lot(5, d(20))];
        let exit = Sold {
            id: Some(1),
            on: day(7),
            kind: DistributionKind::Exit,
            shares_sold: Some(d(120)),
        };
        assert_eq!(held_before(&lots, &[sale(3, 6, d(20))], &exit), d(100));
        assert_eq!(
            first_breach(&lots, &[exit, sale(2, 8, d(1))]),
            Some(Breach::Oversold {
                id: Some(2),
                on: day(8),
                shares_sold: d(1),
                shares_held_on_date: d(0),
            })
        );
    }

    #[test]
    fn a_new_distribution_is_last_on_its_date() {
        let lots = [lot(0, d(100))];
        let new = Sold {
            id: None,
            on: day(4),
            kind: DistributionKind::PartialSale,
            shares_sold: Some(d(1)),
        };
        assert_eq!(held_before(&lots, &[sale(9, 4, d(30))], &new), d(70));
    }

    /// One step of a random history: buy, sell (any quantity) or delete an earlier lot.
    #[derive(Clone, Debug)]
    enum Step {
        Buy { day: u32, shares: i64 },
        Sell { day: u32, shares: i64, exit: bool },
        DeleteLot { index: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u32..60, 1i64..1_000).prop_map(|(day, shares)| Step::Buy { day, shares }),
            (0u32..60, 1i64..1_500, prop::bool::weighted(0.15))
                .prop_map(|(day, shares, exit)| Step::Sell { day, shares, exit }),
            (0usize..8).prop_map(|index| Step::DeleteLot { index }),
        ]
    }

    /// The shares held on every date of a sequence, from scratch: a different walk (day by day) from
    /// the one under test.
    fn held_by_day(lots: &[Bought], sales: &[Sold]) -> Vec<i128> {
        (0..=60u32)
            .map(|d| {
                let on = day(d);
                let bought: i128 = lots
                    .iter()
                    .filter(|l| l.on <= on)
                    .map(|l| share_units(l.shares))
                    .sum();
                let mut order: Vec<&Sold> = sales.iter().filter(|s| s.on <= on).collect();
                order.sort_by_key(|s| (s.on, s.id));
                let mut sold = 0;
                for s in order {
                    let bought_then: i128 = lots
                        .iter()
                        .filter(|l| l.on <= s.on)
                        .map(|l| share_units(l.shares))
                        .sum();
                    sold += match s.kind {
                        DistributionKind::Exit => bought_then - sold,
                        _ => s.shares_sold.map_or(0, share_units),
                    };
                }
                bought - sold
            })
            .collect()
    }

    proptest! {
        /// Whatever a user tries, each step is refused or leaves a sequence in which no date holds a
        /// negative number of shares and every distribution follows the first lot.
        #[test]
        fn a_refused_or_accepted_step_never_leaves_negative_shares(steps in prop::collection::vec(step(), 1..40)) {
            let mut lots: Vec<Bought> = Vec::new();
            let mut sales: Vec<Sold> = Vec::new();
            let mut next_id = 1;
            for s in steps {
                match s {
                    Step::Buy { day: d, shares } => lots.push(lot(d, Decimal::from(shares))),
                    Step::Sell { day: d, shares, exit } => {
                        let mut new = Sold {
                            id: None,
                            on: day(d),
                            kind: if exit { DistributionKind::Exit } else { DistributionKind::PartialSale },
                            shares_sold: Some(Decimal::from(shares)),
                        };
                        if exit {
                            new.shares_sold = Some(held_before(&lots, &sales, &new));
                        }
                        let mut after = sales.clone();
                        after.push(new);
                        if first_breach(&lots, &after).is_none() {
                            new.id = Some(next_id);
                            next_id += 1;
                            sales.push(new);
                        }
                    }
                    Step::DeleteLot { index } => {
                        if index < lots.len() {
                            let mut after = lots.clone();
                            after.remove(index);
                            if first_breach(&after, &sales).is_none() {
                                lots = after;
                            }
                        }
                    }
                }
                prop_assert_eq!(first_breach(&lots, &sales), None);
                let held = held_by_day(&lots, &sales);
                prop_assert!(held.iter().all(|h| *h >= 0), "held by day: {:?}", held);
                let first = lots.iter().map(|l| l.on).min();
                prop_assert!(sales.iter().all(|s| first.is_some_and(|f| f <= s.on)));
            }
        }
    }
}
